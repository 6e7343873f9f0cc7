//! The fixed parts of the answer to a request for access (Art. 15 GDPR, LAW.md table 4b)
//! in German and English: the confirmation, the rights (15(1)(e), (f)), the statement on
//! automated decisions (15(1)(h)), the source (15(1)(g)), the categories of data held and
//! how each kind of consultation in the access log is described (CJEU C-579/21). The
//! person-specific parts are gathered by the web layer from the store.

use crate::ropa::Text;

/// 15(1): whether data about the person are processed.
pub fn confirmation(processed: bool) -> Text {
    if processed {
        Text::new(
            "Ja, wir verarbeiten personenbezogene Daten über Sie. Diese Auskunft enthält alle Daten, die wir über Sie gespeichert haben.",
            "Yes, we process personal data about you. This answer contains all data we hold about you.",
        )
    } else {
        Text::new(
            "Wir verarbeiten keine personenbezogenen Daten über Sie.",
            "We do not process personal data about you.",
        )
    }
}

/// One right of the data subject.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Right {
    /// Stable key: `access`, `rectification`, `erasure`, `restriction`, `portability`,
    /// `objection`, `withdraw_consent`, `complaint`.
    pub key: &'static str,
    pub article: &'static str,
    pub text: Text,
}

/// 15(1)(e), (f): the rights, with the complaint to a supervisory authority last.
pub fn rights() -> Vec<Right> {
    let r = |key, article, de: &str, en: &str| Right {
        key,
        article,
        text: Text::new(de, en),
    };
    vec![
        r(
            "access",
            "Art. 15 GDPR",
            "Sie können jederzeit Auskunft über die zu Ihnen gespeicherten Daten verlangen.",
            "You may ask at any time which data we hold about you.",
        ),
        r(
            "rectification",
            "Art. 16 GDPR",
            "Sie können die Berichtigung unrichtiger und die Vervollständigung unvollständiger Daten verlangen.",
            "You may have inaccurate data corrected and incomplete data completed.",
        ),
        r(
            "erasure",
            "Art. 17 GDPR",
            "Sie können die Löschung Ihrer Daten verlangen, soweit keine gesetzliche Aufbewahrungspflicht entgegensteht.",
            "You may have your data erased unless a legal duty to keep them applies.",
        ),
        r(
            "restriction",
            "Art. 18 GDPR",
            "Sie können verlangen, dass wir Ihre Daten nur noch speichern und nicht weiter verwenden.",
            "You may ask us to restrict processing: we then only store your data and do not use them.",
        ),
        r(
            "portability",
            "Art. 20 GDPR",
            "Sie können die Daten, die Sie uns bereitgestellt haben, in einem gängigen maschinenlesbaren Format erhalten oder an einen anderen Verantwortlichen übermitteln lassen.",
            "You may receive the data you provided to us in a common machine-readable format, or have them sent to another controller.",
        ),
        r(
            "objection",
            "Art. 21 GDPR",
            "Sie können der Verarbeitung auf Grundlage berechtigter Interessen aus Gründen Ihrer besonderen Situation widersprechen; der Verwendung für Direktwerbung können Sie jederzeit ohne Begründung widersprechen.",
            "You may object to processing based on legitimate interests on grounds relating to your particular situation; you may object to direct marketing at any time without giving reasons.",
        ),
        r(
            "withdraw_consent",
            "Art. 7(3) GDPR",
            "Eine Einwilligung können Sie jederzeit mit Wirkung für die Zukunft widerrufen.",
            "You may withdraw a consent at any time with effect for the future.",
        ),
        r(
            "complaint",
            "Art. 77 GDPR",
            "Sie haben das Recht, sich bei einer Datenschutz-Aufsichtsbehörde zu beschweren, insbesondere in dem Mitgliedstaat Ihres Aufenthaltsorts, Ihres Arbeitsplatzes oder des Orts des mutmaßlichen Verstoßes.",
            "You have the right to lodge a complaint with a data protection supervisory authority, in particular in the member state of your habitual residence, place of work or place of the alleged infringement.",
        ),
    ]
}

/// 15(1)(h): Klar makes no decisions based solely on automated processing.
pub fn automated_decisions() -> Text {
    Text::new(
        "Es findet keine automatisierte Entscheidungsfindung einschließlich Profiling im Sinne von Art. 22 DSGVO statt. \
         Eine Regelprüfung stellt lediglich fest, ob eine Kontaktaufnahme rechtlich zulässig ist (z. B. ob eine Einwilligung vorliegt); \
         sie trifft keine Entscheidung mit rechtlicher Wirkung über Sie.",
        "No automated decision-making, including profiling, within the meaning of Art. 22 GDPR takes place. \
         A rule check only establishes whether contacting you is lawful (for example whether you consented); \
         it makes no decision with legal effect about you.",
    )
}

/// 15(1)(g): where the data came from.
pub fn source(recorded: Option<&str>) -> Text {
    match recorded.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Text::new(
            format!(
                "Die Daten wurden erfasst über: {s}. Soweit nicht anders vermerkt, stammen sie von Ihnen selbst."
            ),
            format!(
                "The data were collected through: {s}. Unless noted otherwise, they come from you."
            ),
        ),
        None => Text::new(
            "Die Daten stammen von Ihnen selbst (aus unserem Kontakt mit Ihnen); eine andere Quelle ist nicht vermerkt.",
            "The data come from you (from our contact with you); no other source is recorded.",
        ),
    }
}

/// Recipients inside the controller's organisation (15(1)(c), categories).
pub fn internal_recipients() -> Text {
    Text::new(
        "Beschäftigte des Verantwortlichen, soweit ihre Aufgabe den Zugriff erfordert (rollenbasierte Berechtigungen).",
        "Staff of the controller, as far as their task requires access (role-based permissions).",
    )
}

/// A category of personal data held about the person.
pub fn held_category(key: &str) -> Text {
    match key {
        "birthday" => Text::new("Geburtsdatum", "Date of birth"),
        "notes" => Text::new("Notizen", "Notes"),
        "custom_fields" => Text::new("Zusätzliche Felder", "Additional fields"),
        "consents" => Text::new(
            "Einwilligungen und ihre Nachweise",
            "Consents and their proofs",
        ),
        "objections" => Text::new("Widersprüche", "Objections"),
        other => crate::ropa::category_label(other),
    }
}

/// How an entry of the access log is described: the purpose of the consultation,
/// never who consulted (CJEU C-579/21).
pub fn consultation(action: &str, purpose: Option<&str>) -> Text {
    match (action, purpose) {
        ("person.read", _) => Text::new(
            "Einsicht in Ihren Datensatz (Kundenbetreuung)",
            "Your record was viewed (customer care)",
        ),
        ("person.list", _) => Text::new(
            "Anzeige in einer Liste oder einem Suchergebnis",
            "Shown in a list or search result",
        ),
        ("decision", Some(p)) => Text::new(
            format!("Prüfung der Rechtsgrundlage für den Zweck „{p}“"),
            format!("Check of the legal basis for the purpose \"{p}\""),
        ),
        ("decision", None) => Text::new("Prüfung der Rechtsgrundlage", "Check of the legal basis"),
        ("consent.read", _) => Text::new(
            "Einsicht in Ihre Einwilligungen",
            "Your consents were viewed",
        ),
        ("person.export", _) => Text::new(
            "Zusammenstellung einer Auskunft oder Datenkopie für Sie",
            "An answer or data copy was compiled for you",
        ),
        _ => Text::new("Zugriff", "Access"),
    }
}

/// The audit actions that count as a consultation of the person's data.
pub const CONSULTATIONS: [&str; 5] = [
    "person.read",
    "person.list",
    "decision",
    "consent.read",
    "person.export",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_complaint_to_a_supervisory_authority_is_among_the_rights() {
        let r = rights();
        assert!(
            r.iter()
                .any(|r| r.key == "complaint" && r.article == "Art. 77 GDPR")
        );
        assert!(
            r.iter()
                .all(|r| !r.text.de.is_empty() && !r.text.en.is_empty())
        );
    }

    #[test]
    fn every_consultation_has_a_description() {
        for a in CONSULTATIONS {
            assert_ne!(consultation(a, None).en, "Access", "{a}");
        }
    }
}
