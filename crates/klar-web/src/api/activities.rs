//! `/api/v1/activities`

use super::common::{List, StampOut, field_id, idempotent_create, limit, path_id};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppResult, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use klar_domain::error::Errors;
use klar_domain::ids::{ActivityId, DealId, OrganizationId, PersonId};
use klar_domain::records::{Activity, ActivityKind, ActivityText};
use klar_domain::role::Permission;
use klar_domain::text::{bounded, limits, optional_line, required_line};
use klar_store::activities::{ActivityEdit, ActivityFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityBody {
    /// `note`, `call`, `meeting`, `email` or `task`.
    pub kind: String,
    pub person_id: Option<String>,
    pub organization_id: Option<String>,
    pub deal_id: Option<String>,
    pub subject: String,
    pub body: Option<String>,
    /// The purpose this contact served (a purpose key); marketing contacts are checked
    /// by the policy gate once the privacy core is in place.
    pub purpose: Option<String>,
    /// RFC 3339; defaults to now.
    pub occurred_at: Option<String>,
    /// For tasks: `YYYY-MM-DD`.
    pub due_date: Option<String>,
    pub done: Option<bool>,
}

/// Changes to an activity: today only whether a task is done.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityPatch {
    pub done: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityOut {
    pub id: String,
    pub kind: String,
    pub person_id: Option<String>,
    pub organization_id: Option<String>,
    pub deal_id: Option<String>,
    pub subject: String,
    pub body: Option<String>,
    pub purpose: Option<String>,
    pub occurred_at: String,
    pub due_date: Option<String>,
    pub done: bool,
    pub owner_id: Option<String>,
    #[serde(flatten)]
    pub stamp: StampOut,
}

impl From<&Activity> for ActivityOut {
    fn from(a: &Activity) -> Self {
        ActivityOut {
            id: a.id.to_string(),
            kind: a.kind.as_str().into(),
            person_id: a.person_id.map(|x| x.to_string()),
            organization_id: a.organization_id.map(|x| x.to_string()),
            deal_id: a.deal_id.map(|x| x.to_string()),
            subject: a.text.subject.clone(),
            body: a.text.body.clone(),
            purpose: a.purpose.clone(),
            occurred_at: a.occurred_at.to_string(),
            due_date: a.due_date.map(|d| d.to_string()),
            done: a.done,
            owner_id: a.owner_id.map(|x| x.to_string()),
            stamp: StampOut::from(&a.stamp),
        }
    }
}

pub fn parse(b: &ActivityBody, auth: &Auth, now: jiff::Timestamp) -> AppResult<ActivityEdit> {
    let mut errs = Errors::new();
    let kind = errs.take("kind", ActivityKind::parse(&b.kind));
    let subject = errs.take("subject", required_line(&b.subject, limits::LINE));
    let body = match &b.body {
        None => None,
        Some(s) => errs
            .take("body", bounded(s, limits::BODY))
            .filter(|s| !s.is_empty()),
    };
    let purpose = errs
        .take("purpose", optional_line(b.purpose.as_deref(), 60))
        .flatten();
    let occurred_at = match &b.occurred_at {
        None => Some(now),
        Some(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => Some(t),
            Err(_) => {
                errs.push(
                    "occurred_at",
                    "must be an RFC 3339 time such as 2026-11-29T10:00:00Z",
                );
                None
            }
        },
    };
    let due_date = match b
        .due_date
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => match s.parse() {
            Ok(d) => Some(d),
            Err(_) => {
                errs.push("due_date", "must be a date (YYYY-MM-DD)");
                None
            }
        },
    };
    let e = ActivityEdit {
        kind: kind.unwrap_or(ActivityKind::Note),
        person_id: field_id::<PersonId>(b.person_id.as_deref(), "person_id", &mut errs),
        organization_id: field_id::<OrganizationId>(
            b.organization_id.as_deref(),
            "organization_id",
            &mut errs,
        ),
        deal_id: field_id::<DealId>(b.deal_id.as_deref(), "deal_id", &mut errs),
        text: ActivityText {
            subject: subject.unwrap_or_default(),
            body,
        },
        purpose,
        occurred_at: occurred_at.unwrap_or(now),
        due_date,
        done: b.done.unwrap_or(false),
        owner_id: Some(auth.user.id),
    };
    if e.person_id.is_none()
        && e.organization_id.is_none()
        && e.deal_id.is_none()
        && b.person_id.is_none()
    {
        errs.push(
            "person_id",
            "an activity concerns a person, an organization or a deal",
        );
    }
    errs.finish()?;
    Ok(e)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    pub person_id: Option<String>,
    pub organization_id: Option<String>,
    pub deal_id: Option<String>,
    pub kind: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// The timeline, newest first.
#[utoipa::path(get, path = "/api/v1/activities", tag = "activities", params(ActivityQuery),
    responses((status = 200, body = List<ActivityOut>), (status = 422, body = Problem)))]
pub async fn list_activities(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> AppResult<Json<List<ActivityOut>>> {
    auth.require(Permission::ReadCrm)?;
    let mut errs = Errors::new();
    let f = ActivityFilter {
        person: field_id(q.person_id.as_deref(), "person_id", &mut errs),
        organization: field_id(q.organization_id.as_deref(), "organization_id", &mut errs),
        deal: field_id(q.deal_id.as_deref(), "deal_id", &mut errs),
        kind: q
            .kind
            .as_deref()
            .and_then(|k| errs.take("kind", ActivityKind::parse(k))),
        cursor: q.cursor.clone(),
        limit: limit(q.limit)?,
    };
    errs.finish()?;
    let page = state.store.list_activities(&f)?;
    Ok(Json(List {
        items: page.items.iter().map(ActivityOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Record an activity. Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/activities", tag = "activities", request_body = ActivityBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses((status = 201, body = ActivityOut), (status = 422, body = Problem)))]
pub async fn create_activity(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: ApiJson<ActivityBody>,
) -> AppResult<Response> {
    auth.require(Permission::WriteCrm)?;
    let e = parse(&body.value, &auth, state.store.now())?;
    if let Some(pid) = e.person_id {
        super::privacy::ensure_changeable(&state, &auth, pid)?;
    }
    super::privacy::check_contact(&state, auth.actor(), &e)?;
    let actor = auth.actor();
    idempotent_create(
        &state,
        &auth,
        &headers,
        "POST /api/v1/activities",
        &body.raw,
        move |store| {
            let a = store.create_activity(actor, e)?;
            Ok((a.id.to_string(), ActivityOut::from(&a)))
        },
        |store, id| {
            Ok(ActivityOut::from(
                &store.get_activity(path_id(id, "activity")?)?,
            ))
        },
    )
    .await
}

/// Read one activity.
#[utoipa::path(get, path = "/api/v1/activities/{id}", tag = "activities", params(("id" = String, Path)),
    responses((status = 200, body = ActivityOut), (status = 404, body = Problem)))]
pub async fn get_activity(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<ActivityOut>> {
    auth.require(Permission::ReadCrm)?;
    let aid: ActivityId = path_id(&id, "activity")?;
    Ok(Json(ActivityOut::from(&state.store.get_activity(aid)?)))
}

/// Mark a task done or open.
#[utoipa::path(patch, path = "/api/v1/activities/{id}", tag = "activities", params(("id" = String, Path)), request_body = ActivityPatch,
    responses((status = 200, body = ActivityOut), (status = 404, body = Problem)))]
pub async fn update_activity(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<ActivityPatch>,
) -> AppResult<Json<ActivityOut>> {
    auth.require(Permission::WriteCrm)?;
    let aid: ActivityId = path_id(&id, "activity")?;
    let actor = auth.actor();
    let done = body.value.done;
    let a = state
        .blocking(move |s| Ok(s.set_activity_done(actor, aid, done)?))
        .await?;
    Ok(Json(ActivityOut::from(&a)))
}
