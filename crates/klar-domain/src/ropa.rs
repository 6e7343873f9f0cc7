//! The record of processing activities (Art. 30(1) GDPR, LAW.md B.6), generated from the
//! live configuration: the installation settings, the purpose registry, the custom field
//! definitions, the staff roles and the measures really in force. Nothing here is typed in
//! twice, so the record cannot drift from what Klar does.

use crate::installation::{Installation, Party};
use crate::policy::{Channel, LegalBasis, Purpose};
use crate::role::{Permission, Role};
use jiff::Timestamp;
use serde::Serialize;

/// A text in German and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    pub de: String,
    pub en: String,
}

impl Text {
    pub fn new(de: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            de: de.into(),
            en: en.into(),
        }
    }
}

/// How mail leaves the installation (for the measures and the recipients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailRoute {
    /// No mail server configured: Klar sends no mail.
    None,
    /// Plain SMTP to a relay on the same machine.
    LocalRelay,
    /// SMTP with TLS (implicit or STARTTLS) to a mail server.
    Tls,
}

impl MailRoute {
    /// The route a `KLAR_SMTP_URL` describes: `smtps://…` and `…?tls=starttls` are TLS,
    /// plain `smtp://` goes to a relay on the same machine (Klar refuses it elsewhere).
    pub fn of_url(url: Option<&str>) -> Self {
        match url.map(str::trim) {
            None | Some("") => Self::None,
            Some(u) if u.starts_with("smtps://") || u.contains("tls=starttls") => Self::Tls,
            Some(_) => Self::LocalRelay,
        }
    }
}

/// Facts about the running installation that the record reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub generated_at: Timestamp,
    pub consumers: u64,
    pub business_contacts: u64,
    /// Active staff accounts per role.
    pub staff: Vec<(Role, u64)>,
    /// Labels of custom fields on persons.
    pub person_custom_fields: Vec<String>,
    pub mail: MailRoute,
    pub audit_entries: u64,
    pub audit_since: Option<Timestamp>,
    /// Days an email grant waits for its confirmation.
    pub doi_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub purpose: String,
    pub version: u32,
    pub name: Text,
    pub description: Text,
    pub legal_basis: String,
    pub legal_basis_article: String,
    pub direct_marketing: bool,
    pub channels: Vec<String>,
    /// Art. 30(1)(c): categories of data subjects.
    pub data_subjects: Vec<Text>,
    /// Art. 30(1)(c): categories of personal data.
    pub data_categories: Vec<Text>,
    /// Art. 30(1)(d).
    pub recipients: Vec<Text>,
    /// Art. 30(1)(e).
    pub third_country_transfers: Vec<Text>,
    /// Art. 30(1)(f).
    pub retention_class: String,
    pub retention: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measure {
    pub title: Text,
    pub detail: Text,
}

/// The record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ropa {
    pub generated_at: String,
    pub controller: Party,
    pub representative: Option<Party>,
    pub dpo: Option<Party>,
    /// Settings still missing for a complete record (`controller.name`, `dpo`, …).
    pub missing: Vec<String>,
    pub activities: Vec<Activity>,
    /// Purposes switched off: kept for the history, no processing.
    pub inactive_purposes: Vec<String>,
    /// Art. 30(1)(g), Art. 32.
    pub measures: Vec<Measure>,
    pub measures_text: String,
}

/// Plain-language label of a data category key.
pub fn category_label(key: &str) -> Text {
    match key {
        "contact" => Text::new(
            "Kontaktdaten (Name, E-Mail-Adressen, Telefonnummern)",
            "Contact data (name, email addresses, phone numbers)",
        ),
        "postal_address" => Text::new("Postanschrift", "Postal address"),
        "interaction" => Text::new(
            "Interaktionen (Notizen, Anrufe, Termine, E-Mails)",
            "Interactions (notes, calls, meetings, emails)",
        ),
        "contract" => Text::new(
            "Vertrags- und Auftragsdaten (Angebote, Aufträge, Deals)",
            "Contract and order data (quotes, orders, deals)",
        ),
        "billing" => Text::new("Rechnungs- und Zahlungsdaten", "Invoicing and payment data"),
        other => Text::new(
            format!("Weitere Kategorie „{other}“"),
            format!("Further category \"{other}\""),
        ),
    }
}

/// Plain-language envisaged time limit of a retention class (Art. 30(1)(f); LAW.md B.5).
pub fn retention_text(class: &str) -> Text {
    match class {
        "contract" => Text::new(
            "Für die Dauer des Vertrags oder der Anfrage; danach nur noch gesetzlich aufzubewahrende Unterlagen \
             (Geschäftsbriefe 6 Jahre, Rechnungen und Buchungsbelege 8 Jahre, je ab Ende des Kalenderjahres).",
            "For the duration of the contract or request; afterwards only records that must be kept by law \
             (business letters 6 years, invoices and booking vouchers 8 years, each from the end of the calendar year).",
        ),
        "consent" => Text::new(
            "Bis zum Widerruf der Einwilligung; der Nachweis der Einwilligung wird danach aufbewahrt \
             (für Telefonwerbung 5 Jahre ab Erteilung und jeder Nutzung, § 7a UWG).",
            "Until consent is withdrawn; the proof of consent is kept afterwards \
             (for phone advertising 5 years from the grant and from each use, §7a UWG).",
        ),
        "marketing" => Text::new(
            "Bis zum Widerspruch oder bis zum Ende der Geschäftsbeziehung.",
            "Until the person objects or the business relationship ends.",
        ),
        "hgb_257" => Text::new(
            "6, 8 oder 10 Jahre ab Ende des Kalenderjahres (§ 257 HGB, § 147 AO, § 14b UStG); \
             in dieser Zeit nur für die Aufbewahrung gespeichert, nie für Kontakt genutzt.",
            "6, 8 or 10 years from the end of the calendar year (§257 HGB, §147 AO, §14b UStG); \
             during that time stored only for retention, never used for contact.",
        ),
        other => Text::new(
            format!("Nach der in dieser Installation festgelegten Aufbewahrungsklasse „{other}“."),
            format!("According to the retention class \"{other}\" defined in this installation."),
        ),
    }
}

fn role_label(r: Role) -> Text {
    match r {
        Role::Admin => Text::new("Administration", "Administrators"),
        Role::PrivacyOfficer => Text::new("Datenschutz", "Privacy officers"),
        Role::Sales => Text::new("Vertrieb", "Sales"),
        Role::Marketing => Text::new("Marketing", "Marketing"),
        Role::Viewer => Text::new("Nur-Lese-Zugänge", "Read-only staff"),
    }
}

fn data_subjects(p: &Purpose, f: &Facts) -> Vec<Text> {
    let mut v = Vec::new();
    let customers = matches!(
        p.legal_basis,
        LegalBasis::Contract | LegalBasis::LegalObligation
    );
    if f.consumers > 0 || f.business_contacts == 0 {
        v.push(if customers {
            Text::new(
                "Kundinnen und Kunden (Verbraucher)",
                "Customers (consumers)",
            )
        } else {
            Text::new(
                "Kundinnen, Kunden und Interessenten (Verbraucher)",
                "Customers and prospects (consumers)",
            )
        });
    }
    if f.business_contacts > 0 || f.consumers == 0 {
        v.push(Text::new(
            "Ansprechpartner bei Geschäftskunden und Interessenten",
            "Contact persons at business customers and prospects",
        ));
    }
    v
}

fn recipients(p: &Purpose, f: &Facts) -> Vec<Text> {
    let mut v: Vec<Text> = f
        .staff
        .iter()
        .filter(|(r, n)| *n > 0 && r.allows(Permission::ReadCrm))
        .map(|(r, n)| {
            let l = role_label(*r);
            Text::new(
                format!("Intern: {} ({n} Konten)", l.de),
                format!("Internal: {} ({n} accounts)", l.en),
            )
        })
        .collect();
    if p.channels.contains(&Channel::Email) {
        match f.mail {
            MailRoute::None => {}
            MailRoute::LocalRelay => v.push(Text::new(
                "Mail-Relay auf dem eigenen Server (Zustellung der E-Mails)",
                "Mail relay on the installation's own server (email delivery)",
            )),
            MailRoute::Tls => v.push(Text::new(
                "Betreiber des Mailservers (Zustellung der E-Mails, TLS-verschlüsselt)",
                "Operator of the mail server (email delivery, TLS-encrypted)",
            )),
        }
    }
    v
}

fn measures(f: &Facts) -> Vec<Measure> {
    let m = |tde: &str, ten: &str, dde: String, den: String| Measure {
        title: Text::new(tde, ten),
        detail: Text::new(dde, den),
    };
    let mut v = vec![
        m(
            "Verschlüsselung personenbezogener Felder",
            "Encryption of personal fields",
            "Jede Person hat einen eigenen Schlüssel (XChaCha20-Poly1305); Suchen laufen über verschlüsselte \
             Blind-Indizes. Beim Löschen wird der Schlüssel vernichtet."
                .into(),
            "Each person has her own key (XChaCha20-Poly1305); lookups use keyed blind indexes. Erasure \
             destroys the key."
                .into(),
        ),
        m(
            "Zugriffskontrolle nach Rollen",
            "Role-based access control",
            "Persönliche Konten mit genau einer Rolle; die Administration hat keinen Zugriff auf Kundendaten. \
             Passwörter mit Argon2id, mindestens 12 Zeichen und keines der häufigsten Passwörter; \
             Zwei-Faktor-Anmeldung (TOTP) für Administration und Datenschutz verpflichtend; wachsende \
             Wartezeiten nach Fehlversuchen; Sitzungen enden nach Inaktivität und nach einer Höchstdauer."
                .into(),
            "Personal accounts with exactly one role; administrators cannot read customer data. Passwords \
             hashed with Argon2id, at least 12 characters and none of the most common passwords; \
             two-factor login (TOTP) mandatory for administrators and privacy officers; growing waits \
             after failed logins; sessions end when idle and after a maximum duration."
                .into(),
        ),
        m(
            "Datenschutzfreundliche Voreinstellungen",
            "Privacy by default",
            format!(
                "Jeder optionale Zweck ist aus, bis die Person einwilligt; E-Mail-Einwilligungen gelten erst nach \
                 Bestätigung (Double-Opt-in, {} Tage gültig). Jede Nutzung wird von einer Regelprüfung freigegeben.",
                f.doi_days
            ),
            format!(
                "Every optional purpose is off until the person consents; email consent counts only once \
                 confirmed (double opt-in, valid {} days). Every use is cleared by the policy gate.",
                f.doi_days
            ),
        ),
        m(
            "Protokollierung",
            "Audit trail",
            match f.audit_since {
                Some(t) => format!(
                    "Jeder Lesezugriff, jede Änderung, jede Entscheidung und jede Anmeldung wird ohne Klartextdaten \
                     protokolliert ({} Einträge seit {}).",
                    f.audit_entries,
                    t.strftime("%d.%m.%Y")
                ),
                None => "Jeder Lesezugriff, jede Änderung, jede Entscheidung und jede Anmeldung wird ohne \
                         Klartextdaten protokolliert."
                    .into(),
            },
            match f.audit_since {
                Some(t) => format!(
                    "Every read, change, decision and login is recorded without plaintext data ({} entries \
                     since {}).",
                    f.audit_entries,
                    t.strftime("%Y-%m-%d")
                ),
                None => "Every read, change, decision and login is recorded without plaintext data.".into(),
            },
        ),
    ];
    v.push(match f.mail {
        MailRoute::None => m(
            "E-Mail-Versand",
            "Email delivery",
            "Kein Mailserver eingerichtet; Klar versendet keine E-Mails.".into(),
            "No mail server configured; Klar sends no email.".into(),
        ),
        MailRoute::LocalRelay => m(
            "E-Mail-Versand",
            "Email delivery",
            "Über ein Mail-Relay auf demselben Rechner (Loopback).".into(),
            "Through a mail relay on the same machine (loopback).".into(),
        ),
        MailRoute::Tls => m(
            "E-Mail-Versand",
            "Email delivery",
            "TLS-verschlüsselt zum Mailserver.".into(),
            "TLS-encrypted to the mail server.".into(),
        ),
    });
    v
}

/// Builds the record from the live configuration.
pub fn build(inst: &Installation, purposes: &[Purpose], f: &Facts) -> Ropa {
    let activities = purposes
        .iter()
        .filter(|p| p.active)
        .map(|p| {
            let mut cats: Vec<Text> = p
                .data_categories
                .iter()
                .map(|c| category_label(c))
                .collect();
            if p.data_categories.iter().any(|c| c == "contact")
                && !f.person_custom_fields.is_empty()
            {
                let list = f.person_custom_fields.join(", ");
                cats.push(Text::new(
                    format!("Zusatzfelder: {list}"),
                    format!("Custom fields: {list}"),
                ));
            }
            Activity {
                purpose: p.key.clone(),
                version: p.version,
                name: Text::new(&p.name_de, &p.name_en),
                description: Text::new(&p.description_de, &p.description_en),
                legal_basis: p.legal_basis.as_str().into(),
                legal_basis_article: p.legal_basis.article().into(),
                direct_marketing: p.direct_marketing,
                channels: p.channels.iter().map(|c| c.as_str().to_owned()).collect(),
                data_subjects: data_subjects(p, f),
                data_categories: cats,
                recipients: recipients(p, f),
                third_country_transfers: vec![Text::new(
                    "Keine: Klar läuft auf den eigenen Servern des Verantwortlichen.",
                    "None: Klar runs on the controller's own servers.",
                )],
                retention_class: p.retention.clone(),
                retention: retention_text(&p.retention),
            }
        })
        .collect();
    Ropa {
        generated_at: f.generated_at.to_string(),
        controller: inst.controller.clone(),
        representative: (!inst.representative.is_empty()).then(|| inst.representative.clone()),
        dpo: (!inst.dpo.is_empty()).then(|| inst.dpo.clone()),
        missing: inst.gaps().into_iter().map(str::to_owned).collect(),
        activities,
        inactive_purposes: purposes
            .iter()
            .filter(|p| !p.active)
            .map(|p| p.key.clone())
            .collect(),
        measures: measures(f),
        measures_text: inst.measures_text.clone(),
    }
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn md_party(out: &mut String, title: &str, p: &Party) {
    out.push_str(&format!("**{title}:** {}", md_escape(&p.name)));
    for line in p.address.lines().filter(|l| !l.trim().is_empty()) {
        out.push_str(&format!(", {}", md_escape(line.trim())));
    }
    if !p.email.is_empty() {
        out.push_str(&format!(", {}", md_escape(&p.email)));
    }
    if !p.phone.is_empty() {
        out.push_str(&format!(", {}", md_escape(&p.phone)));
    }
    out.push_str("\n\n");
}

impl Ropa {
    /// The record as a Markdown document in German (the language of the German
    /// supervisory authorities), with the English purpose names beside the German ones.
    pub fn to_markdown(&self) -> String {
        let mut o = String::new();
        o.push_str("# Verzeichnis von Verarbeitungstätigkeiten (Art. 30 Abs. 1 DSGVO)\n\n");
        o.push_str(&format!(
            "Erstellt aus der laufenden Konfiguration: {}\n\n",
            self.generated_at
        ));
        if !self.missing.is_empty() {
            o.push_str(&format!(
                "> Unvollständig: in den Einstellungen fehlen {}.\n\n",
                self.missing.join(", ")
            ));
        }
        o.push_str("## Verantwortlicher (Art. 30 Abs. 1 lit. a)\n\n");
        md_party(&mut o, "Verantwortlicher", &self.controller);
        if let Some(r) = &self.representative {
            md_party(&mut o, "Vertreter (Art. 27)", r);
        }
        if let Some(d) = &self.dpo {
            md_party(&mut o, "Datenschutzbeauftragte(r)", d);
        }
        for a in &self.activities {
            o.push_str(&format!(
                "## {} ({}; Zweck `{}`, Version {})\n\n",
                md_escape(&a.name.de),
                md_escape(&a.name.en),
                a.purpose,
                a.version
            ));
            o.push_str(&format!("{}\n\n", md_escape(&a.description.de)));
            o.push_str("| Angabe | Inhalt |\n|---|---|\n");
            let join = |v: &[Text]| {
                v.iter()
                    .map(|t| md_escape(&t.de))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let row = |o: &mut String, k: &str, v: String| {
                o.push_str(&format!(
                    "| {k} | {} |\n",
                    if v.is_empty() { "–".into() } else { v }
                ));
            };
            row(&mut o, "Rechtsgrundlage", a.legal_basis_article.clone());
            row(
                &mut o,
                "Direktwerbung",
                if a.direct_marketing { "ja" } else { "nein" }.into(),
            );
            row(&mut o, "Kanäle", a.channels.join(", "));
            row(&mut o, "Betroffene (lit. c)", join(&a.data_subjects));
            row(&mut o, "Datenkategorien (lit. c)", join(&a.data_categories));
            row(&mut o, "Empfänger (lit. d)", join(&a.recipients));
            row(
                &mut o,
                "Drittlandübermittlung (lit. e)",
                join(&a.third_country_transfers),
            );
            row(&mut o, "Löschfristen (lit. f)", md_escape(&a.retention.de));
            o.push('\n');
        }
        if !self.inactive_purposes.is_empty() {
            o.push_str(&format!(
                "Abgeschaltete Zwecke (keine Verarbeitung): {}\n\n",
                self.inactive_purposes.join(", ")
            ));
        }
        o.push_str("## Technische und organisatorische Maßnahmen (lit. g, Art. 32)\n\n");
        for m in &self.measures {
            o.push_str(&format!(
                "- **{}**: {}\n",
                md_escape(&m.title.de),
                md_escape(&m.detail.de)
            ));
        }
        if !self.measures_text.trim().is_empty() {
            o.push_str(&format!("\n{}\n", md_escape(self.measures_text.trim())));
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::default_purposes;

    fn facts() -> Facts {
        Facts {
            generated_at: "2026-11-30T08:00:00Z".parse().unwrap(),
            consumers: 3,
            business_contacts: 2,
            staff: vec![(Role::Admin, 1), (Role::Sales, 4), (Role::Marketing, 0)],
            person_custom_fields: vec!["Geburtstag".into()],
            mail: MailRoute::Tls,
            audit_entries: 42,
            audit_since: Some("2026-11-01T00:00:00Z".parse().unwrap()),
            doi_days: 30,
        }
    }

    #[test]
    fn every_active_purpose_is_an_activity_with_its_basis_and_retention() {
        let mut purposes = default_purposes();
        purposes
            .iter_mut()
            .find(|p| p.key == "email_tracking")
            .unwrap()
            .active = false;
        let r = build(&Installation::default(), &purposes, &facts());
        let keys: Vec<_> = r.activities.iter().map(|a| a.purpose.as_str()).collect();
        assert!(keys.contains(&"newsletter") && keys.contains(&"contract"));
        assert!(!keys.contains(&"email_tracking"));
        assert_eq!(r.inactive_purposes, ["email_tracking"]);
        let nl = r
            .activities
            .iter()
            .find(|a| a.purpose == "newsletter")
            .unwrap();
        assert_eq!(nl.legal_basis_article, "Art. 6(1)(a) GDPR");
        assert!(nl.retention.de.contains("Widerruf"));
        // Sales reads customer data, the administrator does not, marketing has no accounts.
        assert_eq!(nl.recipients.len(), 2, "{:?}", nl.recipients);
        assert!(nl.recipients[0].de.contains("Vertrieb (4 Konten)"));
        assert!(nl.recipients[1].de.contains("Mailserver"));
        assert!(
            nl.data_categories
                .iter()
                .any(|c| c.de.contains("Geburtstag"))
        );
        assert_eq!(r.missing, Installation::default().gaps());
    }

    #[test]
    fn markdown_names_the_controller_and_escapes_what_it_is_given() {
        let mut inst = Installation::default();
        inst.controller.name = "Muster *GmbH* | Co".into();
        inst.dpo.name = "Dr. Datenschutz".into();
        let md = build(&inst, &default_purposes(), &facts()).to_markdown();
        assert!(md.contains("Muster \\*GmbH\\* \\| Co"));
        assert!(md.contains("Datenschutzbeauftragte(r):** Dr. Datenschutz"));
        assert!(md.contains("## Newsletter (Newsletter; Zweck `newsletter`, Version 1)"));
        assert!(md.contains("42 Einträge seit 01.11.2026"));
    }
}
