//! Person pages: list with search-as-you-type, detail with timeline, create and edit forms.

use super::forms::{
    CustomInput, contact_id, custom_body, custom_defs, custom_facts, custom_form_values,
    custom_inputs, field_errors, localize_errors, localize_message, not_found_page, opt,
    org_options, page_error,
};
use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::api::activities::ActivityBody;
use crate::api::persons::{AddressBody, LabeledValue, PersonBody, apply, new_person};
use crate::auth::{Auth, Credential};
use crate::error::AppError;
use crate::extract::{ApiPath, ApiQuery, UiForm};
use crate::i18n::Tr;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::FieldError;
use klar_domain::ids::PersonId;
use klar_domain::records::{
    Activity, CustomFieldDef, Deal, Organization, Person, PersonKind, RecordType,
};
use klar_domain::role::Permission;
use klar_domain::text::limits;
use klar_store::activities::ActivityFilter;
use klar_store::audit::{AuditAction, AuditEntry};
use klar_store::deals::DealFilter;
use klar_store::persons::{PersonEdit, PersonFilter};
use serde::Deserialize;
use std::collections::HashMap;

/// One row of the persons table.
pub struct PersonRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub organization: String,
    pub tags: String,
}

#[derive(Template)]
#[template(path = "persons/list.html")]
pub struct PersonsListPage {
    pub p: Layout,
    pub q: String,
    pub tag: String,
    pub kind: String,
    pub mine: bool,
    pub tags: Vec<String>,
    pub rows: Vec<PersonRow>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "persons/_rows.html")]
pub struct PersonRowsPartial {
    pub p: Layout,
    pub rows: Vec<PersonRow>,
    pub next: Option<String>,
    pub q: String,
    pub tag: String,
    pub kind: String,
    pub mine: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    kind: String,
    /// `1`: only persons the logged-in user is responsible for.
    #[serde(default)]
    mine: String,
    #[serde(default)]
    cursor: String,
}

fn rows(
    state: &AppState,
    s: &UiSession,
    params: &ListParams,
) -> Result<(Vec<PersonRow>, Option<String>), AppError> {
    let f = PersonFilter {
        owner: (params.mine == "1").then_some(s.session.user.id),
        q: Some(params.q.clone()).filter(|s| !s.trim().is_empty()),
        tag: Some(params.tag.clone()).filter(|s| !s.is_empty()),
        kind: PersonKind::parse(&params.kind).ok(),
        cursor: Some(params.cursor.clone()).filter(|s| !s.is_empty()),
        limit: 50,
        ..Default::default()
    };
    let page = state.store.list_persons(&f)?;
    super::audit_listed(state, &s.layout("persons"), page.items.iter().map(|x| x.id));
    let org_ids: Vec<_> = {
        let mut v: Vec<_> = page
            .items
            .iter()
            .filter_map(|p| p.organization_id)
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let orgs: HashMap<_, _> = state
        .store
        .organizations_by_ids(&org_ids)?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let rows = page
        .items
        .iter()
        .map(|p| PersonRow {
            id: p.id.to_string(),
            name: p.personal.display_name(),
            email: p
                .personal
                .primary_email()
                .map(ToString::to_string)
                .unwrap_or_default(),
            phone: p
                .personal
                .primary_phone()
                .map(ToString::to_string)
                .unwrap_or_default(),
            organization: p
                .organization_id
                .and_then(|o| orgs.get(&o).cloned())
                .unwrap_or_default(),
            tags: p.tags.join(", "),
        })
        .collect();
    Ok((rows, page.next_cursor))
}

pub async fn persons_list_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Response {
    if let Err(r) = s.require(Permission::ReadCrm) {
        return r;
    }
    let result = rows(&state, &s, &params)
        .and_then(|(rows, next)| Ok((rows, next, state.store.list_tags()?)));
    match result {
        Ok((rows, next, tags)) => render(
            StatusCode::OK,
            &PersonsListPage {
                p: s.layout("persons"),
                q: params.q,
                tag: params.tag,
                kind: params.kind,
                mine: params.mine == "1",
                tags,
                rows,
                next,
            },
        ),
        Err(e) => e.into_response(),
    }
}

/// The table body alone, for search-as-you-type.
pub async fn persons_rows_partial(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Response {
    if let Err(r) = s.require(Permission::ReadCrm) {
        return r;
    }
    match rows(&state, &s, &params) {
        Ok((rows, next)) => render(
            StatusCode::OK,
            &PersonRowsPartial {
                p: s.layout("persons"),
                rows,
                next,
                q: params.q,
                tag: params.tag,
                kind: params.kind,
                mine: params.mine == "1",
            },
        ),
        Err(e) => e.into_response(),
    }
}

/// The values of the person form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct PersonForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub organization_id: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub birthday: String,
    #[serde(default)]
    pub notes: String,
    /// The contact rows (`email_label_{i}`, `email_{i}`, `phone_label_{i}`, `phone_{i}`)
    /// and the custom fields (`cf_{key}`), by input name.
    #[serde(flatten)]
    pub extra: HashMap<String, String>,
}

/// The labels a contact row offers; another label (given through the API) is kept.
const CONTACT_LABELS: [&str; 4] = ["work", "private", "mobile", "home"];

/// The form offers an empty row for one more email or phone while there are fewer
/// entries than this.
const CONTACT_ROWS: usize = 5;

/// The contact rows of a form as `(label, value)`: rows `{prefix}_label_{i}` and
/// `{prefix}_{i}` up to the highest one present. Rows beyond what the API takes are
/// ignored.
fn contact_rows(extra: &HashMap<String, String>, prefix: &str) -> Vec<(String, String)> {
    let row_of = |k: &str| -> Option<usize> {
        let rest = k.strip_prefix(prefix)?.strip_prefix('_')?;
        let rest = rest.strip_prefix("label_").unwrap_or(rest);
        rest.parse::<usize>()
            .ok()
            .filter(|i| *i < limits::MAX_CONTACTS)
    };
    let n = extra
        .keys()
        .filter_map(|k| row_of(k))
        .max()
        .map_or(0, |m| m + 1);
    let get = |k: String| extra.get(&k).cloned().unwrap_or_default();
    (0..n)
        .map(|i| {
            (
                get(format!("{prefix}_label_{i}")),
                get(format!("{prefix}_{i}")),
            )
        })
        .collect()
}

/// The rows with a value, as the API's list (the first is the primary one), and the
/// row each entry came from.
fn contact_list(rows: &[(String, String)]) -> (Vec<LabeledValue>, Vec<usize>) {
    rows.iter()
        .enumerate()
        .filter(|(_, (_, value))| !value.trim().is_empty())
        .map(|(i, (label, value))| {
            (
                LabeledValue {
                    label: opt(label),
                    value: value.trim().to_string(),
                },
                i,
            )
        })
        .unzip()
}

/// Puts a record's entries into the form as rows, plus an empty row for one more.
fn put_rows<'a>(
    extra: &mut HashMap<String, String>,
    prefix: &str,
    entries: impl Iterator<Item = (&'a str, String)>,
) {
    let mut n = 0;
    for (i, (label, value)) in entries.enumerate() {
        extra.insert(format!("{prefix}_label_{i}"), label.to_string());
        extra.insert(format!("{prefix}_{i}"), value);
        n = i + 1;
    }
    if n < CONTACT_ROWS {
        extra.insert(format!("{prefix}_label_{n}"), "work".into());
        extra.insert(format!("{prefix}_{n}"), String::new());
    }
}

/// One email or phone row of the form.
pub struct ContactRowView {
    /// The value input's id, which also names its error: `email`, `email_1`, …
    pub id: String,
    /// The value input's name: `email_0`, `email_1`, …
    pub name: String,
    /// Id and name of the label select: `email_label_0`, …
    pub label_id: String,
    /// The input type: `email` or `tel`.
    pub kind: &'static str,
    /// `E-Mail`, `E-Mail 2`, …
    pub caption: String,
    pub value: String,
    /// The selected label.
    pub label: String,
    /// `(label, text)` of the select.
    pub options: Vec<(String, String)>,
    pub error: String,
    pub label_error: String,
}

fn contact_views(
    extra: &HashMap<String, String>,
    prefix: &str,
    kind: &'static str,
    errors: &HashMap<String, String>,
    t: &Tr,
) -> Vec<ContactRowView> {
    let title = t.get(&format!("field-{prefix}"));
    contact_rows(extra, prefix)
        .into_iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let label = if label.trim().is_empty() {
                "work".to_string()
            } else {
                label
            };
            let mut options: Vec<(String, String)> = CONTACT_LABELS
                .iter()
                .map(|l| (l.to_string(), t.get(&format!("label-{l}")).to_string()))
                .collect();
            if !CONTACT_LABELS.contains(&label.as_str()) {
                options.push((label.clone(), label.clone()));
            }
            let id = contact_id(prefix, i);
            let label_id = format!("{prefix}_label_{i}");
            ContactRowView {
                name: format!("{prefix}_{i}"),
                kind,
                caption: if i == 0 {
                    title.to_string()
                } else {
                    format!("{title} {}", i + 1)
                },
                value,
                label,
                options,
                error: errors.get(&id).cloned().unwrap_or_default(),
                label_error: errors.get(&label_id).cloned().unwrap_or_default(),
                id,
                label_id,
            }
        })
        .collect()
}

impl PersonForm {
    /// Re-roots the errors of the API's email and phone lists, which count only the
    /// rows with a value, at the rows of the form.
    fn errors_at_rows(&self, errs: Vec<FieldError>) -> Vec<FieldError> {
        let (_, email_rows) = contact_list(&contact_rows(&self.extra, "email"));
        let (_, phone_rows) = contact_list(&contact_rows(&self.extra, "phone"));
        errs.into_iter()
            .map(|mut e| {
                for (list, rows) in [("emails[", &email_rows), ("phones[", &phone_rows)] {
                    let moved = e
                        .field
                        .strip_prefix(list)
                        .and_then(|r| r.split_once(']'))
                        .and_then(|(k, rest)| {
                            let row = rows.get(k.parse::<usize>().ok()?)?;
                            Some(format!("{list}{row}]{rest}"))
                        });
                    if let Some(f) = moved {
                        e.field = f;
                    }
                }
                e
            })
            .collect()
    }

    /// The form as an API body: an empty field clears the value, the email and phone
    /// rows with a value replace the lists.
    fn body(&self, defs: &[CustomFieldDef]) -> PersonBody {
        let address = AddressBody {
            street: opt(&self.street),
            postal_code: opt(&self.postal_code),
            city: opt(&self.city),
            country: opt(&self.country),
        };
        let empty = address.street.is_none()
            && address.postal_code.is_none()
            && address.city.is_none()
            && address.country.is_none();
        PersonBody {
            first_name: Some(self.first_name.clone()),
            last_name: Some(self.last_name.clone()),
            emails: Some(contact_list(&contact_rows(&self.extra, "email")).0),
            phones: Some(contact_list(&contact_rows(&self.extra, "phone")).0),
            address: Some((!empty).then_some(address)),
            birthday: Some(opt(&self.birthday)),
            notes: Some(opt(&self.notes)),
            kind: Some(if self.kind.is_empty() {
                "consumer".into()
            } else {
                self.kind.clone()
            }),
            organization_id: Some(opt(&self.organization_id)),
            tags: Some(
                self.tags
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect(),
            ),
            source: Some(opt(&self.source)),
            custom_fields: custom_body(defs, &self.extra),
            ..Default::default()
        }
    }

    /// An empty form: one empty email and phone row.
    fn new_form() -> Self {
        let mut extra = HashMap::new();
        put_rows(&mut extra, "email", std::iter::empty());
        put_rows(&mut extra, "phone", std::iter::empty());
        PersonForm {
            kind: "consumer".into(),
            extra,
            ..Default::default()
        }
    }

    fn from_person(p: &Person) -> Self {
        let d = &p.personal;
        let a = d.address.clone().unwrap_or_default();
        let mut extra = custom_form_values(&d.custom);
        put_rows(
            &mut extra,
            "email",
            d.emails
                .iter()
                .map(|e| (e.label.as_str(), e.value.to_string())),
        );
        put_rows(
            &mut extra,
            "phone",
            d.phones
                .iter()
                .map(|e| (e.label.as_str(), e.value.to_string())),
        );
        PersonForm {
            csrf: String::new(),
            first_name: d.first_name.clone(),
            last_name: d.last_name.clone(),
            kind: p.kind.as_str().into(),
            organization_id: p.organization_id.map(|o| o.to_string()).unwrap_or_default(),
            tags: p.tags.join(", "),
            source: p.source.clone().unwrap_or_default(),
            street: a.street.unwrap_or_default(),
            postal_code: a.postal_code.unwrap_or_default(),
            city: a.city.unwrap_or_default(),
            country: a.country.unwrap_or_default(),
            birthday: d.birthday.map(|b| b.to_string()).unwrap_or_default(),
            notes: d.notes.clone().unwrap_or_default(),
            extra,
        }
    }
}

#[derive(Template)]
#[template(path = "persons/form.html")]
pub struct PersonFormPage {
    pub p: Layout,
    pub action: String,
    pub cancel: String,
    pub f: PersonForm,
    pub orgs: Vec<(String, String)>,
    pub errors: HashMap<String, String>,
    pub emails: Vec<ContactRowView>,
    pub phones: Vec<ContactRowView>,
    pub custom: Vec<CustomInput>,
}

impl PersonFormPage {
    pub fn custom_inputs(&self) -> &[CustomInput] {
        &self.custom
    }

    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }
}

fn form_page(
    state: &AppState,
    p: Layout,
    action: String,
    cancel: String,
    f: PersonForm,
    errors: HashMap<String, String>,
    status: StatusCode,
) -> Response {
    let loaded = org_options(state, None)
        .and_then(|orgs| Ok((orgs, custom_defs(state, RecordType::Person)?)));
    let (orgs, defs) = match loaded {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let errors = localize_errors(errors, &p.t);
    let emails = contact_views(&f.extra, "email", "email", &errors, &p.t);
    let phones = contact_views(&f.extra, "phone", "tel", &errors, &p.t);
    let custom = custom_inputs(&defs, &f.extra, &errors);
    render(
        status,
        &PersonFormPage {
            p,
            action,
            cancel,
            f,
            orgs,
            errors,
            emails,
            phones,
            custom,
        },
    )
}

pub async fn persons_new_page(State(state): State<AppState>, s: UiSession) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    let f = PersonForm::new_form();
    form_page(
        &state,
        s.layout("persons"),
        "/persons".into(),
        "/persons".into(),
        f,
        HashMap::new(),
        StatusCode::OK,
    )
}

pub(super) fn auth_of(s: &UiSession) -> Auth {
    Auth {
        user: s.session.user.clone(),
        credential: Credential::Session {
            csrf_token: s.session.csrf_token.clone(),
        },
    }
}

pub async fn persons_create_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<PersonForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let defs = match custom_defs(&state, RecordType::Person) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let auth = auth_of(&s);
    let new = match new_person(&f.body(&defs), &auth, state.store.now()) {
        Ok(n) => n,
        Err(AppError::Invalid(errs)) => {
            let errors = field_errors(f.errors_at_rows(errs));
            return form_page(
                &state,
                s.layout("persons"),
                "/persons".into(),
                "/persons".into(),
                f,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(e) => return e.into_response(),
    };
    let actor = auth.actor();
    match state
        .blocking(move |store| Ok(store.create_person(actor, new)?))
        .await
    {
        Ok(p) => Redirect::to(&format!("/persons/{}", p.id)).into_response(),
        Err(AppError::Invalid(errs)) => {
            let errors = field_errors(f.errors_at_rows(errs));
            form_page(
                &state,
                s.layout("persons"),
                "/persons".into(),
                "/persons".into(),
                f,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => e.into_response(),
    }
}

pub async fn persons_edit_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    let Ok(pid) = id.parse::<PersonId>() else {
        return not_found_page(&s, "persons");
    };
    match state.store.get_person(pid) {
        Ok(p) => {
            state.store.audit(
                AuditEntry::new(s.layout("persons").actor(), AuditAction::PersonRead).person(pid),
            );
            form_page(
                &state,
                s.layout("persons"),
                format!("/persons/{pid}"),
                format!("/persons/{pid}"),
                PersonForm::from_person(&p),
                HashMap::new(),
                StatusCode::OK,
            )
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

pub async fn persons_update_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<PersonForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let Ok(pid) = id.parse::<PersonId>() else {
        return AppError::NotFound("no person with this id".into()).into_response();
    };
    if let Err(e) = crate::api::privacy::ensure_changeable(&state, &auth_of(&s), pid) {
        return page_error(&s, "persons", e);
    }
    let defs = match custom_defs(&state, RecordType::Person) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let body = f.body(&defs);
    let actor = auth_of(&s).actor();
    let result = state
        .blocking(move |store| {
            let today = store.now().to_zoned(jiff::tz::TimeZone::UTC).date();
            Ok(store.update_person(actor, pid, |e: &mut PersonEdit| apply(&body, e, today))?)
        })
        .await;
    match result {
        Ok(_) => Redirect::to(&format!("/persons/{pid}")).into_response(),
        Err(AppError::Invalid(errs)) => {
            let errors = field_errors(f.errors_at_rows(errs));
            form_page(
                &state,
                s.layout("persons"),
                format!("/persons/{pid}"),
                format!("/persons/{pid}"),
                f,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "persons/show.html")]
pub struct PersonShowPage {
    pub p: Layout,
    pub person: Person,
    pub organization: Option<Organization>,
    pub activities: Vec<Activity>,
    pub deals: Vec<Deal>,
    pub activity_error: String,
    /// `(label, value)` of the custom fields with a value.
    pub custom_facts: Vec<(String, String)>,
    /// The email of the staff member responsible for her.
    pub owner: Option<String>,
    /// An active restriction of processing (Art. 18).
    pub restriction: Option<klar_store::privacy::Restriction>,
    /// The "may we?" panel: the gate's answer for every active purpose and its channels.
    pub may_we: Vec<MayWeRow>,
    /// Purposes that rest on consent, `(key, name)`, for the consent form.
    pub consent_purposes: Vec<(String, String)>,
    /// Stored consent wordings as `(version, "purpose: version (locale)")`.
    pub wordings: Vec<(String, String)>,
    /// All active purposes, `(key, name)`, for the objection form.
    pub all_purposes: Vec<(String, String)>,
    pub privacy_error: String,
    pub grounds: GroundsView,
    /// "Kept until … because …": each ground that still holds, `(until, reason)`; `until`
    /// is empty for an open-ended ground (e.g. until withdrawal).
    pub retention: Vec<(String, String)>,
    /// A legal hold stops automatic deletion.
    pub legal_hold: bool,
}

/// What the person's legal bases rest on besides consent, as shown on her page.
pub struct GroundsView {
    /// Catalogue key of the contract relationship's label.
    pub contract_key: &'static str,
    pub business: bool,
    pub marker: bool,
    /// The presumed consent in force: reason and the day it was recorded.
    pub presumed: Option<(String, String)>,
    /// §7(3) facts on file: goods class and the day of the sale.
    pub existing: Option<(String, String)>,
}

fn grounds_view(
    state: &AppState,
    person: &Person,
    facts: &klar_domain::policy::PersonFacts,
) -> Result<GroundsView, AppError> {
    use klar_domain::policy::ContractRelationship as C;
    let day = |t: jiff::Timestamp| {
        t.to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or(jiff::tz::TimeZone::UTC))
            .date()
            .to_string()
    };
    Ok(GroundsView {
        contract_key: match facts.contract {
            C::None => "grounds-contract-none",
            C::Party => "grounds-contract-party",
            C::ContactOfCustomer => "grounds-contract-customer",
        },
        business: person.kind == PersonKind::Business,
        marker: facts.no_advertising_marker,
        presumed: facts
            .presumed_consent
            .as_ref()
            .filter(|p| p.ended_at.is_none())
            .map(|p| (p.reason.clone(), day(p.recorded_at))),
        existing: state
            .store
            .existing_customer(person.id)?
            .map(|e| (e.goods_class, day(e.sale_at))),
    })
}

/// One line of the "may we?" panel.
pub struct MayWeRow {
    pub purpose: String,
    pub channel: &'static str,
    pub allowed: bool,
    pub reason: String,
}

/// Asks the policy gate about every active purpose on each of its channels, now.
fn may_we(
    state: &AppState,
    p: &Layout,
    pid: PersonId,
    purposes: &[klar_domain::policy::Purpose],
    facts: &klar_domain::policy::PersonFacts,
) -> Vec<MayWeRow> {
    let now = state.store.now();
    let config = state.config.consent_config();
    let en = p.t.lang() == "en";
    let mut rows = Vec::new();
    for purpose in purposes.iter().filter(|x| x.active) {
        for channel in &purpose.channels {
            let d = klar_domain::policy::decide_with(
                &config,
                facts,
                purposes,
                &purpose.key,
                *channel,
                now,
            );
            state.store.audit(AuditEntry::decision(
                p.actor(),
                pid,
                &purpose.key,
                *channel,
                &d,
            ));
            rows.push(MayWeRow {
                purpose: if en {
                    purpose.name_en.clone()
                } else {
                    purpose.name_de.clone()
                },
                channel: p.t.get(&format!("channel-{}", channel.as_str())),
                allowed: d.allowed,
                reason: if en { d.reason_en } else { d.reason_de },
            });
        }
    }
    rows
}

impl PersonShowPage {
    pub fn kind_label(&self) -> &'static str {
        match self.person.kind {
            PersonKind::Consumer => self.p.t.get("kind-consumer"),
            PersonKind::Business => self.p.t.get("kind-business"),
        }
    }

    /// Known contact labels in the UI language; others as typed.
    pub fn contact_label<'a>(&self, label: &'a str) -> &'a str {
        match label {
            "work" | "private" | "mobile" | "home" => self.p.t.get(&format!("label-{label}")),
            other => other,
        }
    }

    /// An open task, which gets a button to mark it done.
    pub fn is_open_task(&self, a: &Activity) -> bool {
        a.kind == klar_domain::records::ActivityKind::Task && !a.done
    }

    pub fn activity_label(&self, a: &Activity) -> &'static str {
        self.p.t.get(&format!("activity-kind-{}", a.kind.as_str()))
    }

    pub fn when(&self, a: &Activity) -> String {
        a.occurred_at.strftime("%Y-%m-%d %H:%M").to_string()
    }

    pub fn money(&self, d: &Deal) -> String {
        super::layout_money(d.value_cents, d.currency.as_str())
    }
}

pub(super) fn show(
    state: &AppState,
    s: &UiSession,
    pid: PersonId,
    activity_error: String,
    status: StatusCode,
) -> Response {
    show_with(state, s, pid, activity_error, String::new(), status)
}

pub(super) fn show_with(
    state: &AppState,
    s: &UiSession,
    pid: PersonId,
    activity_error: String,
    privacy_error: String,
    status: StatusCode,
) -> Response {
    show_page(state, s, pid, activity_error, privacy_error, status, None)
}

/// The person page read through [`Auth::can_read_person`]; `grant` names the break-glass
/// grant the read rests on, for the audit entry.
fn show_read(state: &AppState, s: &UiSession, pid: PersonId, grant: Option<&str>) -> Response {
    show_page(
        state,
        s,
        pid,
        String::new(),
        String::new(),
        StatusCode::OK,
        grant,
    )
}

fn show_page(
    state: &AppState,
    s: &UiSession,
    pid: PersonId,
    activity_error: String,
    privacy_error: String,
    status: StatusCode,
    grant: Option<&str>,
) -> Response {
    let p = s.layout("persons");
    let load = || -> Result<PersonShowPage, AppError> {
        let person = state.store.get_person(pid)?;
        state.store.audit(auth_of(s).person_read_entry(pid, grant));
        let custom_facts = custom_facts(
            &custom_defs(state, RecordType::Person)?,
            &person.personal.custom,
            &p,
        );
        let organization = person
            .organization_id
            .map(|o| state.store.get_organization(o))
            .transpose()?;
        let activities = state
            .store
            .list_activities(&ActivityFilter {
                person: Some(pid),
                limit: 100,
                ..Default::default()
            })?
            .items;
        let deals = state
            .store
            .list_deals(&DealFilter {
                person: Some(pid),
                limit: 100,
                ..Default::default()
            })?
            .items;
        let owner = match person.owner_id {
            None => None,
            Some(uid) => match state.store.get_user(uid) {
                Ok(u) => Some(u.email),
                Err(klar_store::StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
        };
        let restriction = state.store.restriction(pid)?;
        let purposes = state.store.purposes()?;
        let facts = state.store.privacy_facts_of(&person)?;
        let may_we = may_we(state, &p, pid, &purposes, &facts);
        let grounds = grounds_view(state, &person, &facts)?;
        let en = p.t.lang() == "en";
        let now = state.store.now();
        let kept = state
            .store
            .retention_of(pid, now, &state.config.retention)?;
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or(jiff::tz::TimeZone::UTC);
        let legal_hold = kept.decision == klar_domain::retention::Decision::Hold;
        let retention = kept
            .grounds
            .iter()
            .filter(|g| g.active_at(now))
            .map(|g| {
                (
                    g.until
                        .map(|t| t.to_zoned(berlin.clone()).date().to_string())
                        .unwrap_or_default(),
                    if en {
                        g.reason.en.clone()
                    } else {
                        g.reason.de.clone()
                    },
                )
            })
            .collect();
        let active: Vec<_> = purposes.iter().filter(|x| x.active).collect();
        let name = |x: &klar_domain::policy::Purpose| {
            if en {
                x.name_en.clone()
            } else {
                x.name_de.clone()
            }
        };
        let consent_purposes = active
            .iter()
            .filter(|x| x.legal_basis == klar_domain::policy::LegalBasis::Consent)
            .map(|x| (x.key.clone(), name(x)))
            .collect();
        let all_purposes = active.iter().map(|x| (x.key.clone(), name(x))).collect();
        let wordings = state
            .store
            .all_wordings()?
            .into_iter()
            .filter_map(|w| {
                let purpose = active.iter().find(|x| x.key == w.purpose)?;
                let label = format!("{}: {} ({})", name(purpose), w.version, w.locale);
                Some((w.version, label))
            })
            .collect();
        let privacy_error = privacy_error.clone();
        Ok(PersonShowPage {
            consent_purposes,
            wordings,
            all_purposes,
            privacy_error,
            grounds,
            retention,
            legal_hold,
            restriction,
            may_we,
            p: p.clone(),
            person,
            organization,
            activities,
            deals,
            activity_error,
            custom_facts,
            owner,
        })
    };
    match load() {
        Ok(page) => render(status, &page),
        Err(e) => page_error(s, "persons", e),
    }
}

pub async fn persons_show_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
) -> Response {
    let Ok(pid) = id.parse::<PersonId>() else {
        if let Err(r) = s.require(Permission::ReadCrm) {
            return r;
        }
        return not_found_page(&s, "persons");
    };
    // Reading a person is decided in one place: `read_crm`, or a break-glass grant in force.
    let grant = match auth_of(&s).can_read_person(&state.store, pid) {
        Ok(g) => g,
        Err(AppError::Forbidden(_)) => return s.forbidden(),
        Err(e) => return page_error(&s, "persons", e),
    };
    show_read(&state, &s, pid, grant.as_deref())
}

#[derive(Debug, Deserialize)]
pub struct ActivityForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    due_date: String,
}

pub async fn persons_activity_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<ActivityForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let Ok(pid) = id.parse::<PersonId>() else {
        return AppError::NotFound("no person with this id".into()).into_response();
    };
    if let Err(e) = crate::api::privacy::ensure_changeable(&state, &auth_of(&s), pid) {
        return page_error(&s, "persons", e);
    }
    let body = ActivityBody {
        kind: f.kind,
        person_id: Some(pid.to_string()),
        subject: f.subject,
        body: opt(&f.body),
        due_date: opt(&f.due_date),
        ..Default::default()
    };
    let auth = auth_of(&s);
    let e = match crate::api::activities::parse(&body, &auth, state.store.now()) {
        Ok(e) => e,
        Err(AppError::Invalid(errs)) => {
            let t = s.layout("persons").t;
            let msg = errs
                .iter()
                .map(|e| {
                    let field = match e.field.as_str() {
                        "kind" => t.get("activity-kind"),
                        "subject" => t.get("activity-subject"),
                        "body" => t.get("activity-body"),
                        "due_date" => t.get("activity-due"),
                        other => other,
                    };
                    format!("{field}: {}", localize_message(&e.message, &t))
                })
                .collect::<Vec<_>>()
                .join("; ");
            return show(&state, &s, pid, msg, StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(e) => return e.into_response(),
    };
    let actor = auth.actor();
    match state
        .blocking(move |store| Ok(store.create_activity(actor, e)?))
        .await
    {
        Ok(_) => Redirect::to(&format!("/persons/{pid}")).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> PersonForm {
        PersonForm {
            last_name: "Muster".into(),
            extra: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn rows_with_a_value_become_the_lists_in_order() {
        let f = form(&[
            ("email_label_0", "work"),
            ("email_0", ""),
            ("email_label_1", "private"),
            ("email_1", " erika@privat.example "),
            ("email_label_2", ""),
            ("email_2", "erika@firma.example"),
            ("phone_label_0", "mobile"),
            ("phone_0", "0170 1234567"),
            ("email_99", "ignored@beyond.example"),
        ]);
        let b = f.body(&[]);
        assert_eq!(b.email, None);
        assert_eq!(b.phone, None);
        let emails = b.emails.expect("emails");
        assert_eq!(emails.len(), 2);
        assert_eq!(emails[0].label.as_deref(), Some("private"));
        assert_eq!(emails[0].value, "erika@privat.example");
        assert_eq!(
            emails[1].label, None,
            "an empty label takes the API's default"
        );
        let phones = b.phones.expect("phones");
        assert_eq!(phones[0].label.as_deref(), Some("mobile"));
        assert_eq!(b.custom_fields, None);
        // No rows at all clears the lists.
        let b = form(&[]).body(&[]);
        assert_eq!(b.emails.map(|e| e.len()), Some(0));
    }

    #[test]
    fn list_errors_are_shown_at_the_row_they_came_from() {
        let f = form(&[
            ("email_0", ""),
            ("email_1", "ok@x.example"),
            ("email_2", "broken"),
            ("phone_0", "abc"),
        ]);
        let errs = f.errors_at_rows(vec![
            FieldError::new("emails[1].value", "bad"),
            FieldError::new("phones[0].value", "bad phone"),
            FieldError::new("last_name", "x"),
        ]);
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["emails[2].value", "phones[0].value", "last_name"]);
        let m = field_errors(errs);
        assert!(m.contains_key("email_2"));
        assert!(m.contains_key("phone"));
    }

    #[test]
    fn the_form_offers_one_empty_row_for_a_new_entry_up_to_five_rows() {
        let t = Tr {
            locale: crate::i18n::Locale::De,
        };
        let f = PersonForm::new_form();
        let rows = contact_views(&f.extra, "email", "email", &HashMap::new(), &t);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, "email");
        assert_eq!(rows[0].name, "email_0");
        assert_eq!(rows[0].label, "work");

        let mut extra = HashMap::new();
        let four = (0..4).map(|i| ("private", format!("p{i}@x.example")));
        put_rows(&mut extra, "email", four);
        let rows = contact_views(&extra, "email", "email", &HashMap::new(), &t);
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[4].value, "");
        assert_eq!(rows[1].id, "email_1");
        assert_eq!(rows[1].caption, "E-Mail 2");

        let mut extra = HashMap::new();
        let five = (0..5).map(|i| ("fax", format!("p{i}@x.example")));
        put_rows(&mut extra, "email", five);
        let rows = contact_views(&extra, "email", "email", &HashMap::new(), &t);
        assert_eq!(rows.len(), 5, "no sixth row");
        // A label given through the API stays selectable.
        assert!(rows[0].options.iter().any(|(v, _)| v == "fax"));
    }
}
