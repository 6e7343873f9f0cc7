//! The register of processors and recipients (LAW.md B.6, B.10): who receives personal
//! data from the controller, in which role, under which contract, for which purposes and
//! categories, in which country, and on which safeguard a transfer outside the EEA rests.
//! The Art. 15 answer names them (CJEU C-154/21), the record of processing lists them,
//! and campaigns need a processor with a contract behind the mail route.

use crate::error::{Errors, ValueError};
use crate::records::parse_country;
use crate::ropa::Text;
use jiff::civil::Date;

/// How the other party stands to the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessorRole {
    /// Processes on the controller's behalf (Art. 28): needs a contract.
    Processor,
    /// Decides jointly with the controller (Art. 26): needs an arrangement.
    JointController,
    /// Receives data for its own purposes (Art. 4(9)), e.g. a tax adviser.
    Recipient,
}

impl ProcessorRole {
    pub const ALL: [Self; 3] = [Self::Processor, Self::JointController, Self::Recipient];

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| ValueError::new("must be processor, joint_controller or recipient"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processor => "processor",
            Self::JointController => "joint_controller",
            Self::Recipient => "recipient",
        }
    }

    pub fn label(self) -> Text {
        match self {
            Self::Processor => Text::new(
                "Auftragsverarbeiter (Art. 28 DSGVO)",
                "Processor (Art. 28 GDPR)",
            ),
            Self::JointController => Text::new(
                "Gemeinsam Verantwortlicher (Art. 26 DSGVO)",
                "Joint controller (Art. 26 GDPR)",
            ),
            Self::Recipient => Text::new(
                "Empfänger (Art. 4 Nr. 9 DSGVO)",
                "Recipient (Art. 4(9) GDPR)",
            ),
        }
    }
}

/// What a transfer to the recipient's country rests on (Art. 44–49).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferMechanism {
    /// No transfer to a third country: the recipient is in the EU or EEA.
    None,
    /// An adequacy decision of the Commission (Art. 45).
    Adequacy,
    /// Standard contractual clauses (Art. 46(2)(c)).
    Scc,
    /// Binding corporate rules (Art. 47).
    Bcr,
    /// A derogation for a specific situation (Art. 49).
    Derogation,
}

impl TransferMechanism {
    pub const ALL: [Self; 5] = [
        Self::None,
        Self::Adequacy,
        Self::Scc,
        Self::Bcr,
        Self::Derogation,
    ];

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .ok_or_else(|| ValueError::new("must be none, adequacy, scc, bcr or derogation"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Adequacy => "adequacy",
            Self::Scc => "scc",
            Self::Bcr => "bcr",
            Self::Derogation => "derogation",
        }
    }

    /// The safeguard in plain words (Art. 15(2)).
    pub fn label(self) -> Text {
        match self {
            Self::None => Text::new(
                "Keine Übermittlung in ein Drittland (EU/EWR)",
                "No transfer to a third country (EU/EEA)",
            ),
            Self::Adequacy => Text::new(
                "Angemessenheitsbeschluss der EU-Kommission (Art. 45 DSGVO)",
                "Adequacy decision of the European Commission (Art. 45 GDPR)",
            ),
            Self::Scc => Text::new(
                "EU-Standardvertragsklauseln (Art. 46 Abs. 2 lit. c DSGVO)",
                "EU standard contractual clauses (Art. 46(2)(c) GDPR)",
            ),
            Self::Bcr => Text::new(
                "Verbindliche interne Datenschutzvorschriften (Art. 47 DSGVO)",
                "Binding corporate rules (Art. 47 GDPR)",
            ),
            Self::Derogation => Text::new(
                "Ausnahme für bestimmte Fälle (Art. 49 DSGVO)",
                "Derogation for a specific situation (Art. 49 GDPR)",
            ),
        }
    }
}

/// What a processor does for the installation; `email_delivery` marks the one behind the
/// mail route (campaigns need its contract).
pub const SERVICES: [&str; 5] = [
    "email_delivery",
    "sms_delivery",
    "hosting",
    "backup",
    "support",
];

/// Member states of the EU and the other EEA states (IS, LI, NO): no third country.
const EEA: [&str; 30] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

/// Whether a country (ISO 3166-1 alpha-2) is inside the EU/EEA.
pub fn in_eea(country: &str) -> bool {
    EEA.contains(&country)
}

/// A register entry as submitted, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct ProcessorDraft {
    pub name: String,
    pub role: String,
    /// `YYYY-MM-DD`; none when no contract is on file.
    pub contract_signed_at: Option<String>,
    pub purposes: Vec<String>,
    pub data_categories: Vec<String>,
    pub country: String,
    /// Defaults to `none` inside the EEA.
    pub transfer_mechanism: Option<String>,
    pub services: Vec<String>,
}

/// A checked register entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessorSpec {
    pub name: String,
    pub role: ProcessorRole,
    pub contract_signed_at: Option<Date>,
    pub purposes: Vec<String>,
    pub data_categories: Vec<String>,
    pub country: String,
    pub transfer_mechanism: TransferMechanism,
    pub services: Vec<String>,
}

fn keys(errs: &mut Errors, field: &str, v: &[String], known: Option<&[&str]>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, s) in v.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let Some(k) = errs.take(&f, crate::policy::parse_purpose_key(s)) else {
            continue;
        };
        if known.is_some_and(|known| !known.contains(&k.as_str())) {
            errs.push(f, "is not a known key");
        } else if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

impl ProcessorSpec {
    /// Checks every field; the errors name the field. `purpose_keys` are the purposes of
    /// the registry (an entry may only name those).
    pub fn parse(d: &ProcessorDraft, purpose_keys: &[&str]) -> Result<Self, crate::DomainError> {
        let mut errs = Errors::new();
        let name = errs
            .take(
                "name",
                crate::text::required_line(&d.name, crate::text::limits::LINE),
            )
            .unwrap_or_default();
        let role = errs.take("role", ProcessorRole::parse(&d.role));
        let contract_signed_at = match d.contract_signed_at.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => errs.take(
                "contract_signed_at",
                s.parse::<Date>()
                    .map_err(|_| ValueError::new("must be a date (YYYY-MM-DD)")),
            ),
        };
        if d.purposes.is_empty() {
            errs.push("purposes", "must name at least one purpose");
        }
        let purposes = keys(&mut errs, "purposes", &d.purposes, Some(purpose_keys));
        if d.data_categories.is_empty() {
            errs.push("data_categories", "must name at least one data category");
        }
        let data_categories = keys(&mut errs, "data_categories", &d.data_categories, None);
        let country = errs.take("country", parse_country(&d.country));
        let mechanism = match d.transfer_mechanism.as_deref() {
            None => None,
            Some(m) => errs.take("transfer_mechanism", TransferMechanism::parse(m)),
        };
        let transfer_mechanism = match (&country, mechanism) {
            (Some(c), None | Some(TransferMechanism::None)) if !in_eea(c) => {
                errs.push(
                    "transfer_mechanism",
                    "a recipient outside the EU/EEA needs adequacy, scc, bcr or derogation",
                );
                TransferMechanism::None
            }
            (_, m) => m.unwrap_or(TransferMechanism::None),
        };
        let services = keys(&mut errs, "services", &d.services, Some(&SERVICES));
        errs.finish()?;
        Ok(Self {
            name,
            role: role.unwrap_or(ProcessorRole::Processor),
            contract_signed_at,
            purposes,
            data_categories,
            country: country.unwrap_or_default(),
            transfer_mechanism,
            services,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> ProcessorDraft {
        ProcessorDraft {
            name: "Mailversand GmbH".into(),
            role: "processor".into(),
            contract_signed_at: Some("2026-01-15".into()),
            purposes: vec!["newsletter".into()],
            data_categories: vec!["contact".into()],
            country: "de".into(),
            transfer_mechanism: None,
            services: vec!["email_delivery".into()],
        }
    }

    fn fields(d: &ProcessorDraft) -> Vec<String> {
        match ProcessorSpec::parse(d, &["newsletter", "contract"]) {
            Ok(_) => vec![],
            Err(crate::DomainError::Invalid(v)) => v.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn a_complete_entry_inside_the_eea_needs_no_transfer_mechanism() {
        let s = ProcessorSpec::parse(&draft(), &["newsletter"]).unwrap();
        assert_eq!(s.country, "DE");
        assert_eq!(s.transfer_mechanism, TransferMechanism::None);
        assert_eq!(s.role, ProcessorRole::Processor);
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut d = draft();
        d.name = " ".into();
        d.role = "friend".into();
        d.country = "Germany".into();
        d.purposes = vec!["unknown_purpose".into()];
        d.services = vec!["telepathy".into()];
        d.contract_signed_at = Some("2026-02-30".into());
        assert_eq!(
            fields(&d),
            [
                "name",
                "role",
                "contract_signed_at",
                "purposes[0]",
                "country",
                "services[0]"
            ]
        );
    }

    #[test]
    fn a_third_country_needs_a_safeguard() {
        let mut d = draft();
        d.country = "US".into();
        assert_eq!(fields(&d), ["transfer_mechanism"]);
        d.transfer_mechanism = Some("scc".into());
        assert!(fields(&d).is_empty());
    }
}
