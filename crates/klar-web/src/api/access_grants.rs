//! `/api/v1/access-grants`: break-glass access (decision 0016). An administrator asks to
//! read one person for a limited time with a reason; a privacy officer other than himself
//! approves or refuses; the grant ends by itself. Reading under it is decided by
//! [`Auth::can_read_person`] and audited with the grant's id.

use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ApiJson, ApiPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use klar_domain::DomainError;
use klar_domain::ids::{PersonId, UserId};
use klar_domain::role::Permission;
use klar_store::Store;
use klar_store::access_grants::{AccessGrant, NewGrant};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

/// A request for break-glass access to one person.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GrantBody {
    /// The person to read.
    pub person_id: String,
    /// Why the access is needed (required; shown to the privacy officer).
    pub reason: String,
    /// How long the access lasts once approved, 1 to 240 minutes.
    pub minutes: i64,
}

/// A break-glass grant.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantOut {
    pub id: String,
    pub person_id: String,
    pub requested_by: String,
    pub requester_email: Option<String>,
    pub reason: String,
    pub minutes: i64,
    pub requested_at: String,
    /// `requested`, `approved` (in force now), `refused` or `expired`.
    pub state: String,
    pub decided_by: Option<String>,
    pub decider_email: Option<String>,
    pub decided_at: Option<String>,
    /// The end of the window of an approved grant.
    pub expires_at: Option<String>,
}

/// The grants as shown to staff, with the accounts' emails.
pub fn grants_out(store: &Store, grants: &[AccessGrant]) -> AppResult<Vec<GrantOut>> {
    let emails: HashMap<UserId, String> = store
        .list_users()?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    Ok(grants
        .iter()
        .map(|g| GrantOut {
            id: g.id.clone(),
            person_id: g.person_id.to_string(),
            requested_by: g.requested_by.to_string(),
            requester_email: emails.get(&g.requested_by).cloned(),
            reason: g.reason.clone(),
            minutes: g.minutes,
            requested_at: g.requested_at.to_string(),
            state: g.state.as_str().into(),
            decided_by: g.decided_by.map(|u| u.to_string()),
            decider_email: g.decided_by.and_then(|u| emails.get(&u).cloned()),
            decided_at: g.decided_at.map(|t| t.to_string()),
            expires_at: g.expires_at.map(|t| t.to_string()),
        })
        .collect())
}

/// Who may see which grants: the privacy officer all, an administrator his own.
pub fn visible_grants(store: &Store, auth: &Auth) -> AppResult<Vec<AccessGrant>> {
    if auth.user.role.allows(Permission::ManagePrivacy) {
        Ok(store.access_grants(None)?)
    } else {
        auth.require(Permission::RequestAccess)?;
        Ok(store.access_grants(Some(auth.user.id))?)
    }
}

/// Checks a request and records it.
pub fn request(store: &Store, auth: &Auth, b: &GrantBody) -> AppResult<AccessGrant> {
    auth.require(Permission::RequestAccess)?;
    let Ok(person_id) = b.person_id.trim().parse::<PersonId>() else {
        return Err(DomainError::field("person_id", "is not a person id").into());
    };
    Ok(store.request_access_grant(
        auth.user.id,
        &NewGrant {
            person_id,
            reason: b.reason.clone(),
            minutes: b.minutes,
        },
    )?)
}

/// Approves or refuses a grant (privacy officer; never the requester).
pub fn decide(store: &Store, auth: &Auth, id: &str, approve: bool) -> AppResult<AccessGrant> {
    auth.require(Permission::ManagePrivacy)?;
    store
        .decide_access_grant(auth.user.id, id, approve)
        .map_err(|e| match e {
            klar_store::StoreError::NotFound => {
                AppError::NotFound("no access grant with this id".into())
            }
            other => other.into(),
        })
}

/// All break-glass grants (privacy officer), or one's own (administrator), newest first.
#[utoipa::path(get, path = "/api/v1/access-grants", tag = "privacy",
    responses((status = 200, body = Vec<GrantOut>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_grants(
    State(state): State<AppState>,
    auth: Auth,
) -> AppResult<Json<Vec<GrantOut>>> {
    let grants = visible_grants(&state.store, &auth)?;
    Ok(Json(grants_out(&state.store, &grants)?))
}

/// Ask for time-limited access to one person (administrator), with a reason.
#[utoipa::path(post, path = "/api/v1/access-grants", tag = "privacy", request_body = GrantBody,
    responses((status = 201, body = GrantOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_grant(
    State(state): State<AppState>,
    auth: Auth,
    body: ApiJson<GrantBody>,
) -> AppResult<(StatusCode, Json<GrantOut>)> {
    auth.require(Permission::RequestAccess)?;
    let b = body.value;
    let out = state
        .blocking(move |store| {
            let g = request(store, &auth, &b)?;
            grants_out(store, std::slice::from_ref(&g))
        })
        .await?;
    one(out).map(|g| (StatusCode::CREATED, Json(g)))
}

/// Approve a requested grant (privacy officer; not the requester). The window starts now.
#[utoipa::path(post, path = "/api/v1/access-grants/{id}/approve", tag = "privacy", params(("id" = String, Path)),
    responses((status = 200, body = GrantOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn approve_grant(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<GrantOut>> {
    decide_json(state, auth, id, true).await
}

/// Refuse a requested grant (privacy officer; not the requester).
#[utoipa::path(post, path = "/api/v1/access-grants/{id}/refuse", tag = "privacy", params(("id" = String, Path)),
    responses((status = 200, body = GrantOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn refuse_grant(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<GrantOut>> {
    decide_json(state, auth, id, false).await
}

async fn decide_json(
    state: AppState,
    auth: Auth,
    id: String,
    approve: bool,
) -> AppResult<Json<GrantOut>> {
    auth.require(Permission::ManagePrivacy)?;
    let out = state
        .blocking(move |store| {
            let g = decide(store, &auth, &id, approve)?;
            grants_out(store, std::slice::from_ref(&g))
        })
        .await?;
    one(out).map(Json)
}

fn one(mut v: Vec<GrantOut>) -> AppResult<GrantOut> {
    v.pop()
        .ok_or_else(|| AppError::Internal("a grant was not read back".into()))
}
