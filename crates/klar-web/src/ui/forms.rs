//! Helpers shared by the UI's pages: form values, field errors, error pages, options.

use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::error::AppError;
use crate::i18n::{Locale, Tr};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use klar_domain::ids::OrganizationId;
use klar_domain::records::{CustomFieldDef, FieldType, Organization, RecordType, Stage};
use klar_domain::{DomainError, FieldError};
use klar_store::Actor;
use klar_store::organizations::OrganizationFilter;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A trimmed form value; empty means "not given" (which clears an optional field).
pub(super) fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Field errors keyed by the form field that shows them: `address.city` → `city`,
/// `value_cents` → `value`, `emails[1].value` → the second email row (see
/// [`contact_id`]), `emails[1].label` → `email_label_1`, `custom_fields.size` → `cf_size`.
pub(super) fn field_errors(errs: Vec<FieldError>) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for e in errs {
        m.entry(form_key(&e.field)).or_insert(e.message);
    }
    m
}

/// The form field that shows the error of an API field.
fn form_key(field: &str) -> String {
    if let Some(k) = field.strip_prefix("custom_fields.") {
        return format!("{CUSTOM_PREFIX}{k}");
    }
    let head = field.split('[').next().unwrap_or(field);
    // `emails[3].value` → (3, ".value")
    let row = field[head.len()..]
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(i, rest)| i.parse::<usize>().ok().map(|i| (i, rest)));
    let contact = match head {
        "emails" => Some("email"),
        "phones" => Some("phone"),
        _ => None,
    };
    match (contact, row) {
        (Some(c), Some((i, ".label"))) => format!("{c}_label_{i}"),
        (Some(c), Some((i, _))) => contact_id(c, i),
        (Some(c), None) => c.to_string(),
        (None, _) => match head.rsplit('.').next().unwrap_or(head) {
            "value_cents" => "value".to_string(),
            k => k.to_string(),
        },
    }
}

/// The id of the value input of contact row `i` (and the key of its error): the first
/// row is plainly `email` / `phone`, further rows `email_1`, `email_2`, …
pub(super) fn contact_id(prefix: &str, i: usize) -> String {
    if i == 0 {
        prefix.to_string()
    } else {
        format!("{prefix}_{i}")
    }
}

/// The field errors of a failed validation, or none.
pub(super) fn domain_errors(r: Result<(), DomainError>) -> Vec<FieldError> {
    match r {
        Ok(()) => Vec::new(),
        Err(DomainError::Invalid(v)) => v,
    }
}

pub(super) fn actor(s: &UiSession) -> Actor {
    Actor::user(s.session.user.id)
}

/// The 404 page in the user's language.
pub(super) fn not_found_page(s: &UiSession, active: &'static str) -> Response {
    let p = s.layout(active);
    let message = p.t.get("error-not-found").to_string();
    render(
        StatusCode::NOT_FOUND,
        &super::ErrorPage {
            p,
            status: 404,
            message,
        },
    )
}

/// An error of a page load: "no such record" as the 404 page, anything else as a problem.
pub(super) fn page_error(s: &UiSession, active: &'static str, e: AppError) -> Response {
    match e {
        AppError::NotFound(_) => not_found_page(s, active),
        AppError::Refused { reason_code, .. } => {
            let p = s.layout(active);
            let message = p.t.get(&format!("refused-{reason_code}"));
            let message = if message == "??" {
                p.t.get("error-forbidden")
            } else {
                message
            }
            .to_string();
            render(
                StatusCode::FORBIDDEN,
                &super::ErrorPage {
                    p,
                    status: 403,
                    message,
                },
            )
        }
        e => e.into_response(),
    }
}

/// The name of a stage in the UI language.
pub(super) fn stage_name(stage: &Stage, p: &Layout) -> String {
    if p.t.lang() == "en" {
        stage.name_en.clone()
    } else {
        stage.name_de.clone()
    }
}

/// Organizations as `(id, name)` options of a select, sorted by name.
pub(super) fn org_options(
    state: &AppState,
    must_include: Option<OrganizationId>,
) -> Result<Vec<(String, String)>, AppError> {
    let page = state.store.list_organizations(&OrganizationFilter {
        limit: 200,
        ..Default::default()
    })?;
    let mut items = page.items;
    if let Some(oid) = must_include
        && !items.iter().any(|o| o.id == oid)
    {
        match state.store.get_organization(oid) {
            Ok(o) => items.push(o),
            Err(klar_store::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut v: Vec<_> = items
        .into_iter()
        .map(|o: Organization| (o.id.to_string(), o.name))
        .collect();
    v.sort_by_key(|a| a.1.to_lowercase());
    Ok(v)
}

// ---- custom fields ----

/// Form inputs of custom fields are named `cf_{key}`, so that they never clash with the
/// record's own fields.
pub const CUSTOM_PREFIX: &str = "cf_";

/// One custom field as its form shows it.
pub struct CustomInput {
    /// Id and name of the input: `cf_{key}`.
    pub id: String,
    pub label: String,
    /// `text`, `number`, `date`, `bool` or `select`.
    pub kind: &'static str,
    /// The value as typed; `true` for a ticked checkbox.
    pub value: String,
    pub options: Vec<String>,
    pub error: String,
}

impl CustomInput {
    pub fn has_err(&self) -> bool {
        !self.error.is_empty()
    }

    pub fn is_checked(&self) -> bool {
        !self.value.is_empty()
    }
}

/// The custom field definitions of a record type, in key order.
pub(super) fn custom_defs(
    state: &AppState,
    rt: RecordType,
) -> Result<Vec<CustomFieldDef>, AppError> {
    Ok(state.store.custom_fields(rt)?)
}

/// The inputs of the defined custom fields with the values as typed (by input name) and
/// their (already localized) errors.
pub(super) fn custom_inputs(
    defs: &[CustomFieldDef],
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
) -> Vec<CustomInput> {
    defs.iter()
        .map(|d| {
            let id = format!("{CUSTOM_PREFIX}{}", d.key);
            CustomInput {
                label: d.label.clone(),
                kind: d.field_type.as_str(),
                value: values.get(&id).cloned().unwrap_or_default(),
                options: d.options.clone(),
                error: errors.get(&id).cloned().unwrap_or_default(),
                id,
            }
        })
        .collect()
}

/// A record's custom field values as form text, by input name. `false` is an unticked
/// checkbox, so it has no text.
pub(super) fn custom_form_values(values: &BTreeMap<String, Value>) -> HashMap<String, String> {
    values
        .iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::Null | Value::Bool(false) => return None,
                Value::Bool(true) => "true".to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((format!("{CUSTOM_PREFIX}{k}"), text))
        })
        .collect()
}

/// The submitted custom field inputs as the API body's `custom_fields`: an empty input
/// is `null` (the value is removed), a checkbox is `true` or `false`, a number input is
/// a JSON number. What cannot be read as a number is passed on as text, so that the
/// API's check reports it. `None` when no custom field is defined.
pub(super) fn custom_body(
    defs: &[CustomFieldDef],
    form: &HashMap<String, String>,
) -> Option<BTreeMap<String, Value>> {
    if defs.is_empty() {
        return None;
    }
    let values = defs
        .iter()
        .map(|d| {
            let raw = form
                .get(&format!("{CUSTOM_PREFIX}{}", d.key))
                .map_or("", |s| s.trim());
            let v = match d.field_type {
                FieldType::Bool => Value::Bool(!raw.is_empty()),
                _ if raw.is_empty() => Value::Null,
                FieldType::Number => parse_number(raw).unwrap_or_else(|| Value::from(raw)),
                _ => Value::from(raw),
            };
            (d.key.clone(), v)
        })
        .collect();
    Some(values)
}

/// A number as typed, with a decimal point or (German) comma.
fn parse_number(s: &str) -> Option<Value> {
    let s = s.replace(',', ".");
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    s.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
}

/// The custom field values of a record as `(label, value)` for its detail page, in the
/// order of the definitions.
pub(super) fn custom_facts(
    defs: &[CustomFieldDef],
    values: &BTreeMap<String, Value>,
    p: &Layout,
) -> Vec<(String, String)> {
    defs.iter()
        .filter_map(|d| {
            let text = match values.get(&d.key)? {
                Value::Null => return None,
                Value::Bool(b) => p.t.get(if *b { "form-yes" } else { "form-no" }).to_string(),
                Value::String(s) => s.clone(),
                Value::Number(n) if p.t.lang() == "de" => n.to_string().replace('.', ","),
                other => other.to_string(),
            };
            Some((d.label.clone(), text))
        })
        .collect()
}

// ---- validation messages in the user's language ----

/// German wording of the validation messages of the domain, the API and the store.
/// Keep in step with them: a test scans the sources for messages missing here.
const MESSAGES_DE: &[(&str, &str)] = &[
    // break-glass access
    (
        "is required: say why you need to read this person",
        "ist erforderlich: Begründen Sie, warum Sie diese Person lesen müssen",
    ),
    ("is not a person id", "ist keine Personen-ID"),
    (
        "the requester of a grant cannot decide it himself (four eyes)",
        "wer den Zugriff beantragt hat, kann nicht selbst darüber entscheiden (Vier-Augen-Prinzip)",
    ),
    (
        "this grant has already been decided",
        "über diesen Antrag wurde bereits entschieden",
    ),
    // klar-domain: retention periods (decision 0015)
    (
        "a retention period must be at least one month",
        "eine Aufbewahrungsfrist muss mindestens einen Monat betragen",
    ),
    (
        "a retention period must be at most 1200 months (100 years)",
        "eine Aufbewahrungsfrist darf höchstens 1200 Monate (100 Jahre) betragen",
    ),
    (
        "a retention period must be a whole number of months",
        "eine Aufbewahrungsfrist muss eine ganze Zahl von Monaten sein",
    ),
    // klar-store: legal hold
    (
        "a legal hold needs a reason",
        "eine Löschsperre braucht eine Begründung",
    ),
    (
        "a legal hold is already in force",
        "für diese Person besteht bereits eine Löschsperre",
    ),
    (
        "releasing a legal hold needs a reason",
        "das Aufheben einer Löschsperre braucht eine Begründung",
    ),
    // domain: campaigns and segments
    ("must be de or en", "muss de oder en sein"),
    ("is not a valid key", "ist kein gültiger Schlüssel"),
    (
        "contains markup such as <script>; templates are plain text, links are written as plain https:// addresses",
        "enthält Auszeichnungen wie <script>; Vorlagen sind reiner Text, Links werden als einfache https://-Adressen geschrieben",
    ),
    (
        "has an unclosed placeholder",
        "hat einen nicht geschlossenen Platzhalter",
    ),
    (
        "has too many entries (at most 20)",
        "hat zu viele Einträge (höchstens 20)",
    ),
    (
        "names a field key that is not valid",
        "nennt einen ungültigen Feldschlüssel",
    ),
    (
        "must be a text, a number or true/false",
        "muss ein Text, eine Zahl oder wahr/falsch sein",
    ),
    (
        "names no criterion; give a tag, an organization, a deal stage, an owner, a custom field or \"all\": true",
        "nennt kein Kriterium; geben Sie ein Schlagwort, eine Organisation, eine Deal-Phase, einen Verantwortlichen, ein eigenes Feld oder „alle“ an",
    ),
    (
        "cannot be combined with other criteria",
        "lässt sich nicht mit anderen Kriterien kombinieren",
    ),
    (
        "must be email: Klar sends campaigns by email only",
        "muss E-Mail sein: Klar versendet Kampagnen nur per E-Mail",
    ),
    ("is not a known purpose", "ist kein bekannter Zweck"),
    ("is switched off", "ist abgeschaltet"),
    (
        "is not a direct-marketing purpose; campaigns advertise",
        "ist kein Werbezweck; Kampagnen sind Werbung",
    ),
    (
        "does not allow the email channel",
        "erlaubt den Kanal E-Mail nicht",
    ),
    (
        "is required: give a tag, an organization, a deal stage, an owner, a custom field or \"all\": true",
        "ist erforderlich: geben Sie ein Schlagwort, eine Organisation, eine Deal-Phase, einen Verantwortlichen, ein eigenes Feld oder „alle“ an",
    ),
    ("is not complete", "ist nicht vollständig"),
    ("is required", "ist erforderlich"),
    (
        "another key rotation ran meanwhile",
        "in der Zwischenzeit lief eine andere Schlüsselrotation",
    ),
    (
        "the campaign is being sent or was sent; it can no longer be changed",
        "die Kampagne wird gerade versandt oder wurde versandt; sie kann nicht mehr geändert werden",
    ),
    (
        "has an unknown criterion; known are tag, tags, organization_id, deal_stage, owner_id, custom and all",
        "hat ein unbekanntes Kriterium; bekannt sind Schlagwort, Organisation, Deal-Phase, Verantwortlicher, eigenes Feld und alle",
    ),
    // api: consents
    (
        "does not rest on consent",
        "beruht nicht auf einer Einwilligung",
    ),
    (
        "is not a channel of this purpose",
        "ist kein Kanal dieses Zwecks",
    ),
    ("must be grant or withdraw", "muss grant oder withdraw sein"),
    (
        "a grant names the wording the person was shown",
        "eine Einwilligung nennt den Wortlaut, den die Person gesehen hat",
    ),
    (
        "a grant entered by staff or imported needs a reference to its proof",
        "eine von Mitarbeitenden erfasste oder importierte Einwilligung braucht einen Verweis auf ihren Nachweis",
    ),
    ("is longer than 60 characters", "ist länger als 60 Zeichen"),
    (
        "is longer than 500 characters",
        "ist länger als 500 Zeichen",
    ),
    // klar-store: second factor
    (
        "the account already has an authenticator",
        "das Konto hat bereits einen Authenticator",
    ),
    // klar-store: purposes
    ("is already a purpose", "ist bereits ein Zweck"),
    (
        "cannot change; define a new purpose for another legal basis",
        "kann nicht geändert werden; legen Sie für eine andere Rechtsgrundlage einen neuen Zweck an",
    ),
    (
        "is not a purpose of this installation",
        "ist kein Zweck dieser Installation",
    ),
    // klar-domain: policy
    (
        "must be consent, contract, legal_obligation, vital_interests, public_task or legitimate_interest",
        "muss consent, contract, legal_obligation, vital_interests, public_task oder legitimate_interest sein",
    ),
    (
        "must be email, phone, sms or post",
        "muss email, phone, sms oder post sein",
    ),
    (
        "must be 1 to 64 lower-case letters, digits or underscores, starting with a letter",
        "muss aus 1 bis 64 Kleinbuchstaben, Ziffern oder Unterstrichen bestehen und mit einem Buchstaben beginnen",
    ),
    (
        "vital interests and public task cannot be the basis of a CRM purpose",
        "lebenswichtige Interessen und öffentliche Aufgaben können keine Rechtsgrundlage eines CRM-Zwecks sein",
    ),
    (
        "needs a German and an English name",
        "braucht einen deutschen und einen englischen Namen",
    ),
    ("names a channel twice", "nennt einen Kanal doppelt"),
    ("version starts at 1", "die Version beginnt bei 1"),
    (
        "must be grant, confirm, withdraw or expire",
        "muss grant, confirm, withdraw oder expire sein",
    ),
    (
        "must be person, staff or import",
        "muss person, staff oder import sein",
    ),
    (
        "is not a known reason code",
        "ist kein bekannter Begründungscode",
    ),
    (
        "must be direct_marketing or a purpose key",
        "muss direct_marketing oder ein Zweck-Schlüssel sein",
    ),
    // klar-domain
    ("must not be empty", "darf nicht leer sein"),
    ("contains control characters", "enthält Steuerzeichen"),
    ("must be a single line", "darf nur eine Zeile lang sein"),
    (
        "is not a role (admin, privacy_officer, sales, marketing, viewer)",
        "ist keine Rolle (admin, privacy_officer, sales, marketing, viewer)",
    ),
    (
        "is too long for a phone number",
        "ist zu lang für eine Telefonnummer",
    ),
    (
        "may contain only digits, a leading + and separators",
        "darf nur Ziffern, ein führendes + und Trennzeichen enthalten",
    ),
    (
        "needs a country code (+49 ...) or a leading 0",
        "braucht eine Ländervorwahl (+49 …) oder eine führende 0",
    ),
    (
        "has a country code that starts with 0",
        "hat eine Ländervorwahl, die mit 0 beginnt",
    ),
    (
        "must have between 7 and 15 digits in E.164 form",
        "muss in internationaler Form (E.164) 7 bis 15 Ziffern haben",
    ),
    (
        "is not an ISO 4217 currency code (for example EUR)",
        "ist kein ISO-4217-Währungscode (zum Beispiel EUR)",
    ),
    (
        "must be consumer or business",
        "muss Verbraucher oder Geschäftskunde sein",
    ),
    (
        "must be a two-letter ISO 3166 country code such as DE",
        "muss ein zweibuchstabiger ISO-3166-Ländercode wie DE sein",
    ),
    (
        "must be open, won or lost",
        "muss offen, gewonnen oder verloren sein",
    ),
    (
        "must be note, call, meeting, email or task",
        "muss Notiz, Anruf, Termin, E-Mail oder Aufgabe sein",
    ),
    (
        "must be person, organization or deal",
        "muss Person, Organisation oder Deal sein",
    ),
    (
        "must be text, number, date, bool or select",
        "muss Text, Zahl, Datum, Ja/Nein oder Auswahl sein",
    ),
    (
        "must be 1 to 40 lower-case letters, digits or _, starting with a letter",
        "muss aus 1 bis 40 Kleinbuchstaben, Ziffern oder _ bestehen und mit einem Buchstaben beginnen",
    ),
    (
        "must be a date (YYYY-MM-DD)",
        "muss ein Datum sein (JJJJ-MM-TT)",
    ),
    (
        "must start with http:// or https://",
        "muss mit http:// oder https:// beginnen",
    ),
    ("is not a web address", "ist keine Webadresse"),
    (
        "is not an email address (no @)",
        "ist keine E-Mail-Adresse (es fehlt das @)",
    ),
    (
        "has an empty or over-long part before the @",
        "hat vor dem @ einen leeren oder zu langen Teil",
    ),
    (
        "has characters before the @ that an address cannot contain",
        "enthält vor dem @ Zeichen, die in einer Adresse nicht vorkommen dürfen",
    ),
    (
        "has no valid domain after the @",
        "hat nach dem @ keine gültige Domain",
    ),
    ("is not a valid id", "ist keine gültige Kennung"),
    (
        "is not a known audit action",
        "ist keine bekannte Protokollaktion",
    ),
    (
        "must be an RFC 3339 instant",
        "muss ein Zeitpunkt nach RFC 3339 sein (z. B. 2026-11-30T09:00:00Z)",
    ),
    ("must be json or md", "muss json oder md sein"),
    (
        "must be access, rectification, erasure, restriction, portability or objection",
        "muss access, rectification, erasure, restriction, portability oder objection sein",
    ),
    ("is not a request status", "ist kein Status einer Anfrage"),
    (
        "must be request_identity, verify, start, complete, partially_complete, refuse or withdraw",
        "muss request_identity, verify, start, complete, partially_complete, refuse oder withdraw sein",
    ),
    (
        "the request is closed; nothing can change it",
        "die Anfrage ist abgeschlossen und kann nicht mehr geändert werden",
    ),
    (
        "the requester's identity must be verified first",
        "zuerst muss die Identität der anfragenden Person bestätigt sein",
    ),
    (
        "this step is not possible in the request's state",
        "dieser Schritt ist im aktuellen Stand der Anfrage nicht möglich",
    ),
    (
        "a request can be extended only once",
        "eine Anfrage kann nur einmal verlängert werden",
    ),
    (
        "must say why the request needs more time (at least 10 characters)",
        "muss begründen, warum mehr Zeit nötig ist (mindestens 10 Zeichen)",
    ),
    (
        "the first month is over; the deadline can no longer be extended",
        "der erste Monat ist vorbei; die Frist kann nicht mehr verlängert werden",
    ),
    (
        "must be when the person was told, within the first month and not in the future",
        "muss der Zeitpunkt sein, zu dem die Person informiert wurde: im ersten Monat und nicht in der Zukunft",
    ),
    (
        "name the person or the address the request came from",
        "bitte die Person oder die Absenderadresse der Anfrage angeben",
    ),
    (
        "must be web, email, letter, phone, in_person or other",
        "muss web, email, letter, phone, in_person oder other sein",
    ),
    ("applies to objections only", "gilt nur für Widersprüche"),
    (
        "must not be in the future",
        "darf nicht in der Zukunft liegen",
    ),
    (
        "must give the reason the person will be told (at least 10 characters)",
        "muss die Begründung nennen, die der Person mitgeteilt wird (mindestens 10 Zeichen)",
    ),
    ("the request is closed", "die Anfrage ist abgeschlossen"),
    (
        "is not a person of this installation",
        "ist keine Person dieser Installation",
    ),
    (
        "must be open, closed or all",
        "muss open, closed oder all sein",
    ),
    (
        "is longer than 2000 characters",
        "ist länger als 2000 Zeichen",
    ),
    ("must be json or html", "muss json oder html sein"),
    ("must be json or csv", "muss json oder csv sein"),
    ("is not a known action", "ist keine bekannte Aktion"),
    (
        "is too short for a balancing test (at least 40 characters)",
        "ist für eine Interessenabwägung zu kurz (mindestens 40 Zeichen)",
    ),
    (
        "must name the concrete fact (at least 10 characters)",
        "muss den konkreten Anlass nennen (mindestens 10 Zeichen)",
    ),
    (
        "presumed consent applies to businesses only; a consumer needs express consent",
        "eine mutmaßliche Einwilligung gibt es nur bei Unternehmen; Verbraucher müssen ausdrücklich einwilligen",
    ),
    (
        "is not one of the person's email addresses",
        "ist keine E-Mail-Adresse dieser Person",
    ),
    ("is not a deal", "ist kein Deal"),
    (
        "is not a deal of this person",
        "ist kein Deal dieser Person",
    ),
    (
        "is not a won deal: the sale must be concluded",
        "ist kein gewonnener Deal: der Verkauf muss abgeschlossen sein",
    ),
    (
        "must be a named staff member",
        "muss ein namentlich bekanntes Konto sein",
    ),
    (
        "is not a stored wording of this purpose",
        "ist keine hinterlegte Einwilligungsformulierung dieses Zwecks",
    ),
    (
        "this wording version is already stored with another text or purpose; a stored version never changes, use a new version",
        "diese Fassung ist bereits mit einem anderen Text oder Zweck hinterlegt; eine hinterlegte Fassung ändert sich nie, bitte eine neue Fassung anlegen",
    ),
    // klar-web API
    (
        "give either email or emails, not both",
        "bitte entweder email oder emails angeben, nicht beides",
    ),
    (
        "give either phone or phones, not both",
        "bitte entweder phone oder phones angeben, nicht beides",
    ),
    (
        "must lie between 1900 and today",
        "muss zwischen 1900 und heute liegen",
    ),
    ("too many custom fields", "zu viele Zusatzfelder"),
    (
        "a person needs a first or a last name",
        "eine Person braucht einen Vor- oder Nachnamen",
    ),
    (
        "must be between 0 and 10^14",
        "muss zwischen 0 und 10^14 liegen",
    ),
    (
        "must be an RFC 3339 time such as 2026-11-29T10:00:00Z",
        "muss eine Zeitangabe nach RFC 3339 sein, etwa 2026-11-29T10:00:00Z",
    ),
    (
        "an activity concerns a person, an organization or a deal",
        "eine Aktivität betrifft eine Person, eine Organisation oder einen Deal",
    ),
    (
        "a select field needs at least one option",
        "ein Auswahlfeld braucht mindestens einen Auswahlwert",
    ),
    (
        "only select fields have options",
        "nur Auswahlfelder haben Auswahlwerte",
    ),
    ("already has an account", "hat bereits ein Konto"),
    // klar-store
    (
        "is already a stage of this pipeline",
        "ist bereits eine Phase dieser Pipeline",
    ),
    (
        "names no existing organization",
        "nennt keine vorhandene Organisation",
    ),
    (
        "names no active staff account",
        "nennt kein aktives Mitarbeiterkonto",
    ),
    (
        "is already defined for this record type",
        "ist für diese Art von Datensatz bereits angelegt",
    ),
    (
        "is not a defined custom field",
        "ist kein angelegtes Zusatzfeld",
    ),
    ("names no existing person", "nennt keine vorhandene Person"),
    ("names no existing deal", "nennt keinen vorhandenen Deal"),
    (
        "is not a stage of the pipeline",
        "ist keine Phase der Pipeline",
    ),
    (
        "may only be given for a lost deal",
        "darf nur bei einem verlorenen Deal angegeben werden",
    ),
    ("must not be negative", "darf nicht negativ sein"),
    (
        "is not a cursor this server issued",
        "ist kein Cursor, den dieser Server ausgegeben hat",
    ),
    // klar-store conflicts, shown as a notice on the page that caused them
    (
        "the stage still holds deals; move them to another stage first",
        "die Phase enthält noch Deals; verschieben Sie diese zuerst in eine andere Phase",
    ),
    (
        "a pipeline keeps at least one open stage",
        "eine Pipeline behält mindestens eine offene Phase",
    ),
    (
        "a staff account with this email exists",
        "ein Mitarbeiterkonto mit dieser E-Mail-Adresse besteht bereits",
    ),
    // domain/store: the register of processors and recipients, the disclosure log
    (
        "must be processor, joint_controller or recipient",
        "muss processor, joint_controller oder recipient sein",
    ),
    (
        "must be none, adequacy, scc, bcr or derogation",
        "muss none, adequacy, scc, bcr oder derogation sein",
    ),
    ("is not a known key", "ist kein bekannter Schlüssel"),
    (
        "must name at least one purpose",
        "muss mindestens einen Zweck nennen",
    ),
    (
        "must name at least one data category",
        "muss mindestens eine Datenkategorie nennen",
    ),
    (
        "a recipient outside the EU/EEA needs adequacy, scc, bcr or derogation",
        "ein Empfänger außerhalb von EU/EWR braucht adequacy, scc, bcr oder derogation",
    ),
    (
        "is not in the register of processors and recipients",
        "steht nicht im Verzeichnis der Auftragsverarbeiter und Empfänger",
    ),
    (
        "is not a purpose of the registry",
        "ist kein Zweck des Zweckverzeichnisses",
    ),
];

/// Messages with a variable part: `(prefix, suffix, German with {} for the part)`.
const PATTERNS_DE: &[(&str, &str, &str)] = &[
    (
        "is longer than ",
        " characters",
        "ist länger als {} Zeichen",
    ),
    ("at most ", " tags", "höchstens {} Schlagwörter"),
    (
        "names an unknown placeholder: ",
        "",
        "nennt einen unbekannten Platzhalter: {} (bekannt sind {{first_name}}, {{last_name}}, {{full_name}}, {{organization}})",
    ),
    ("at most ", " entries", "höchstens {} Einträge"),
    ("must be one of: ", "", "muss einer dieser Werte sein: {}"),
    ("must be a ", " value", "muss vom Typ {} sein"),
    (
        "must be between 1 and ",
        "",
        "muss zwischen 1 und {} liegen",
    ),
];

/// The German wording of a validation message, if it is a known one.
pub fn message_de(msg: &str) -> Option<String> {
    if let Some((_, de)) = MESSAGES_DE.iter().find(|(en, _)| *en == msg) {
        return Some((*de).to_string());
    }
    PATTERNS_DE.iter().find_map(|(prefix, suffix, de)| {
        let part = msg.strip_prefix(prefix)?.strip_suffix(suffix)?;
        if part.is_empty() {
            return None;
        }
        let part = match (*prefix, part) {
            ("must be a ", "text") => "Text",
            ("must be a ", "number") => "Zahl",
            ("must be a ", "date") => "Datum",
            ("must be a ", "bool") => "Ja/Nein",
            ("must be a ", "select") => "Auswahl",
            (_, p) => p,
        };
        Some(de.replace("{}", part))
    })
}

/// A validation message in the UI language. The JSON API keeps the English text; unknown
/// messages (and messages already taken from the catalogue) are shown as they are.
pub fn localize_message(msg: &str, t: &Tr) -> String {
    match t.locale {
        Locale::De => message_de(msg).unwrap_or_else(|| msg.to_string()),
        Locale::En => msg.to_string(),
    }
}

/// Field errors (see [`field_errors`]) with their messages in the UI language.
pub(super) fn localize_errors(errors: HashMap<String, String>, t: &Tr) -> HashMap<String, String> {
    errors
        .into_iter()
        .map(|(k, v)| {
            let v = localize_message(&v, t);
            (k, v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_land_at_their_form_field() {
        let m = field_errors(vec![
            FieldError::new("address.country", "bad"),
            FieldError::new("name", "empty"),
            FieldError::new("value_cents", "too big"),
            FieldError::new("emails[0].value", "not an address"),
        ]);
        assert_eq!(m.get("country").map(String::as_str), Some("bad"));
        assert_eq!(m.get("name").map(String::as_str), Some("empty"));
        assert_eq!(m.get("value").map(String::as_str), Some("too big"));
        assert_eq!(m.get("email").map(String::as_str), Some("not an address"));
    }

    #[test]
    fn contact_rows_and_custom_fields_have_their_own_form_fields() {
        let m = field_errors(vec![
            FieldError::new("emails[1].value", "second"),
            FieldError::new("emails[2].label", "label"),
            FieldError::new("phones[0].value", "first phone"),
            FieldError::new("phones[3].value", "fourth phone"),
            FieldError::new("phones", "too many"),
            FieldError::new("custom_fields.size", "not a size"),
            FieldError::new("custom_fields.name", "not the name"),
            FieldError::new("tags[4]", "tag"),
            FieldError::new("options[1]", "option"),
        ]);
        let get = |k: &str| m.get(k).map(String::as_str);
        assert_eq!(get("email_1"), Some("second"));
        assert_eq!(get("email_label_2"), Some("label"));
        // The first error of a field wins.
        assert_eq!(get("phone"), Some("first phone"));
        assert_eq!(get("phone_3"), Some("fourth phone"));
        assert_eq!(get("cf_size"), Some("not a size"));
        assert_eq!(get("cf_name"), Some("not the name"));
        assert_eq!(
            get("name"),
            None,
            "a custom field never lands at a record field"
        );
        assert_eq!(get("tags"), Some("tag"));
        assert_eq!(get("options"), Some("option"));
        assert_eq!(contact_id("email", 0), "email");
        assert_eq!(contact_id("phone", 2), "phone_2");
    }

    fn def(key: &str, field_type: FieldType) -> CustomFieldDef {
        CustomFieldDef {
            record_type: RecordType::Organization,
            key: key.into(),
            label: key.to_uppercase(),
            field_type,
            options: vec![],
        }
    }

    #[test]
    fn custom_field_inputs_become_api_values_and_back() {
        let defs = [
            def("note", FieldType::Text),
            def("size", FieldType::Number),
            def("ratio", FieldType::Number),
            def("odd", FieldType::Number),
            def("since", FieldType::Date),
            def("vip", FieldType::Bool),
            def("gone", FieldType::Bool),
            def("empty", FieldType::Text),
        ];
        let form: HashMap<String, String> = [
            ("cf_note", " hallo "),
            ("cf_size", "44"),
            ("cf_ratio", "1,5"),
            ("cf_odd", "viele"),
            ("cf_since", "2026-01-31"),
            ("cf_vip", "true"),
            ("cf_empty", "  "),
            ("name", "not a custom field"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let body = custom_body(&defs, &form).expect("values");
        assert_eq!(body.len(), defs.len());
        assert_eq!(body["note"], serde_json::json!("hallo"));
        assert_eq!(body["size"], serde_json::json!(44));
        assert_eq!(body["ratio"], serde_json::json!(1.5));
        assert_eq!(body["odd"], serde_json::json!("viele"));
        assert_eq!(body["since"], serde_json::json!("2026-01-31"));
        assert_eq!(body["vip"], serde_json::json!(true));
        assert_eq!(body["gone"], serde_json::json!(false));
        assert_eq!(body["empty"], Value::Null);
        assert_eq!(custom_body(&[], &form), None);

        let back = custom_form_values(&body);
        assert_eq!(back.get("cf_size").map(String::as_str), Some("44"));
        assert_eq!(back.get("cf_ratio").map(String::as_str), Some("1.5"));
        assert_eq!(back.get("cf_vip").map(String::as_str), Some("true"));
        assert_eq!(back.get("cf_gone"), None);
        assert_eq!(back.get("cf_empty"), None);
        let inputs = custom_inputs(&defs, &back, &HashMap::new());
        assert!(inputs.iter().any(|i| i.id == "cf_vip" && i.is_checked()));
        assert!(inputs.iter().any(|i| i.id == "cf_gone" && !i.is_checked()));
    }

    #[test]
    fn messages_are_german_for_german_users_only() {
        let de = Tr { locale: Locale::De };
        let en = Tr { locale: Locale::En };
        assert_eq!(
            localize_message("must not be empty", &de),
            "darf nicht leer sein"
        );
        assert_eq!(
            localize_message("must not be empty", &en),
            "must not be empty"
        );
        assert_eq!(
            localize_message("is longer than 100 characters", &de),
            "ist länger als 100 Zeichen"
        );
        assert_eq!(
            localize_message("must be one of: S, M, L", &de),
            "muss einer dieser Werte sein: S, M, L"
        );
        assert_eq!(
            localize_message("must be a number value", &de),
            "muss vom Typ Zahl sein"
        );
        // Not a known message (or already German): shown as it is.
        assert_eq!(localize_message("ist kein Betrag", &de), "ist kein Betrag");
    }

    /// The string literals a validation message is made of, found by a plain text scan:
    /// the message argument of `ValueError::new(..)`, `errs.push(_, ..)` and
    /// `DomainError::field(_, ..)` and `StoreError::Conflict(..)`, also inside
    /// `format!(..)` (placeholders become `7`).
    fn messages_in(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (needle, arg) in [
            ("ValueError::new(", 0),
            ("errs.push(", 1),
            ("DomainError::field(", 1),
            ("StoreError::Conflict(", 0),
        ] {
            for (at, _) in src.match_indices(needle) {
                if let Some(m) = literal_arg(&src[at + needle.len()..], arg) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// The `n`th argument of a call (text just after its `(`) if it is a string literal
    /// or a `format!` of one.
    fn literal_arg(args: &str, n: usize) -> Option<String> {
        let mut rest = args;
        for _ in 0..n {
            rest = &rest[top_level_comma(rest)? + 1..];
        }
        let rest = rest.trim_start();
        let rest = rest
            .strip_prefix("format!(")
            .map_or(rest, str::trim_start)
            .strip_prefix('"')?;
        let mut lit = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(placeholders_filled(&lit)),
                '\\' => lit.push(chars.next()?),
                c => lit.push(c),
            }
        }
        None
    }

    /// The position of the comma that ends the first argument.
    fn top_level_comma(s: &str) -> Option<usize> {
        let mut depth = 0i32;
        let mut in_str = false;
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            if in_str {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => in_str = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_str = true,
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth == 0 => return None,
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 => return Some(i),
                _ => {}
            }
        }
        None
    }

    fn placeholders_filled(s: &str) -> String {
        let mut out = String::new();
        let mut in_placeholder = false;
        for c in s.chars() {
            match c {
                '{' => in_placeholder = true,
                '}' if in_placeholder => {
                    in_placeholder = false;
                    out.push('7');
                }
                _ if in_placeholder => {}
                c => out.push(c),
            }
        }
        out
    }

    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn every_validation_message_has_a_german_wording() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        rust_files(&root.join("../klar-domain/src"), &mut files);
        rust_files(&root.join("../klar-store/src"), &mut files);
        for e in std::fs::read_dir(root.join("src/api")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
        let mut found = 0;
        let mut missing = Vec::new();
        for f in &files {
            let src = std::fs::read_to_string(f).unwrap();
            for m in messages_in(&src) {
                found += 1;
                if message_de(&m).is_none() {
                    missing.push(format!("{}: {m:?}", f.display()));
                }
            }
        }
        assert!(found >= 50, "the scan found only {found} messages");
        assert!(
            missing.is_empty(),
            "add these messages to MESSAGES_DE or PATTERNS_DE in ui/forms.rs:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn the_message_scan_reads_calls_over_several_lines_and_format_strings() {
        let src = r#"
            errs.push(
                format!("custom_fields.{k}"),
                "is not a defined custom field",
            );
            errs.push("tags", format!("at most {} tags", limits::MAX_TAGS));
            errs.push(format!("custom_fields.{k}"), e.0);
            Err(ValueError::new(format!(
                "is longer than {max_chars} characters"
            )))
            DomainError::field("key", "say \"hi\", then go")
            return Err(StoreError::Conflict(
                "the stage still holds deals".into(),
            ));
        "#;
        let mut got = messages_in(src);
        got.sort();
        assert_eq!(
            got,
            [
                "at most 7 tags",
                "is longer than 7 characters",
                "is not a defined custom field",
                "say \"hi\", then go",
                "the stage still holds deals",
            ]
        );
    }
}
