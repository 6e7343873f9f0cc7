//! The CRM records: persons, organizations, deals in pipelines, activities, custom fields.

use crate::currency::Currency;
use crate::email::Email;
use crate::error::ValueError;
use crate::ids::{ActivityId, DealId, OrganizationId, PersonId, UserId};
use crate::phone::Phone;
use jiff::Timestamp;
use jiff::civil::Date;
use std::collections::BTreeMap;

/// Who made or last changed a record, and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    pub created_at: Timestamp,
    pub created_by: Option<UserId>,
    pub updated_at: Timestamp,
    pub updated_by: Option<UserId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonKind {
    Consumer,
    Business,
}

impl PersonKind {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s.trim() {
            "consumer" => Ok(Self::Consumer),
            "business" => Ok(Self::Business),
            _ => Err(ValueError::new("must be consumer or business")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consumer => "consumer",
            Self::Business => "business",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabeledEmail {
    pub label: String,
    pub value: Email,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabeledPhone {
    pub label: String,
    pub value: Phone,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    pub street: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        self.street.is_none()
            && self.postal_code.is_none()
            && self.city.is_none()
            && self.country.is_none()
    }
}

/// Parses an ISO 3166-1 alpha-2 country code (syntax only).
pub fn parse_country(s: &str) -> Result<String, ValueError> {
    let up = s.trim().to_ascii_uppercase();
    if up.len() == 2 && up.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(up)
    } else {
        Err(ValueError::new(
            "must be a two-letter ISO 3166 country code such as DE",
        ))
    }
}

/// Everything about a person that is personal data. Stored only encrypted under the
/// person's own key; erasing the key makes all of it unreadable at once.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PersonalData {
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub emails: Vec<LabeledEmail>,
    #[serde(default)]
    pub phones: Vec<LabeledPhone>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub birthday: Option<Date>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Values of person custom fields, by field key.
    #[serde(default)]
    pub custom: BTreeMap<String, serde_json::Value>,
}

impl PersonalData {
    pub fn primary_email(&self) -> Option<&Email> {
        self.emails.first().map(|e| &e.value)
    }

    pub fn primary_phone(&self) -> Option<&Phone> {
        self.phones.first().map(|p| &p.value)
    }

    pub fn display_name(&self) -> String {
        match (self.first_name.is_empty(), self.last_name.is_empty()) {
            (false, false) => format!("{} {}", self.first_name, self.last_name),
            (true, false) => self.last_name.clone(),
            (false, true) => self.first_name.clone(),
            (true, true) => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: PersonId,
    pub kind: PersonKind,
    pub organization_id: Option<OrganizationId>,
    pub owner_id: Option<UserId>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub personal: PersonalData,
    pub stamp: Stamp,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub address: Option<Address>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub owner_id: Option<UserId>,
    pub custom: BTreeMap<String, serde_json::Value>,
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Open,
    Won,
    Lost,
}

impl StageKind {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s {
            "open" => Ok(Self::Open),
            "won" => Ok(Self::Won),
            "lost" => Ok(Self::Lost),
            _ => Err(ValueError::new("must be open, won or lost")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stage {
    pub key: String,
    pub name_de: String,
    pub name_en: String,
    pub position: i64,
    pub kind: StageKind,
}

/// The stages a new installation's default pipeline has.
pub fn default_stages() -> Vec<Stage> {
    let s = |key: &str, de: &str, en: &str, position, kind| Stage {
        key: key.into(),
        name_de: de.into(),
        name_en: en.into(),
        position,
        kind,
    };
    vec![
        s("lead", "Lead", "Lead", 1, StageKind::Open),
        s("qualified", "Qualifiziert", "Qualified", 2, StageKind::Open),
        s("proposal", "Angebot", "Proposal", 3, StageKind::Open),
        s(
            "negotiation",
            "Verhandlung",
            "Negotiation",
            4,
            StageKind::Open,
        ),
        s("won", "Gewonnen", "Won", 5, StageKind::Won),
        s("lost", "Verloren", "Lost", 6, StageKind::Lost),
    ]
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Deal {
    pub id: DealId,
    pub title: String,
    pub value_cents: i64,
    pub currency: Currency,
    pub pipeline: String,
    pub stage: String,
    pub status: StageKind,
    pub person_id: Option<PersonId>,
    pub organization_id: Option<OrganizationId>,
    pub owner_id: Option<UserId>,
    pub expected_close_date: Option<Date>,
    pub lost_reason: Option<String>,
    pub closed_at: Option<Timestamp>,
    pub custom: BTreeMap<String, serde_json::Value>,
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    Note,
    Call,
    Meeting,
    Email,
    Task,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 5] = [
        Self::Note,
        Self::Call,
        Self::Meeting,
        Self::Email,
        Self::Task,
    ];

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| ValueError::new("must be note, call, meeting, email or task"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::Call => "call",
            Self::Meeting => "meeting",
            Self::Email => "email",
            Self::Task => "task",
        }
    }
}

/// The free-text parts of an activity: personal data, encrypted under the key of the
/// person the activity concerns.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActivityText {
    pub subject: String,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: ActivityId,
    pub kind: ActivityKind,
    pub person_id: Option<PersonId>,
    pub organization_id: Option<OrganizationId>,
    pub deal_id: Option<DealId>,
    pub text: ActivityText,
    pub purpose: Option<String>,
    pub occurred_at: Timestamp,
    pub due_date: Option<Date>,
    pub done: bool,
    pub owner_id: Option<UserId>,
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    Person,
    Organization,
    Deal,
}

impl RecordType {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s {
            "person" => Ok(Self::Person),
            "organization" => Ok(Self::Organization),
            "deal" => Ok(Self::Deal),
            _ => Err(ValueError::new("must be person, organization or deal")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Organization => "organization",
            Self::Deal => "deal",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Date,
    Bool,
    Select,
}

impl FieldType {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s {
            "text" => Ok(Self::Text),
            "number" => Ok(Self::Number),
            "date" => Ok(Self::Date),
            "bool" => Ok(Self::Bool),
            "select" => Ok(Self::Select),
            _ => Err(ValueError::new(
                "must be text, number, date, bool or select",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Date => "date",
            Self::Bool => "bool",
            Self::Select => "select",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CustomFieldDef {
    pub record_type: RecordType,
    pub key: String,
    pub label: String,
    pub field_type: FieldType,
    #[serde(default)]
    pub options: Vec<String>,
}

/// Parses a custom field key: lower-case letters, digits and `_`, starting with a letter.
pub fn parse_field_key(s: &str) -> Result<String, ValueError> {
    let s = s.trim();
    let ok = (1..=40).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(s.to_string())
    } else {
        Err(ValueError::new(
            "must be 1 to 40 lower-case letters, digits or _, starting with a letter",
        ))
    }
}

impl CustomFieldDef {
    /// Checks a value for this field; `null` clears it.
    pub fn check(&self, v: &serde_json::Value) -> Result<Option<serde_json::Value>, ValueError> {
        use serde_json::Value;
        if v.is_null() {
            return Ok(None);
        }
        match (self.field_type, v) {
            (FieldType::Text, Value::String(s)) => Ok(Some(Value::String(crate::text::bounded(
                s,
                crate::text::limits::LINE,
            )?))),
            (FieldType::Number, Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {
                Ok(Some(v.clone()))
            }
            (FieldType::Date, Value::String(s)) => s
                .parse::<Date>()
                .map(|d| Some(Value::String(d.to_string())))
                .map_err(|_| ValueError::new("must be a date (YYYY-MM-DD)")),
            (FieldType::Bool, Value::Bool(_)) => Ok(Some(v.clone())),
            (FieldType::Select, Value::String(s)) if self.options.iter().any(|o| o == s) => {
                Ok(Some(v.clone()))
            }
            (FieldType::Select, _) => Err(ValueError::new(format!(
                "must be one of: {}",
                self.options.join(", ")
            ))),
            (t, _) => Err(ValueError::new(format!("must be a {} value", t.as_str()))),
        }
    }
}

/// Parses a tag: one line of at most 50 characters.
pub fn parse_tag(s: &str) -> Result<String, ValueError> {
    crate::text::required_line(s, crate::text::limits::TAG)
}

/// Parses a website: an http(s) URL without spaces.
pub fn parse_website(s: &str) -> Result<String, ValueError> {
    let s = crate::text::required_line(s, crate::text::limits::URL)?;
    let lower = s.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| ValueError::new("must start with http:// or https://"))?;
    if rest.is_empty() || s.contains(char::is_whitespace) {
        return Err(ValueError::new("is not a web address"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_field_values_are_checked_against_their_type() {
        let def = CustomFieldDef {
            record_type: RecordType::Person,
            key: "size".into(),
            label: "Size".into(),
            field_type: FieldType::Select,
            options: vec!["S".into(), "M".into()],
        };
        assert!(def.check(&serde_json::json!("M")).is_ok());
        assert!(def.check(&serde_json::json!("XL")).is_err());
        assert_eq!(def.check(&serde_json::Value::Null).unwrap(), None);
        let date = CustomFieldDef {
            field_type: FieldType::Date,
            ..def
        };
        assert!(date.check(&serde_json::json!("2026-02-30")).is_err());
        assert!(date.check(&serde_json::json!("2026-02-28")).is_ok());
    }

    #[test]
    fn field_keys_and_websites_are_parsed() {
        assert!(parse_field_key("shoe_size").is_ok());
        assert!(parse_field_key("Shoe").is_err());
        assert!(parse_website("https://beispiel.de").is_ok());
        assert!(parse_website("javascript:alert(1)").is_err());
    }
}
