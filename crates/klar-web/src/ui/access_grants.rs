//! Break-glass access in the UI (decision 0016): `/access-grants`, where an administrator
//! asks for time-limited access to one person and sees his requests, and where a privacy
//! officer approves or refuses them; the officer's dashboard lists the same grants. The
//! pages call the same functions as the API (`api::access_grants`).

use super::forms::{localize_message, page_error};
use super::persons::auth_of;
use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::api::access_grants::{GrantBody, GrantOut, decide, grants_out, request, visible_grants};
use crate::error::AppError;
use crate::extract::{ApiPath, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::role::Permission;
use serde::Deserialize;

/// A grant as a row of the list, with its texts in the UI language.
pub struct GrantRow {
    pub g: GrantOut,
    pub state_label: String,
    pub window: String,
    pub open: bool,
}

/// The rows of the grants the session may see.
pub fn grant_rows(state: &AppState, s: &UiSession, p: &Layout) -> Result<Vec<GrantRow>, AppError> {
    let grants = visible_grants(&state.store, &auth_of(s))?;
    let tz = super::audit::berlin();
    let fmt = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| {
                t.to_zoned(tz.clone())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default()
    };
    Ok(grants_out(&state.store, &grants)?
        .into_iter()
        .map(|g| {
            let window = if g.expires_at.is_some() {
                format!("{} – {}", fmt(&g.decided_at), fmt(&g.expires_at))
            } else {
                format!("{} min", g.minutes)
            };
            GrantRow {
                state_label: p.t.get(&format!("grant-state-{}", g.state)).to_string(),
                open: g.state == "requested",
                window,
                g,
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "access_grants/page.html")]
pub struct GrantsPage {
    pub p: Layout,
    pub grants: Vec<GrantRow>,
    pub can_request: bool,
    pub can_decide: bool,
    pub error: String,
    pub person_id: String,
    pub reason: String,
    pub minutes: String,
}

fn page(state: &AppState, s: &UiSession, error: String, f: Option<&GrantForm>) -> Response {
    let p = s.layout("access-grants");
    match grant_rows(state, s, &p) {
        Ok(grants) => render(
            if error.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            &GrantsPage {
                can_request: p.role.is_some_and(|r| r.allows(Permission::RequestAccess)),
                can_decide: p.can_manage_privacy(),
                grants,
                error,
                person_id: f.map(|f| f.person_id.clone()).unwrap_or_default(),
                reason: f.map(|f| f.reason.clone()).unwrap_or_default(),
                minutes: f.map_or_else(|| "60".into(), |f| f.minutes.clone()),
                p,
            },
        ),
        Err(e) => page_error(s, "access-grants", e),
    }
}

// The error is the finished response, returned straight from the handler.
#[allow(clippy::result_large_err)]
fn allowed(s: &UiSession) -> Result<(), Response> {
    let role = s.session.user.role;
    if role.allows(Permission::RequestAccess) || role.allows(Permission::ManagePrivacy) {
        Ok(())
    } else {
        Err(s.forbidden())
    }
}

pub async fn grants_page(State(state): State<AppState>, s: UiSession) -> Response {
    if let Err(r) = allowed(&s) {
        return r;
    }
    page(&state, &s, String::new(), None)
}

#[derive(Debug, Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    minutes: String,
}

pub async fn grants_request_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<GrantForm>,
) -> Response {
    if let Err(r) = s.require(Permission::RequestAccess) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let body = GrantBody {
        person_id: f.person_id.clone(),
        reason: f.reason.clone(),
        minutes: f.minutes.trim().parse().unwrap_or(0),
    };
    match request(&state.store, &auth_of(&s), &body) {
        Ok(_) => Redirect::to("/access-grants").into_response(),
        Err(AppError::Invalid(errs)) => {
            let t = s.layout("access-grants").t;
            let msg = errs
                .iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        t.get(&format!("grant-field-{}", e.field)),
                        localize_message(&e.message, &t)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            page(&state, &s, msg, Some(&f))
        }
        Err(e) => page_error(&s, "access-grants", e),
    }
}

#[derive(Debug, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    /// Where to go back to: `/dashboard` or `/access-grants`.
    #[serde(default)]
    back: String,
}

async fn decide_submit(
    state: AppState,
    s: UiSession,
    id: String,
    f: DecideForm,
    approve: bool,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    match decide(&state.store, &auth_of(&s), &id, approve) {
        Ok(_) => Redirect::to(if f.back == "/dashboard" {
            "/dashboard"
        } else {
            "/access-grants"
        })
        .into_response(),
        Err(AppError::Conflict(_)) => {
            let t = s.layout("access-grants").t;
            page(&state, &s, t.get("grant-conflict").to_string(), None)
        }
        Err(e) => page_error(&s, "access-grants", e),
    }
}

pub async fn grants_approve_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<DecideForm>,
) -> Response {
    decide_submit(state, s, id, f, true).await
}

pub async fn grants_refuse_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<DecideForm>,
) -> Response {
    decide_submit(state, s, id, f, false).await
}
