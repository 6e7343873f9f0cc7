//! Legal bases (Art. 6(1) GDPR), contact channels and processing purposes
//! (LAW.md B.1, tables 1a–1c; CONTRACT.md purpose keys).

use crate::error::ValueError;

/// The six legal bases of Art. 6(1) GDPR (LAW.md table 1a).
///
/// (d) vital interests and (e) public task exist so that stored values can be read,
/// but they are refused as the basis of a CRM purpose ([`LegalBasis::usable_for_purposes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// Art. 6(1)(a).
    Consent,
    /// Art. 6(1)(b).
    Contract,
    /// Art. 6(1)(c).
    LegalObligation,
    /// Art. 6(1)(d). Not a CRM basis.
    VitalInterests,
    /// Art. 6(1)(e). Not for private companies.
    PublicTask,
    /// Art. 6(1)(f).
    LegitimateInterest,
}

impl LegalBasis {
    pub const ALL: [Self; 6] = [
        Self::Consent,
        Self::Contract,
        Self::LegalObligation,
        Self::VitalInterests,
        Self::PublicTask,
        Self::LegitimateInterest,
    ];

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s.trim() {
            "consent" => Ok(Self::Consent),
            "contract" => Ok(Self::Contract),
            "legal_obligation" => Ok(Self::LegalObligation),
            "vital_interests" => Ok(Self::VitalInterests),
            "public_task" => Ok(Self::PublicTask),
            "legitimate_interest" => Ok(Self::LegitimateInterest),
            _ => Err(ValueError::new(
                "must be consent, contract, legal_obligation, vital_interests, public_task or legitimate_interest",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::Contract => "contract",
            Self::LegalObligation => "legal_obligation",
            Self::VitalInterests => "vital_interests",
            Self::PublicTask => "public_task",
            Self::LegitimateInterest => "legitimate_interest",
        }
    }

    /// The article that names this basis, for reasons and the record of processing.
    pub fn article(self) -> &'static str {
        match self {
            Self::Consent => "Art. 6(1)(a) GDPR",
            Self::Contract => "Art. 6(1)(b) GDPR",
            Self::LegalObligation => "Art. 6(1)(c) GDPR",
            Self::VitalInterests => "Art. 6(1)(d) GDPR",
            Self::PublicTask => "Art. 6(1)(e) GDPR",
            Self::LegitimateInterest => "Art. 6(1)(f) GDPR",
        }
    }

    /// Whether a CRM purpose may rest on this basis: (d) and (e) are disabled (table 1a).
    pub fn usable_for_purposes(self) -> bool {
        !matches!(self, Self::VitalInterests | Self::PublicTask)
    }
}

/// A way of reaching a person (LAW.md table 2a).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Phone,
    Sms,
    Post,
}

impl Channel {
    pub const ALL: [Self; 4] = [Self::Email, Self::Phone, Self::Sms, Self::Post];

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s.trim() {
            "email" => Ok(Self::Email),
            "phone" => Ok(Self::Phone),
            "sms" => Ok(Self::Sms),
            "post" => Ok(Self::Post),
            _ => Err(ValueError::new("must be email, phone, sms or post")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Sms => "sms",
            Self::Post => "post",
        }
    }

    /// "Electronic mail" in the sense of §7(2) Nr. 2 UWG and Art. 2(h) ePrivacy:
    /// email and SMS follow the same rules (table 2a).
    pub fn is_electronic_mail(self) -> bool {
        matches!(self, Self::Email | Self::Sms)
    }

    /// Whether a consent given for this channel must be confirmed by double opt-in
    /// before it counts (table 2c: email).
    pub fn requires_double_opt_in(self) -> bool {
        matches!(self, Self::Email)
    }
}

/// Checks the syntax of a purpose key: 1–64 characters of `a-z`, `0-9` and `_`,
/// starting with a letter.
pub fn parse_purpose_key(s: &str) -> Result<String, ValueError> {
    let k = s.trim();
    let ok = !k.is_empty()
        && k.len() <= 64
        && k.starts_with(|c: char| c.is_ascii_lowercase())
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(k.to_owned())
    } else {
        Err(ValueError::new(
            "must be 1 to 64 lower-case letters, digits or underscores, starting with a letter",
        ))
    }
}

/// One processing purpose with its single, fixed legal basis (table 1c).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Purpose {
    pub key: String,
    pub name_de: String,
    pub name_en: String,
    pub description_de: String,
    pub description_en: String,
    pub legal_basis: LegalBasis,
    /// Channels on which this purpose may contact the person; empty = never outbound.
    pub channels: Vec<Channel>,
    pub data_categories: Vec<String>,
    /// Key of the retention class (LAW.md B.5).
    pub retention: String,
    /// Advertising in the sense of B.0; Art. 21(2) objections and §7 UWG apply.
    pub direct_marketing: bool,
    /// Disabled purposes refuse every decision.
    pub active: bool,
    pub version: u32,
}

impl Purpose {
    /// Checks the invariants a purpose must keep before it is stored: a well-formed
    /// key, a usable basis, names in both languages, no channel twice.
    pub fn validate(&self) -> Result<(), ValueError> {
        parse_purpose_key(&self.key)?;
        if !self.legal_basis.usable_for_purposes() {
            return Err(ValueError::new(
                "vital interests and public task cannot be the basis of a CRM purpose",
            ));
        }
        if self.name_de.trim().is_empty() || self.name_en.trim().is_empty() {
            return Err(ValueError::new("needs a German and an English name"));
        }
        let mut seen = Vec::new();
        for c in &self.channels {
            if seen.contains(c) {
                return Err(ValueError::new("names a channel twice"));
            }
            seen.push(*c);
        }
        if self.version == 0 {
            return Err(ValueError::new("version starts at 1"));
        }
        Ok(())
    }

    /// Whether this purpose may use `channel`.
    pub fn allows(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }
}

#[allow(clippy::too_many_arguments)]
fn purpose(
    key: &str,
    names: (&str, &str),
    descriptions: (&str, &str),
    legal_basis: LegalBasis,
    channels: &[Channel],
    data_categories: &[&str],
    retention: &str,
    direct_marketing: bool,
) -> Purpose {
    Purpose {
        key: key.to_owned(),
        name_de: names.0.to_owned(),
        name_en: names.1.to_owned(),
        description_de: descriptions.0.to_owned(),
        description_en: descriptions.1.to_owned(),
        legal_basis,
        channels: channels.to_vec(),
        data_categories: data_categories.iter().map(|s| (*s).to_owned()).collect(),
        retention: retention.to_owned(),
        direct_marketing,
        active: true,
        version: 1,
    }
}

/// The purposes of a new German installation with the bases of LAW.md table 1b.
pub fn default_purposes() -> Vec<Purpose> {
    use Channel::{Email, Phone, Post, Sms};
    use LegalBasis::{Consent, Contract, LegalObligation, LegitimateInterest};
    vec![
        purpose(
            "contract",
            ("Vertragsabwicklung", "Contract handling"),
            (
                "Bestellungen, Lieferung, Rechnungen, Support und Hinweise zum Vertrag.",
                "Orders, delivery, invoices, support and notices about the contract.",
            ),
            Contract,
            &[Email, Phone, Sms, Post],
            &["contact", "contract", "billing"],
            "contract",
            false,
        ),
        purpose(
            "newsletter",
            ("Newsletter", "Newsletter"),
            (
                "Werbe-E-Mails an Personen, die eingewilligt und die Anmeldung bestätigt haben.",
                "Marketing emails to people who consented and confirmed their sign-up.",
            ),
            Consent,
            &[Email],
            &["contact"],
            "consent",
            true,
        ),
        purpose(
            "existing_customer_email",
            ("Werbung an Bestandskunden", "Existing-customer email"),
            (
                "E-Mails zu eigenen ähnlichen Produkten an Käufer, solange sie nicht widersprochen haben.",
                "Emails about our own similar products to buyers, as long as they have not objected.",
            ),
            LegitimateInterest,
            &[Email],
            &["contact", "contract"],
            "marketing",
            true,
        ),
        purpose(
            "phone_marketing",
            ("Telefonwerbung", "Phone marketing"),
            (
                "Verkaufsanrufe: bei Verbrauchern nur mit ausdrücklicher Einwilligung, bei Firmen mit einem belegten Anlass.",
                "Sales calls: to consumers only with express consent, to businesses with a documented reason.",
            ),
            Consent,
            &[Phone],
            &["contact"],
            "consent",
            true,
        ),
        purpose(
            "postal_marketing",
            ("Werbung per Post", "Postal marketing"),
            (
                "Briefe und Kataloge, außer die Person möchte keine Werbung.",
                "Letters and catalogues, unless the person does not want advertising.",
            ),
            LegitimateInterest,
            &[Post],
            &["contact", "postal_address"],
            "marketing",
            true,
        ),
        purpose(
            "profiling",
            ("Interessenprofil", "Profiling"),
            (
                "Einteilung in Zielgruppen und Bewertung von Interessenten für Werbung.",
                "Segments and lead scores used for marketing.",
            ),
            Consent,
            &[Email, Phone, Sms, Post],
            &["contact", "interaction"],
            "consent",
            true,
        ),
        purpose(
            "email_tracking",
            ("Öffnungs- und Klickmessung", "Email tracking"),
            (
                "Messung, ob eine E-Mail geöffnet oder ein Link angeklickt wurde.",
                "Measuring whether an email was opened or a link was clicked.",
            ),
            Consent,
            &[Email],
            &["interaction"],
            "consent",
            false,
        ),
        purpose(
            "legal_retention",
            ("Gesetzliche Aufbewahrung", "Legal retention"),
            (
                "Aufbewahrung von Rechnungen, Buchungsbelegen und Geschäftsbriefen; nie für Kontakt.",
                "Keeping invoices, booking vouchers and business letters; never used for contact.",
            ),
            LegalObligation,
            &[],
            &["billing", "contract"],
            "hgb_257",
            false,
        ),
    ]
}

/// Finds the purpose with `key`.
/// The consent wordings of a new installation: `(purpose, version, locale, text)`.
/// Each is the sentence beside the checkbox (never pre-ticked) a person ticks to consent.
pub fn default_wordings() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        (
            "newsletter",
            "newsletter-de-1",
            "de",
            "Ja, ich möchte den Newsletter per E-Mail erhalten. Meine Einwilligung kann ich jederzeit \
             ohne Kosten widerrufen, z. B. über den Abmeldelink in jeder E-Mail.",
        ),
        (
            "newsletter",
            "newsletter-en-1",
            "en",
            "Yes, I would like to receive the newsletter by email. I can withdraw my consent at any time \
             free of charge, e.g. through the unsubscribe link in every email.",
        ),
        (
            "phone_marketing",
            "phone_marketing-de-1",
            "de",
            "Ja, Sie dürfen mich telefonisch zu Ihren Angeboten kontaktieren. Meine Einwilligung kann ich \
             jederzeit ohne Kosten widerrufen.",
        ),
        (
            "profiling",
            "profiling-de-1",
            "de",
            "Ja, Sie dürfen meine Angaben und Interaktionen auswerten, um mir passende Angebote zu machen. \
             Meine Einwilligung kann ich jederzeit ohne Kosten widerrufen.",
        ),
        (
            "email_tracking",
            "email_tracking-de-1",
            "de",
            "Ja, Sie dürfen messen, ob ich Ihre E-Mails öffne und welche Links ich anklicke. Meine \
             Einwilligung kann ich jederzeit ohne Kosten widerrufen.",
        ),
    ]
}

pub fn find<'a>(purposes: &'a [Purpose], key: &str) -> Option<&'a Purpose> {
    purposes.iter().find(|p| p.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_basis_and_channel_round_trips_through_its_name() {
        for b in LegalBasis::ALL {
            assert_eq!(LegalBasis::parse(b.as_str()).unwrap(), b);
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()).unwrap(), c);
        }
        assert!(LegalBasis::parse("implied").is_err());
        assert!(Channel::parse("fax").is_err());
    }

    #[test]
    fn vital_interests_and_public_task_are_refused_as_purpose_bases() {
        let mut p = default_purposes().remove(0);
        for b in [LegalBasis::VitalInterests, LegalBasis::PublicTask] {
            p.legal_basis = b;
            assert!(p.validate().is_err());
        }
    }

    #[test]
    fn default_purposes_are_valid_and_have_the_bases_of_table_1b() {
        let ps = default_purposes();
        for p in &ps {
            p.validate().unwrap();
        }
        let basis = |k: &str| find(&ps, k).unwrap().legal_basis;
        assert_eq!(basis("contract"), LegalBasis::Contract);
        assert_eq!(basis("newsletter"), LegalBasis::Consent);
        assert_eq!(basis("phone_marketing"), LegalBasis::Consent);
        assert_eq!(basis("postal_marketing"), LegalBasis::LegitimateInterest);
        assert_eq!(basis("profiling"), LegalBasis::Consent);
        assert_eq!(basis("email_tracking"), LegalBasis::Consent);
        assert_eq!(basis("legal_retention"), LegalBasis::LegalObligation);
        assert!(find(&ps, "legal_retention").unwrap().channels.is_empty());
    }

    #[test]
    fn purpose_keys_must_be_snake_case() {
        assert_eq!(parse_purpose_key(" newsletter ").unwrap(), "newsletter");
        assert!(parse_purpose_key("News Letter").is_err());
        assert!(parse_purpose_key("1st").is_err());
        assert!(parse_purpose_key("").is_err());
    }
}
