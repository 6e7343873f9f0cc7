//! Person pages: list with search-as-you-type, detail with timeline, create and edit forms.

use super::forms::{field_errors, not_found_page, opt, org_options, page_error};
use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::api::activities::ActivityBody;
use crate::api::persons::{AddressBody, PersonBody, apply, new_person};
use crate::auth::{Auth, Credential};
use crate::error::AppError;
use crate::extract::{ApiPath, ApiQuery, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::ids::PersonId;
use klar_domain::records::{Activity, Deal, Organization, Person, PersonKind};
use klar_domain::role::Permission;
use klar_store::activities::ActivityFilter;
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
}

#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    cursor: String,
}

fn rows(
    state: &AppState,
    params: &ListParams,
) -> Result<(Vec<PersonRow>, Option<String>), AppError> {
    let f = PersonFilter {
        q: Some(params.q.clone()).filter(|s| !s.trim().is_empty()),
        tag: Some(params.tag.clone()).filter(|s| !s.is_empty()),
        kind: PersonKind::parse(&params.kind).ok(),
        cursor: Some(params.cursor.clone()).filter(|s| !s.is_empty()),
        limit: 50,
        ..Default::default()
    };
    let page = state.store.list_persons(&f)?;
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
    let result =
        rows(&state, &params).and_then(|(rows, next)| Ok((rows, next, state.store.list_tags()?)));
    match result {
        Ok((rows, next, tags)) => render(
            StatusCode::OK,
            &PersonsListPage {
                p: s.layout("persons"),
                q: params.q,
                tag: params.tag,
                kind: params.kind,
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
    match rows(&state, &params) {
        Ok((rows, next)) => render(
            StatusCode::OK,
            &PersonRowsPartial {
                p: s.layout("persons"),
                rows,
                next,
                q: params.q,
                tag: params.tag,
                kind: params.kind,
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
    pub email: String,
    #[serde(default)]
    pub phone: String,
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
}

impl PersonForm {
    /// The form as an API body: an empty field clears the value.
    fn body(&self) -> PersonBody {
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
            email: Some(opt(&self.email)),
            phone: Some(opt(&self.phone)),
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
            ..Default::default()
        }
    }

    fn from_person(p: &Person) -> Self {
        let d = &p.personal;
        let a = d.address.clone().unwrap_or_default();
        PersonForm {
            csrf: String::new(),
            first_name: d.first_name.clone(),
            last_name: d.last_name.clone(),
            email: d
                .primary_email()
                .map(ToString::to_string)
                .unwrap_or_default(),
            phone: d
                .primary_phone()
                .map(ToString::to_string)
                .unwrap_or_default(),
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
}

impl PersonFormPage {
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
    match org_options(state, None) {
        Ok(orgs) => render(
            status,
            &PersonFormPage {
                p,
                action,
                cancel,
                f,
                orgs,
                errors,
            },
        ),
        Err(e) => e.into_response(),
    }
}

pub async fn persons_new_page(State(state): State<AppState>, s: UiSession) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    let f = PersonForm {
        kind: "consumer".into(),
        ..Default::default()
    };
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
    let auth = auth_of(&s);
    let new = match new_person(&f.body(), &auth, state.store.now()) {
        Ok(n) => n,
        Err(AppError::Invalid(errs)) => {
            return form_page(
                &state,
                s.layout("persons"),
                "/persons".into(),
                "/persons".into(),
                f,
                field_errors(errs),
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
        Err(AppError::Invalid(errs)) => form_page(
            &state,
            s.layout("persons"),
            "/persons".into(),
            "/persons".into(),
            f,
            field_errors(errs),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
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
        Ok(p) => form_page(
            &state,
            s.layout("persons"),
            format!("/persons/{pid}"),
            format!("/persons/{pid}"),
            PersonForm::from_person(&p),
            HashMap::new(),
            StatusCode::OK,
        ),
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
    let body = f.body();
    let actor = auth_of(&s).actor();
    let result = state
        .blocking(move |store| {
            let today = store.now().to_zoned(jiff::tz::TimeZone::UTC).date();
            Ok(store.update_person(actor, pid, |e: &mut PersonEdit| apply(&body, e, today))?)
        })
        .await;
    match result {
        Ok(_) => Redirect::to(&format!("/persons/{pid}")).into_response(),
        Err(AppError::Invalid(errs)) => form_page(
            &state,
            s.layout("persons"),
            format!("/persons/{pid}"),
            format!("/persons/{pid}"),
            f,
            field_errors(errs),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
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

fn show(
    state: &AppState,
    s: &UiSession,
    pid: PersonId,
    activity_error: String,
    status: StatusCode,
) -> Response {
    let load = || -> Result<PersonShowPage, AppError> {
        let person = state.store.get_person(pid)?;
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
        Ok(PersonShowPage {
            p: s.layout("persons"),
            person,
            organization,
            activities,
            deals,
            activity_error,
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
    if let Err(r) = s.require(Permission::ReadCrm) {
        return r;
    }
    let Ok(pid) = id.parse::<PersonId>() else {
        return not_found_page(&s, "persons");
    };
    show(&state, &s, pid, String::new(), StatusCode::OK)
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
            let msg = errs
                .iter()
                .map(ToString::to_string)
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
