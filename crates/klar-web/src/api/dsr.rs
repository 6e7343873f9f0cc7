//! Data-subject requests (Art. 12–22): logged by any staff member, worked by the privacy
//! officer from receipt to completion or refusal, with the statutory deadline in view.
//! Completing an erasure, restriction or objection request applies it through the privacy
//! core's own mechanisms.

use super::common::{List, limit, path_id};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use klar_domain::FieldError;
use klar_domain::dsr::{DsrAction, DsrKind, urgency};
use klar_domain::email::Email;
use klar_domain::error::Errors;
use klar_domain::ids::PersonId;
use klar_domain::policy::ObjectionScope;
use klar_domain::role::Permission;
use klar_store::audit::AuditActor;
use klar_store::dsr::{Dsr, DsrEvent, DsrListFilter, NewDsr};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn invalid(field: &str, msg: impl Into<String>) -> AppError {
    AppError::Invalid(vec![FieldError::new(field, msg)])
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DsrBody {
    /// `access`, `rectification`, `erasure`, `restriction`, `portability` or `objection`.
    pub kind: String,
    /// The person concerned, when known.
    pub person_id: Option<String>,
    /// The address the request came from; matched against the persons' addresses.
    pub requester_email: Option<String>,
    /// How it arrived: `web`, `email`, `letter`, `phone`, `in_person`, `other` (default `email`).
    pub channel: Option<String>,
    /// For objections: `direct_marketing` (default) or a purpose key.
    pub scope: Option<String>,
    /// When it was received (RFC 3339; default now). The deadline runs from here.
    pub received_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DsrEventOut {
    pub at: String,
    /// `user:ID`, `data_subject` or `system`.
    pub actor: String,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub note: Option<String>,
}

impl From<DsrEvent> for DsrEventOut {
    fn from(e: DsrEvent) -> Self {
        Self {
            at: e.at.to_string(),
            actor: e.actor,
            action: e.action,
            from_status: e.from_status,
            to_status: e.to_status,
            note: e.note,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DsrOut {
    pub id: String,
    pub kind: String,
    /// The article of the GDPR, e.g. `Art. 15`.
    pub article: String,
    /// `received`, `identity_pending`, `verified`, `in_progress`, `completed`,
    /// `partially_completed`, `refused` or `withdrawn`.
    pub status: String,
    pub open: bool,
    pub person_id: Option<String>,
    pub channel: String,
    pub scope: Option<String>,
    pub received_at: String,
    /// The deadline in force (Europe/Berlin end of day): one month after receipt, or three
    /// when extended.
    pub due_at: String,
    /// One month after receipt.
    pub original_due_at: String,
    pub extended: bool,
    pub extension_reason: Option<String>,
    pub extension_notified_at: Option<String>,
    /// For open requests: `overdue`, `due_soon` (within 7 days) or `on_track`.
    pub urgency: Option<String>,
    pub identity_verified_at: Option<String>,
    pub closed_at: Option<String>,
    /// The reason given for a refusal or partial completion (Art. 12(4)).
    pub outcome_reason: Option<String>,
    /// The steps so far (single request only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<DsrEventOut>>,
    /// For rectification, erasure and restriction (single request only): every recipient the
    /// person's data was disclosed to, from the disclosure log, to be told (Art. 19).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipients_to_notify: Option<Vec<RecipientOut>>,
}

/// A recipient to tell about a rectification, erasure or restriction.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientOut {
    pub id: String,
    pub name: String,
    pub role: String,
    pub country: String,
}

/// The recipients to tell (Art. 19) when the request changes what they received.
pub fn recipients_to_notify(state: &AppState, d: &Dsr) -> AppResult<Option<Vec<RecipientOut>>> {
    let (true, Some(pid)) = (
        matches!(
            d.kind,
            DsrKind::Rectification | DsrKind::Erasure | DsrKind::Restriction
        ),
        d.person_id,
    ) else {
        return Ok(None);
    };
    Ok(Some(
        state
            .store
            .recipients_of(pid)?
            .into_iter()
            .map(|r| RecipientOut {
                id: r.id,
                name: r.spec.name,
                role: r.spec.role.as_str().into(),
                country: r.spec.country,
            })
            .collect(),
    ))
}

pub fn dsr_out(d: &Dsr, now: jiff::Timestamp) -> DsrOut {
    DsrOut {
        id: d.id.clone(),
        kind: d.kind.as_str().into(),
        article: d.kind.article().into(),
        status: d.status.as_str().into(),
        open: d.status.is_open(),
        person_id: d.person_id.map(|p| p.to_string()),
        channel: d.channel.clone(),
        scope: d.scope.clone(),
        received_at: d.received_at.to_string(),
        due_at: d.effective_due().to_string(),
        original_due_at: d.due_at.to_string(),
        extended: d.extended_due_at.is_some(),
        extension_reason: d.extension_reason.clone(),
        extension_notified_at: d.extension_notified_at.map(|t| t.to_string()),
        urgency: d.status.is_open().then(|| {
            match urgency(d.effective_due(), now) {
                klar_domain::dsr::Urgency::Overdue => "overdue",
                klar_domain::dsr::Urgency::DueSoon => "due_soon",
                klar_domain::dsr::Urgency::OnTrack => "on_track",
            }
            .to_string()
        }),
        identity_verified_at: d.identity_verified_at.map(|t| t.to_string()),
        closed_at: d.closed_at.map(|t| t.to_string()),
        outcome_reason: d.outcome_reason.clone(),
        events: None,
        recipients_to_notify: None,
    }
}

/// Checks a request body; the person must exist when named.
pub fn parse_dsr(state: &AppState, b: &DsrBody) -> AppResult<NewDsr> {
    let mut errs = Errors::new();
    let kind = errs.take("kind", DsrKind::parse(&b.kind));
    let person_id = b
        .person_id
        .as_deref()
        .and_then(|s| match s.trim().parse::<PersonId>() {
            Ok(p) => Some(p),
            Err(_) => {
                errs.push("person_id", "is not a valid id");
                None
            }
        });
    let email = b
        .requester_email
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| errs.take("requester_email", Email::parse(s)));
    if b.person_id.is_none()
        && b.requester_email
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
    {
        errs.push(
            "person_id",
            "name the person or the address the request came from",
        );
    }
    let channel = b.channel.as_deref().unwrap_or("email").trim().to_string();
    if !klar_store::dsr::CHANNELS.contains(&channel.as_str()) {
        errs.push(
            "channel",
            "must be web, email, letter, phone, in_person or other",
        );
    }
    let scope = match (kind, b.scope.as_deref()) {
        (Some(DsrKind::Objection), Some(s)) => errs
            .take("scope", ObjectionScope::parse(s))
            .map(|x| x.as_str().to_string()),
        (Some(DsrKind::Objection), None) => Some("direct_marketing".into()),
        (_, Some(_)) => {
            errs.push("scope", "applies to objections only");
            None
        }
        (_, None) => None,
    };
    let now = state.store.now();
    let received_at = match b.received_at.as_deref() {
        None => Some(now),
        Some(s) => match s.trim().parse::<jiff::Timestamp>() {
            Ok(t) if t <= now => Some(t),
            Ok(_) => {
                errs.push("received_at", "must not be in the future");
                None
            }
            Err(_) => {
                errs.push("received_at", "must be an RFC 3339 instant");
                None
            }
        },
    };
    errs.finish()?;
    let (Some(kind), Some(received_at)) = (kind, received_at) else {
        return Err(AppError::Internal("validated fields missing".into()));
    };
    // An address that belongs to exactly one person links the request to her.
    let person_id = match (person_id, &email) {
        (Some(p), _) => Some(p),
        (None, Some(e)) => match state.store.find_persons_by_email(e)?.as_slice() {
            [one] => Some(*one),
            _ => None,
        },
        (None, None) => None,
    };
    Ok(NewDsr {
        kind,
        person_id,
        requester_email: email,
        channel,
        scope,
        received_at,
    })
}

/// Logs a data-subject request (any staff member may log one received by phone or letter).
#[utoipa::path(post, path = "/api/v1/dsr", tag = "privacy", request_body = DsrBody,
    responses((status = 201, body = DsrOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_dsr(
    State(state): State<AppState>,
    auth: Auth,
    body: ApiJson<DsrBody>,
) -> AppResult<(StatusCode, Json<DsrOut>)> {
    auth.require(Permission::ReadCrm)?;
    let new = parse_dsr(&state, &body.value)?;
    let actor = AuditActor::User(auth.user.id);
    let d = state
        .blocking(move |s| Ok(s.create_dsr(actor, &new)?))
        .await?;
    Ok((StatusCode::CREATED, Json(dsr_out(&d, state.store.now()))))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DsrQuery {
    /// `open` (default, soonest deadline first), `closed` or `all`.
    pub status: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// The requests, open ones by deadline (privacy officer).
#[utoipa::path(get, path = "/api/v1/dsr", tag = "privacy", params(DsrQuery),
    responses((status = 200, body = List<DsrOut>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_dsr(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<DsrQuery>,
) -> AppResult<Json<List<DsrOut>>> {
    auth.require(Permission::ManagePrivacy)?;
    let f = match q.status.as_deref().map(str::trim) {
        None | Some("open") => DsrListFilter::Open,
        Some("closed") => DsrListFilter::Closed,
        Some("all") => DsrListFilter::All,
        Some(_) => return Err(invalid("status", "must be open, closed or all")),
    };
    let page = state
        .store
        .list_dsr(f, q.cursor.as_deref(), limit(q.limit)?)?;
    let now = state.store.now();
    Ok(Json(List {
        items: page.items.iter().map(|d| dsr_out(d, now)).collect(),
        next_cursor: page.next_cursor,
    }))
}

fn load(state: &AppState, id: &str) -> AppResult<Dsr> {
    match state.store.dsr(id.trim()) {
        Err(klar_store::StoreError::NotFound) => {
            Err(AppError::NotFound("no request with this id".into()))
        }
        other => Ok(other?),
    }
}

/// One request with its steps.
#[utoipa::path(get, path = "/api/v1/dsr/{id}", tag = "privacy", params(("id" = String, Path)),
    responses((status = 200, body = DsrOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_dsr(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<DsrOut>> {
    auth.require(Permission::ManagePrivacy)?;
    let d = load(&state, &id)?;
    let mut out = dsr_out(&d, state.store.now());
    out.events = Some(
        state
            .store
            .dsr_events(&d.id)?
            .into_iter()
            .map(DsrEventOut::from)
            .collect(),
    );
    out.recipients_to_notify = recipients_to_notify(&state, &d)?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    /// `request_identity`, `verify`, `start`, `complete`, `partially_complete`, `refuse` or
    /// `withdraw`.
    pub action: String,
    /// Required for `refuse` and `partially_complete`: the reason the person is told
    /// (Art. 12(4)); no personal data.
    pub reason: Option<String>,
}

/// Takes a step. Completing an erasure, restriction or objection request applies it.
#[utoipa::path(post, path = "/api/v1/dsr/{id}/steps", tag = "privacy", params(("id" = String, Path)), request_body = StepBody,
    responses((status = 200, body = DsrOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn step_dsr(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<StepBody>,
) -> AppResult<Json<DsrOut>> {
    // The permission before the input: a role without it learns nothing about the request.
    auth.require(Permission::ManagePrivacy)?;
    let action = DsrAction::parse(&body.value.action).map_err(|e| invalid("action", e.0))?;
    let d = step_for(&state, &auth, &id, action, body.value.reason.as_deref()).await?;
    Ok(Json(dsr_out(&d, state.store.now())))
}

/// A step (API and UI alike).
pub async fn step_for(
    state: &AppState,
    auth: &Auth,
    id: &str,
    action: DsrAction,
    reason: Option<&str>,
) -> AppResult<Dsr> {
    auth.require(Permission::ManagePrivacy)?;
    if reason.is_some_and(|r| r.chars().count() > 2000) {
        return Err(invalid("reason", "is longer than 2000 characters"));
    }
    let d = load(state, id)?;
    klar_domain::dsr::transition(d.status, action).map_err(|e| invalid("action", e.0))?;
    let mut action = action;
    let mut reason = reason.map(str::to_owned);
    if action == DsrAction::Complete
        && let Some(kept) = apply(state, auth, &d).await?
    {
        // Art. 17(3)(b): what a retention duty keeps is said in the answer.
        action = DsrAction::PartiallyComplete;
        reason = Some(kept);
    }
    let actor = AuditActor::User(auth.user.id);
    let id = d.id.clone();
    state
        .blocking(move |s| Ok(s.step_dsr(actor, &id, action, reason.as_deref())?))
        .await
}

/// What completing a request does through the privacy core (point 7 of the issue).
/// Returns the reason to give when a legal retention duty keeps part of the data.
async fn apply(state: &AppState, auth: &Auth, d: &Dsr) -> AppResult<Option<String>> {
    let Some(pid) = d.person_id else {
        return Ok(None);
    };
    if state.store.person_kind(pid).is_err() {
        // Already erased (or never found): nothing left to apply.
        return Ok(None);
    }
    let actor = auth.actor();
    let scope = d.scope.clone();
    let reason = format!("{} request {}", d.kind.article(), d.id);
    match d.kind {
        DsrKind::Erasure => {
            let outcome = state
                .blocking(move |s| Ok(s.erase_person(actor, pid)?))
                .await?;
            Ok(outcome.retained_until.map(|until| {
                let day = until
                    .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or(jiff::tz::TimeZone::UTC))
                    .date();
                format!(
                    "Alle Daten wurden gelöscht außer {n} Geschäftsbrief(en) zu einem abgeschlossenen Geschäft, die nach \
                     § 257 HGB und § 147 AO bis {de} aufbewahrt werden müssen; sie sind bis dahin gesperrt und werden danach \
                     gelöscht (Art. 17 Abs. 3 lit. b DSGVO). / All data was erased except {n} business letter(s) about a \
                     concluded deal that must be kept until {day} (§257 HGB, §147 AO); they are restricted until then and \
                     erased afterwards (Art. 17(3)(b) GDPR).",
                    n = outcome.retained_letters,
                    de = day.strftime("%d.%m.%Y"),
                )
            }))
        }
        DsrKind::Restriction => {
            state
                .blocking(move |s| Ok(s.restrict(actor, pid, &reason).map(|_| None)?))
                .await
        }
        DsrKind::Objection => {
            let scope = ObjectionScope::parse(scope.as_deref().unwrap_or("direct_marketing"))
                .map_err(|e| invalid("scope", e.0))?;
            state
                .blocking(move |s| {
                    Ok(s.record_objection(actor, pid, &scope, "request")
                        .map(|_| None)?)
                })
                .await
        }
        DsrKind::Access | DsrKind::Portability | DsrKind::Rectification => Ok(None),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionBody {
    /// Why more time is needed (complexity, number of requests).
    pub reason: String,
    /// When the person was told, within the first month (RFC 3339).
    pub notified_at: String,
}

/// Extends the deadline once, by two months (Art. 12(3) S. 2–3).
#[utoipa::path(post, path = "/api/v1/dsr/{id}/extension", tag = "privacy", params(("id" = String, Path)), request_body = ExtensionBody,
    responses((status = 200, body = DsrOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn extend_dsr(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<ExtensionBody>,
) -> AppResult<Json<DsrOut>> {
    let d = extend_for(
        &state,
        &auth,
        &id,
        &body.value.reason,
        &body.value.notified_at,
    )
    .await?;
    Ok(Json(dsr_out(&d, state.store.now())))
}

/// An extension (API and UI alike).
pub async fn extend_for(
    state: &AppState,
    auth: &Auth,
    id: &str,
    reason: &str,
    notified_at: &str,
) -> AppResult<Dsr> {
    auth.require(Permission::ManagePrivacy)?;
    let d = load(state, id)?;
    let notified: jiff::Timestamp = notified_at
        .trim()
        .parse()
        .map_err(|_| invalid("notified_at", "must be an RFC 3339 instant"))?;
    if reason.chars().count() > 2000 {
        return Err(invalid("reason", "is longer than 2000 characters"));
    }
    let actor = AuditActor::User(auth.user.id);
    let reason = reason.to_owned();
    state
        .blocking(move |s| Ok(s.extend_dsr(actor, &d.id, &reason, notified)?))
        .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    pub person_id: String,
}

/// Links the request to the person it concerns.
#[utoipa::path(put, path = "/api/v1/dsr/{id}/person", tag = "privacy", params(("id" = String, Path)), request_body = LinkBody,
    responses((status = 200, body = DsrOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn link_dsr(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<LinkBody>,
) -> AppResult<Json<DsrOut>> {
    auth.require(Permission::ManagePrivacy)?;
    let d = load(&state, &id)?;
    let pid: PersonId = path_id(&body.value.person_id, "person")
        .map_err(|_| invalid("person_id", "is not a valid id"))?;
    let actor = AuditActor::User(auth.user.id);
    let d = state
        .blocking(move |s| Ok(s.link_dsr_person(actor, &d.id, pid)?))
        .await?;
    Ok(Json(dsr_out(&d, state.store.now())))
}
