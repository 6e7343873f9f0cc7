//! The privacy officer's requests: open requests by deadline (due within 7 days and overdue
//! marked), a request's page with its deadline always in view, its steps and history, and
//! forms to log a request, take a step, extend the deadline once, and link the person.
//! Everything goes through the same functions as `/api/v1/dsr`.

use super::audit::{berlin, local_time};
use super::forms::localize_message;
use super::persons::auth_of;
use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::api::dsr::{DsrBody, dsr_out, extend_for, parse_dsr, step_for};
use crate::error::AppError;
use crate::extract::{ApiPath, ApiQuery, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::dsr::{DsrAction, DsrKind, Urgency, transition, urgency};
use klar_domain::ids::PersonId;
use klar_domain::role::Permission;
use klar_store::audit::AuditActor;
use klar_store::dsr::{Dsr, DsrListFilter};
use serde::Deserialize;

pub struct Row {
    pub id: String,
    pub due: String,
    pub urgency: &'static str,
    pub urgency_label: &'static str,
    pub kind: &'static str,
    pub status: &'static str,
    pub received: String,
    pub person_id: Option<PersonId>,
}

#[derive(Template)]
#[template(path = "requests/list.html")]
pub struct ListPage {
    pub p: Layout,
    pub rows: Vec<Row>,
    pub closed: bool,
    pub kinds: Vec<(&'static str, &'static str)>,
    pub channels: Vec<&'static str>,
    pub error: String,
}

#[derive(Template)]
#[template(path = "requests/show.html")]
pub struct ShowPage {
    pub p: Layout,
    pub d: Dsr,
    pub kind: &'static str,
    pub status: &'static str,
    pub due: String,
    pub received: String,
    pub urgency: &'static str,
    pub urgency_label: &'static str,
    pub open: bool,
    pub actions: Vec<(&'static str, &'static str)>,
    /// `(when, step, new status, note)`.
    pub events: Vec<(String, &'static str, &'static str, String)>,
    /// Recipients to tell (Art. 19), for rectification, erasure and restriction.
    pub notify: Option<Vec<crate::api::dsr::RecipientOut>>,
    pub error: String,
}

fn kind_label(p: &Layout, k: DsrKind) -> &'static str {
    p.t.get(&format!("dsr-kind-{}", k.as_str()))
}

fn status_label(p: &Layout, s: &str) -> &'static str {
    p.t.get(&format!("dsr-status-{}", s.replace('_', "-")))
}

fn urgency_of(p: &Layout, d: &Dsr, now: jiff::Timestamp) -> (&'static str, &'static str) {
    if !d.status.is_open() {
        return ("closed", "");
    }
    match urgency(d.effective_due(), now) {
        Urgency::Overdue => ("overdue", p.t.get("dsr-overdue")),
        Urgency::DueSoon => ("due-soon", p.t.get("dsr-due-soon")),
        Urgency::OnTrack => ("on-track", ""),
    }
}

fn day(p: &Layout, t: jiff::Timestamp) -> String {
    let z = t.to_zoned(berlin());
    if p.t.lang() == "en" {
        z.strftime("%Y-%m-%d").to_string()
    } else {
        z.strftime("%d.%m.%Y").to_string()
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    status: String,
}

fn list_page(
    state: &AppState,
    s: &UiSession,
    closed: bool,
    error: String,
    status: StatusCode,
) -> Response {
    let p = s.layout("privacy");
    let f = if closed {
        DsrListFilter::Closed
    } else {
        DsrListFilter::Open
    };
    let page = match state.store.list_dsr(f, None, 200) {
        Ok(x) => x,
        Err(e) => return AppError::from(e).into_response(),
    };
    let now = state.store.now();
    let rows = page
        .items
        .iter()
        .map(|d| {
            let (urgency, urgency_label) = urgency_of(&p, d, now);
            Row {
                id: d.id.clone(),
                due: day(&p, d.effective_due()),
                urgency,
                urgency_label,
                kind: kind_label(&p, d.kind),
                status: status_label(&p, d.status.as_str()),
                received: day(&p, d.received_at),
                person_id: d.person_id,
            }
        })
        .collect();
    let kinds = DsrKind::ALL
        .iter()
        .map(|k| (k.as_str(), kind_label(&p, *k)))
        .collect();
    render(
        status,
        &ListPage {
            p,
            rows,
            closed,
            kinds,
            channels: klar_store::dsr::CHANNELS.to_vec(),
            error,
        },
    )
}

pub async fn requests_list_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    list_page(
        &state,
        &s,
        q.status == "closed",
        String::new(),
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize)]
pub struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    requester_email: String,
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    received_on: String,
}

/// A date typed in a form as an instant: now for today, otherwise noon in Berlin.
fn date_instant(s: &str, now: jiff::Timestamp) -> Result<Option<jiff::Timestamp>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let d: jiff::civil::Date = s.parse().map_err(|_| ())?;
    if d == now.to_zoned(berlin()).date() {
        return Ok(Some(now));
    }
    d.at(12, 0, 0, 0)
        .to_zoned(berlin())
        .map(|z| Some(z.timestamp()))
        .map_err(|_| ())
}

fn errors_text(p: &Layout, e: &AppError) -> String {
    match e {
        AppError::Invalid(errs) => errs
            .iter()
            .map(|f| format!("{}: {}", f.field, localize_message(&f.message, &p.t)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

pub async fn requests_create_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<NewForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let p = s.layout("privacy");
    let opt = |x: &str| Some(x.trim().to_string()).filter(|x| !x.is_empty());
    let received_at = match date_instant(&f.received_on, state.store.now()) {
        Ok(t) => t.map(|t| t.to_string()),
        Err(()) => Some(f.received_on.clone()),
    };
    let body = DsrBody {
        kind: f.kind,
        person_id: opt(&f.person_id),
        requester_email: opt(&f.requester_email),
        channel: opt(&f.channel),
        scope: None,
        received_at,
    };
    let new = match parse_dsr(&state, &body) {
        Ok(n) => n,
        Err(e) => {
            let msg = errors_text(&p, &e);
            return list_page(&state, &s, false, msg, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let actor = AuditActor::User(s.session.user.id);
    match state
        .blocking(move |st| Ok(st.create_dsr(actor, &new)?))
        .await
    {
        Ok(d) => Redirect::to(&format!("/privacy/requests/{}", d.id)).into_response(),
        Err(e) => {
            let msg = errors_text(&p, &e);
            list_page(&state, &s, false, msg, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

fn show(state: &AppState, s: &UiSession, id: &str, error: String, status: StatusCode) -> Response {
    let p = s.layout("privacy");
    let d = match state.store.dsr(id.trim()) {
        Ok(d) => d,
        Err(klar_store::StoreError::NotFound) => return super::forms::not_found_page(s, "privacy"),
        Err(e) => return AppError::from(e).into_response(),
    };
    let events = match state.store.dsr_events(&d.id) {
        Ok(ev) => ev,
        Err(e) => return AppError::from(e).into_response(),
    };
    let tz = berlin();
    let now = state.store.now();
    let (urgency, urgency_label) = urgency_of(&p, &d, now);
    let actions = DsrAction::ALL
        .iter()
        .filter(|a| transition(d.status, **a).is_ok())
        .map(|a| {
            (
                a.as_str(),
                p.t.get(&format!("dsr-action-{}", a.as_str().replace('_', "-"))),
            )
        })
        .collect();
    let events = events
        .into_iter()
        .map(|e| {
            (
                local_time(&p, e.at, &tz),
                p.t.get(&format!("dsr-action-{}", e.action.replace('_', "-"))),
                status_label(&p, &e.to_status),
                e.note.unwrap_or_default(),
            )
        })
        .collect();
    let out = dsr_out(&d, now);
    let notify = match crate::api::dsr::recipients_to_notify(state, &d) {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    render(
        status,
        &ShowPage {
            kind: kind_label(&p, d.kind),
            status: status_label(&p, &out.status),
            due: local_time(&p, d.effective_due(), &tz),
            received: local_time(&p, d.received_at, &tz),
            urgency,
            urgency_label,
            open: d.status.is_open(),
            actions,
            events,
            notify,
            error,
            p,
            d,
        },
    )
}

pub async fn requests_show_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    show(&state, &s, &id, String::new(), StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct StepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

pub async fn requests_step_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<StepForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let p = s.layout("privacy");
    let result = match DsrAction::parse(&f.action) {
        Ok(a) => {
            let reason = Some(f.reason.trim()).filter(|r| !r.is_empty());
            step_for(&state, &auth_of(&s), &id, a, reason).await
        }
        Err(e) => Err(AppError::Invalid(vec![klar_domain::FieldError::new(
            "action", e.0,
        )])),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/privacy/requests/{}", id.trim())).into_response(),
        Err(AppError::NotFound(_)) => super::forms::not_found_page(&s, "privacy"),
        Err(e) => show(
            &state,
            &s,
            &id,
            errors_text(&p, &e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct ExtendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    notified_on: String,
}

pub async fn requests_extend_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<ExtendForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let p = s.layout("privacy");
    let notified = match date_instant(&f.notified_on, state.store.now()) {
        Ok(Some(t)) => t.to_string(),
        _ => f.notified_on.clone(),
    };
    match extend_for(&state, &auth_of(&s), &id, &f.reason, &notified).await {
        Ok(_) => Redirect::to(&format!("/privacy/requests/{}", id.trim())).into_response(),
        Err(AppError::NotFound(_)) => super::forms::not_found_page(&s, "privacy"),
        Err(e) => show(
            &state,
            &s,
            &id,
            errors_text(&p, &e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    person_id: String,
}

pub async fn requests_link_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<LinkForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let p = s.layout("privacy");
    let result = match f.person_id.trim().parse::<PersonId>() {
        Ok(pid) => {
            let actor = AuditActor::User(s.session.user.id);
            let id2 = id.trim().to_string();
            state
                .blocking(move |st| Ok(st.link_dsr_person(actor, &id2, pid)?))
                .await
        }
        Err(_) => Err(AppError::Invalid(vec![klar_domain::FieldError::new(
            "person_id",
            "is not a valid id",
        )])),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/privacy/requests/{}", id.trim())).into_response(),
        Err(e) => show(
            &state,
            &s,
            &id,
            errors_text(&p, &e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}
