//! `/api/v1/persons`

use super::common::{
    List, StampOut, double_option, field_id, idempotent_create, limit, merge_custom, path_id,
};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use klar_domain::DomainError;
use klar_domain::email::Email;
use klar_domain::error::Errors;
use klar_domain::ids::{OrganizationId, PersonId, UserId};
use klar_domain::phone::Phone;
use klar_domain::records::{
    Address, LabeledEmail, LabeledPhone, Person, PersonKind, parse_country, parse_tag,
};
use klar_domain::role::Permission;
use klar_domain::text::{bounded, limits, optional_line};
use klar_store::audit::{AuditAction, AuditEntry};
use klar_store::persons::{NewPerson, PersonEdit, PersonFilter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// An email address or phone number with a label such as `work`, `private`, `mobile`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabeledValue {
    #[serde(default)]
    pub label: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    pub street: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country: Option<String>,
}

/// The fields of a person. On `POST` at least a first or last name is required; on
/// `PATCH` only the fields present change, and `null` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonBody {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Shortcut for the primary email address.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Shortcut for the primary phone number; any common form, stored as E.164.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// All email addresses (replaces the list); the first is the primary one.
    pub emails: Option<Vec<LabeledValue>>,
    /// All phone numbers (replaces the list); the first is the primary one.
    pub phones: Option<Vec<LabeledValue>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<AddressBody>)]
    pub address: Option<Option<AddressBody>>,
    /// `YYYY-MM-DD`
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub birthday: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// `consumer` (default) or `business`.
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub organization_id: Option<Option<String>>,
    /// The staff account responsible; defaults to the creator.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub source: Option<Option<String>>,
    /// Values of custom fields by key; `null` removes a value.
    pub custom_fields: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonOut {
    pub id: String,
    pub kind: String,
    pub first_name: String,
    pub last_name: String,
    /// The primary email address.
    pub email: Option<String>,
    /// The primary phone number (E.164).
    pub phone: Option<String>,
    pub emails: Vec<LabeledValue>,
    pub phones: Vec<LabeledValue>,
    pub address: Option<AddressBody>,
    pub birthday: Option<String>,
    pub notes: Option<String>,
    pub organization_id: Option<String>,
    pub owner_id: Option<String>,
    pub tags: Vec<String>,
    pub source: Option<String>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    #[serde(flatten)]
    pub stamp: StampOut,
}

impl From<&Person> for PersonOut {
    fn from(p: &Person) -> Self {
        let d = &p.personal;
        PersonOut {
            id: p.id.to_string(),
            kind: p.kind.as_str().into(),
            first_name: d.first_name.clone(),
            last_name: d.last_name.clone(),
            email: d.primary_email().map(ToString::to_string),
            phone: d.primary_phone().map(ToString::to_string),
            emails: d
                .emails
                .iter()
                .map(|e| LabeledValue {
                    label: Some(e.label.clone()),
                    value: e.value.to_string(),
                })
                .collect(),
            phones: d
                .phones
                .iter()
                .map(|e| LabeledValue {
                    label: Some(e.label.clone()),
                    value: e.value.to_string(),
                })
                .collect(),
            address: d.address.as_ref().map(|a| AddressBody {
                street: a.street.clone(),
                postal_code: a.postal_code.clone(),
                city: a.city.clone(),
                country: a.country.clone(),
            }),
            birthday: d.birthday.map(|b| b.to_string()),
            notes: d.notes.clone(),
            organization_id: p.organization_id.map(|o| o.to_string()),
            owner_id: p.owner_id.map(|o| o.to_string()),
            tags: p.tags.clone(),
            source: p.source.clone(),
            custom_fields: d.custom.clone(),
            stamp: StampOut::from(&p.stamp),
        }
    }
}

/// Applies the fields present in `b` to `e`, collecting every field error.
pub fn apply(
    b: &PersonBody,
    e: &mut PersonEdit,
    today: jiff::civil::Date,
) -> Result<(), DomainError> {
    let mut errs = Errors::new();
    let p = &mut e.personal;
    if let Some(v) = &b.first_name
        && let Some(v) = errs.take("first_name", optional_line(Some(v), limits::NAME))
    {
        p.first_name = v.unwrap_or_default();
    }
    if let Some(v) = &b.last_name
        && let Some(v) = errs.take("last_name", optional_line(Some(v), limits::NAME))
    {
        p.last_name = v.unwrap_or_default();
    }
    if b.email.is_some() && b.emails.is_some() {
        errs.push("email", "give either email or emails, not both");
    } else if let Some(list) = &b.emails {
        p.emails = labeled(list, "emails", "work", &mut errs, Email::parse)
            .into_iter()
            .map(|(label, value)| LabeledEmail { label, value })
            .collect();
    } else if let Some(v) = &b.email {
        match v {
            None => {
                if !p.emails.is_empty() {
                    p.emails.remove(0);
                }
            }
            Some(s) => {
                if let Some(value) = errs.take("email", Email::parse(s)) {
                    match p.emails.first_mut() {
                        Some(first) => first.value = value,
                        None => p.emails.push(LabeledEmail {
                            label: "work".into(),
                            value,
                        }),
                    }
                }
            }
        }
    }
    if b.phone.is_some() && b.phones.is_some() {
        errs.push("phone", "give either phone or phones, not both");
    } else if let Some(list) = &b.phones {
        p.phones = labeled(list, "phones", "work", &mut errs, Phone::parse)
            .into_iter()
            .map(|(label, value)| LabeledPhone { label, value })
            .collect();
    } else if let Some(v) = &b.phone {
        match v {
            None => {
                if !p.phones.is_empty() {
                    p.phones.remove(0);
                }
            }
            Some(s) => {
                if let Some(value) = errs.take("phone", Phone::parse(s)) {
                    match p.phones.first_mut() {
                        Some(first) => first.value = value,
                        None => p.phones.push(LabeledPhone {
                            label: "work".into(),
                            value,
                        }),
                    }
                }
            }
        }
    }
    if let Some(a) = &b.address {
        p.address = match a {
            None => None,
            Some(a) => parse_address(a, "address", &mut errs),
        };
    }
    if let Some(v) = &b.birthday {
        p.birthday = match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match s.parse::<jiff::civil::Date>() {
                Ok(d) if d <= today && d.year() >= 1900 => Some(d),
                Ok(_) => {
                    errs.push("birthday", "must lie between 1900 and today");
                    None
                }
                Err(_) => {
                    errs.push("birthday", "must be a date (YYYY-MM-DD)");
                    None
                }
            },
        };
    }
    if let Some(v) = &b.notes {
        p.notes = match v {
            None => None,
            Some(s) => errs
                .take("notes", bounded(s, limits::NOTES))
                .filter(|s| !s.is_empty()),
        };
    }
    if let Some(k) = &b.kind
        && let Some(k) = errs.take("kind", PersonKind::parse(k))
    {
        e.kind = k;
    }
    if let Some(v) = &b.organization_id {
        e.organization_id = field_id::<OrganizationId>(v.as_deref(), "organization_id", &mut errs);
    }
    if let Some(v) = &b.owner_id {
        e.owner_id = field_id::<UserId>(v.as_deref(), "owner_id", &mut errs);
    }
    if let Some(tags) = &b.tags {
        if tags.len() > limits::MAX_TAGS {
            errs.push("tags", format!("at most {} tags", limits::MAX_TAGS));
        }
        e.tags = tags
            .iter()
            .enumerate()
            .filter_map(|(i, t)| errs.take(&format!("tags[{i}]"), parse_tag(t)))
            .collect();
    }
    if let Some(v) = &b.source {
        e.source = match v {
            None => None,
            Some(s) => errs
                .take("source", optional_line(Some(s), limits::LINE))
                .flatten(),
        };
    }
    if let Some(cf) = &b.custom_fields {
        if cf.len() > limits::MAX_CUSTOM_FIELDS {
            errs.push("custom_fields", "too many custom fields");
        }
        merge_custom(&mut e.personal.custom, cf);
    }
    if e.personal.first_name.is_empty() && e.personal.last_name.is_empty() {
        errs.push("last_name", "a person needs a first or a last name");
    }
    errs.finish()
}

fn labeled<T>(
    list: &[LabeledValue],
    field: &str,
    default_label: &str,
    errs: &mut Errors,
    parse: impl Fn(&str) -> Result<T, klar_domain::error::ValueError>,
) -> Vec<(String, T)> {
    if list.len() > limits::MAX_CONTACTS {
        errs.push(field, format!("at most {} entries", limits::MAX_CONTACTS));
        return vec![];
    }
    let mut out = Vec::new();
    for (i, lv) in list.iter().enumerate() {
        let label = match &lv.label {
            None => Some(default_label.to_string()),
            Some(l) => errs
                .take(
                    &format!("{field}[{i}].label"),
                    optional_line(Some(l), limits::LABEL),
                )
                .map(|l| l.unwrap_or_else(|| default_label.to_string())),
        };
        let value = errs.take(&format!("{field}[{i}].value"), parse(&lv.value));
        if let (Some(l), Some(v)) = (label, value) {
            out.push((l, v));
        }
    }
    out
}

pub fn parse_address(a: &AddressBody, field: &str, errs: &mut Errors) -> Option<Address> {
    let line = |errs: &mut Errors, name: &str, v: &Option<String>, max| {
        errs.take(&format!("{field}.{name}"), optional_line(v.as_deref(), max))
            .flatten()
    };
    let addr = Address {
        street: line(errs, "street", &a.street, limits::LINE),
        postal_code: line(errs, "postal_code", &a.postal_code, 20),
        city: line(errs, "city", &a.city, limits::LINE),
        country: match a
            .country
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(c) => errs.take(&format!("{field}.country"), parse_country(c)),
        },
    };
    (!addr.is_empty()).then_some(addr)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PersonQuery {
    /// Search: name prefixes (each word narrows down; umlauts fold, so "mul" finds "Müller"), or an exact email address or phone number (any common form).
    pub q: Option<String>,
    pub tag: Option<String>,
    pub owner_id: Option<String>,
    pub organization_id: Option<String>,
    pub kind: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl PersonQuery {
    pub fn filter(&self) -> AppResult<PersonFilter> {
        let mut errs = Errors::new();
        let f = PersonFilter {
            q: self.q.clone(),
            tag: self.tag.clone(),
            owner: field_id(self.owner_id.as_deref(), "owner_id", &mut errs),
            organization: field_id(
                self.organization_id.as_deref(),
                "organization_id",
                &mut errs,
            ),
            kind: self
                .kind
                .as_deref()
                .and_then(|k| errs.take("kind", PersonKind::parse(k))),
            cursor: self.cursor.clone(),
            limit: limit(self.limit)?,
        };
        if let Some(q) = &self.q
            && q.chars().count() > 200
        {
            errs.push("q", "is longer than 200 characters");
        }
        errs.finish()?;
        Ok(f)
    }
}

/// List and search persons.
#[utoipa::path(get, path = "/api/v1/persons", tag = "persons", params(PersonQuery),
    responses((status = 200, body = List<PersonOut>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list_persons(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PersonQuery>,
) -> AppResult<Json<List<PersonOut>>> {
    auth.require(Permission::ReadCrm)?;
    let page = state.store.list_persons(&q.filter()?)?;
    audit_listed(&state, &auth, page.items.iter().map(|p| p.id));
    Ok(Json(List {
        items: page.items.iter().map(PersonOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Create a person. Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/persons", tag = "persons", request_body = PersonBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses((status = 201, body = PersonOut), (status = 400, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create_person(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: ApiJson<PersonBody>,
) -> AppResult<Response> {
    auth.require(Permission::WriteCrm)?;
    let new = new_person(&body.value, &auth, state.store.now())?;
    let actor = auth.actor();
    idempotent_create(
        &state,
        &auth,
        &headers,
        "POST /api/v1/persons",
        &body.raw,
        move |store| {
            let p = store.create_person(actor, new)?;
            Ok((p.id.to_string(), PersonOut::from(&p)))
        },
        |store, id| Ok(PersonOut::from(&store.get_person(path_id(id, "person")?)?)),
    )
    .await
}

pub fn new_person(b: &PersonBody, auth: &Auth, now: jiff::Timestamp) -> AppResult<NewPerson> {
    let mut e = PersonEdit {
        kind: PersonKind::Consumer,
        organization_id: None,
        owner_id: Some(auth.user.id),
        source: None,
        tags: vec![],
        personal: Default::default(),
    };
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    apply(b, &mut e, today)?;
    Ok(NewPerson {
        kind: e.kind,
        organization_id: e.organization_id,
        owner_id: e.owner_id,
        source: e.source,
        tags: e.tags,
        personal: e.personal,
    })
}

/// Read one person.
#[utoipa::path(get, path = "/api/v1/persons/{id}", tag = "persons", params(("id" = String, Path)),
    responses((status = 200, body = PersonOut), (status = 404, body = Problem)))]
pub async fn get_person(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<PersonOut>> {
    let pid: PersonId = match path_id(&id, "person") {
        Ok(pid) => pid,
        // Without any way to read persons, a malformed id is refused like any other.
        Err(e) => {
            auth.require(Permission::ReadCrm)?;
            return Err(e);
        }
    };
    let grant = auth.can_read_person(&state.store, pid)?;
    let p = state.store.get_person(pid).map_err(|e| match e {
        klar_store::StoreError::NotFound => AppError::NotFound("no person with this id".into()),
        other => other.into(),
    })?;
    state
        .store
        .audit(auth.person_read_entry(pid, grant.as_deref()));
    Ok(Json(PersonOut::from(&p)))
}

/// Change a person: only the fields present change; `null` clears.
#[utoipa::path(patch, path = "/api/v1/persons/{id}", tag = "persons", params(("id" = String, Path)), request_body = PersonBody,
    responses((status = 200, body = PersonOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_person(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<PersonBody>,
) -> AppResult<Json<PersonOut>> {
    auth.require(Permission::WriteCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    super::privacy::ensure_changeable(&state, &auth, pid)?;
    let actor = auth.actor();
    let b = body.value;
    let p = state
        .blocking(move |store| {
            let today = store.now().to_zoned(jiff::tz::TimeZone::UTC).date();
            Ok(store.update_person(actor, pid, |e| apply(&b, e, today))?)
        })
        .await?;
    Ok(Json(PersonOut::from(&p)))
}

/// Erase a person (Art. 17 GDPR): her data key is destroyed and her records removed.
///
/// Everything about her goes, everywhere; deals stay without her, the audit trail (ids
/// only) and the suppression list (keyed hashes) stay. A second erasure of the same person
/// is answered `410 Gone` and changes nothing.
#[utoipa::path(delete, path = "/api/v1/persons/{id}", tag = "persons", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 410, body = Problem)))]
pub async fn delete_person(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<StatusCode> {
    auth.require(Permission::WriteCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    if state.store.person_kind(pid).is_ok() {
        super::privacy::ensure_changeable(&state, &auth, pid)?;
    }
    let actor = auth.actor();
    state
        .blocking(move |store| {
            store.erase_person(actor, pid).map_err(|e| match e {
                klar_store::StoreError::NotFound => {
                    AppError::NotFound("no person with this id".into())
                }
                other => other.into(),
            })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records that these persons were shown in a list (names and addresses were read).
pub fn audit_listed(state: &AppState, auth: &Auth, ids: impl Iterator<Item = PersonId>) {
    let actor = auth.actor();
    state
        .store
        .audit_all(ids.map(|pid| AuditEntry::new(actor, AuditAction::PersonList).person(pid)));
}
