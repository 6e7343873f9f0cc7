//! Retention (LAW.md B.5, decision 0015): until when and why a person's data is kept, the
//! legal hold that stops automatic deletion, and the list of erasures due within 90 days.

use super::common::path_id;
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::ApiPath;
use axum::Json;
use axum::extract::State;
use klar_domain::FieldError;
use klar_domain::ids::PersonId;
use klar_domain::retention::{Decision, PersonRetention};
use klar_domain::role::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonText {
    pub de: String,
    pub en: String,
}

/// One purpose or duty that keeps (or kept) the person's data.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroundOut {
    /// The retention class, e.g. `hgb_257_letters`, `consent`, `consent_proof`, `lead_activity`.
    pub class: String,
    /// The purpose concerned, when there is one (e.g. `newsletter`).
    pub purpose: Option<String>,
    /// The last instant the ground holds (RFC 3339); absent while open-ended (e.g. until
    /// withdrawal).
    pub until: Option<String>,
    /// Whether it still holds today.
    pub active: bool,
    /// A statutory duty (Art. 6(1)(c), 17(3)(b)).
    pub statutory: bool,
    /// Only keeps the data (duty or proof); processing is restricted while nothing else holds.
    pub keep_only: bool,
    pub reason: ReasonText,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionOut {
    /// `keep`, `restrict`, `erase` or `legal_hold`: what the retention job does today.
    pub decision: String,
    /// When she will be erased if nothing changes; absent while an open-ended ground holds.
    pub erase_after: Option<String>,
    pub legal_hold: bool,
    pub grounds: Vec<GroundOut>,
}

pub(crate) fn retention_out(r: &PersonRetention, at: jiff::Timestamp) -> RetentionOut {
    RetentionOut {
        decision: r.decision.as_str().to_owned(),
        erase_after: r.erase_after.map(|t| t.to_string()),
        legal_hold: r.decision == Decision::Hold,
        grounds: r
            .grounds
            .iter()
            .map(|g| GroundOut {
                class: g.class.key().to_owned(),
                purpose: g.purpose.clone(),
                until: g.until.map(|t| t.to_string()),
                active: g.active_at(at),
                statutory: g.class.statutory(),
                keep_only: g.class.keep_only(),
                reason: ReasonText {
                    de: g.reason.de.clone(),
                    en: g.reason.en.clone(),
                },
            })
            .collect(),
    }
}

/// Which purposes and duties keep the person's data, each until when and why.
#[utoipa::path(get, path = "/api/v1/persons/{id}/retention", tag = "privacy", params(("id" = String, Path)),
    responses((status = 200, body = RetentionOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_retention(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<RetentionOut>> {
    auth.require(Permission::ReadCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    let cfg = state.config.retention;
    let (r, now) = state
        .blocking(move |s| {
            let now = s.now();
            Ok((s.retention_of(pid, now, &cfg)?, now))
        })
        .await?;
    Ok(Json(retention_out(&r, now)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldBody {
    /// Why (dispute, tax audit); free text without personal data.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LegalHoldOut {
    pub reason: String,
    /// The staff account that placed the hold.
    pub author: Option<String>,
    pub since: String,
}

fn reason_of(body: &LegalHoldBody) -> AppResult<String> {
    klar_domain::text::required_line(&body.reason, 500)
        .map_err(|e| AppError::Invalid(vec![FieldError::new("reason", e.0)]))
}

/// Place a legal hold: no automatic deletion touches the person until it is released.
#[utoipa::path(post, path = "/api/v1/persons/{id}/legal-hold", tag = "privacy", params(("id" = String, Path)), request_body = LegalHoldBody,
    responses((status = 201, body = LegalHoldOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn place_legal_hold(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: crate::extract::ApiJson<LegalHoldBody>,
) -> AppResult<(axum::http::StatusCode, Json<LegalHoldOut>)> {
    auth.require(Permission::ManagePrivacy)?;
    let pid: PersonId = path_id(&id, "person")?;
    let reason = reason_of(&body.value)?;
    let actor = auth.actor();
    let h = state
        .blocking(move |s| Ok(s.place_legal_hold(actor, pid, &reason)?))
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(LegalHoldOut {
            reason: h.reason,
            author: h.author,
            since: h.since.to_string(),
        }),
    ))
}

/// Release the legal hold, with a reason; automatic deletion applies again.
#[utoipa::path(delete, path = "/api/v1/persons/{id}/legal-hold", tag = "privacy", params(("id" = String, Path)), request_body = LegalHoldBody,
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn release_legal_hold(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: crate::extract::ApiJson<LegalHoldBody>,
) -> AppResult<axum::http::StatusCode> {
    auth.require(Permission::ManagePrivacy)?;
    let pid: PersonId = path_id(&id, "person")?;
    let reason = reason_of(&body.value)?;
    let actor = auth.actor();
    state
        .blocking(move |s| {
            s.person_kind(pid)?;
            match s.release_legal_hold(actor, pid, &reason) {
                Err(klar_store::StoreError::NotFound) => Err(AppError::NotFound(
                    "no legal hold is in force for this person".into(),
                )),
                r => Ok(r?),
            }
        })
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpcomingOut {
    pub person_id: String,
    /// After this instant the retention job erases her (RFC 3339).
    pub erase_after: String,
    /// A legal hold will stop the erasure.
    pub legal_hold: bool,
}

/// Persons the retention job will erase within the next 90 days unless something changes.
#[utoipa::path(get, path = "/api/v1/retention/upcoming", tag = "privacy",
    responses((status = 200, body = [UpcomingOut]), (status = 403, body = Problem)))]
pub async fn list_upcoming(
    State(state): State<AppState>,
    auth: Auth,
) -> AppResult<Json<Vec<UpcomingOut>>> {
    auth.require(Permission::ManagePrivacy)?;
    let cfg = state.config.retention;
    let list = state
        .blocking(move |s| Ok(s.retention_upcoming(s.now(), &cfg)?))
        .await?;
    Ok(Json(
        list.into_iter()
            .map(|u| UpcomingOut {
                person_id: u.person_id.to_string(),
                erase_after: u.erase_after.to_string(),
                legal_hold: u.legal_hold,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Art14DueOut {
    pub person_id: String,
    /// One month after the data were obtained, or the first contact if earlier (RFC 3339).
    pub due_at: String,
    pub overdue: bool,
}

/// Persons whose data came from elsewhere (import, business card) and who have not been
/// given the Art. 14 information yet, soonest due first.
#[utoipa::path(get, path = "/api/v1/privacy/art14-due", tag = "privacy",
    responses((status = 200, body = [Art14DueOut]), (status = 403, body = Problem)))]
pub async fn list_art14_due(
    State(state): State<AppState>,
    auth: Auth,
) -> AppResult<Json<Vec<Art14DueOut>>> {
    auth.require(Permission::ManagePrivacy)?;
    let list = state.blocking(|s| Ok(s.art14_due(s.now())?)).await?;
    Ok(Json(
        list.into_iter()
            .map(|d| Art14DueOut {
                person_id: d.person_id.to_string(),
                due_at: d.due_at.to_string(),
                overdue: d.overdue,
            })
            .collect(),
    ))
}

/// Record that the person was given the Art. 14 information.
#[utoipa::path(post, path = "/api/v1/persons/{id}/art14-notice", tag = "privacy", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn record_art14_notice(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<axum::http::StatusCode> {
    auth.require(Permission::ManagePrivacy)?;
    let pid: PersonId = path_id(&id, "person")?;
    let actor = auth.actor();
    state
        .blocking(move |s| Ok(s.record_art14_notice(actor, pid)?))
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
