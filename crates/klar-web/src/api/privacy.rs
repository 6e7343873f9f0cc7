//! The purposes registry and the policy gate's decisions, read-only for now: recording
//! consents, objections and restrictions comes with the rest of the privacy core.

use super::common::path_id;
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ApiPath, ApiQuery};
use crate::i18n::Locale;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use klar_domain::FieldError;
use klar_domain::ids::PersonId;
use klar_domain::policy::{Channel, PersonFacts, Purpose, decide};
use klar_domain::role::Permission;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct LocalizedText {
    pub de: String,
    pub en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurposeOut {
    pub key: String,
    /// The name in the language of `Accept-Language` (German by default).
    pub name: String,
    pub names: LocalizedText,
    pub descriptions: LocalizedText,
    /// `consent`, `contract`, `legal_obligation` or `legitimate_interest`.
    pub legal_basis: String,
    /// The GDPR article of the basis, e.g. `Art. 6(1)(a) GDPR`.
    pub legal_basis_article: String,
    /// `email`, `phone`, `sms`, `post`.
    pub channels: Vec<String>,
    /// Key of the retention class.
    pub retention: String,
    pub data_categories: Vec<String>,
    pub direct_marketing: bool,
    pub active: bool,
    pub version: u32,
}

fn locale(headers: &HeaderMap) -> Locale {
    Locale::from_accept_language(
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

impl PurposeOut {
    fn new(p: &Purpose, l: Locale) -> Self {
        PurposeOut {
            key: p.key.clone(),
            name: if l == Locale::En {
                p.name_en.clone()
            } else {
                p.name_de.clone()
            },
            names: LocalizedText {
                de: p.name_de.clone(),
                en: p.name_en.clone(),
            },
            descriptions: LocalizedText {
                de: p.description_de.clone(),
                en: p.description_en.clone(),
            },
            legal_basis: p.legal_basis.as_str().into(),
            legal_basis_article: p.legal_basis.article().into(),
            channels: p.channels.iter().map(|c| c.as_str().to_string()).collect(),
            retention: p.retention.clone(),
            data_categories: p.data_categories.clone(),
            direct_marketing: p.direct_marketing,
            active: p.active,
            version: p.version,
        }
    }
}

/// The purposes of processing, each with exactly one legal basis.
#[utoipa::path(get, path = "/api/v1/purposes", tag = "privacy", responses((status = 200, body = Vec<PurposeOut>)))]
pub async fn list_purposes(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
) -> AppResult<Json<Vec<PurposeOut>>> {
    auth.require(Permission::ReadPipelineConfig)?;
    let l = locale(&headers);
    Ok(Json(
        state
            .store
            .purposes()?
            .iter()
            .map(|p| PurposeOut::new(p, l))
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DecisionQuery {
    /// A purpose key, e.g. `newsletter`.
    pub purpose: String,
    /// `email`, `phone`, `sms` or `post`.
    pub channel: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionOut {
    pub purpose: String,
    pub channel: String,
    pub allowed: bool,
    /// The basis the use rests on when allowed; for a refusal the basis that was checked.
    pub legal_basis: Option<String>,
    /// Machine-readable reason, e.g. `no_consent`, `objection`, `restricted`.
    pub reason_code: String,
    /// The reason in the language of `Accept-Language` (German by default).
    pub reason: String,
    pub reasons: LocalizedText,
    /// The rule of LAW.md that decided, e.g. `B9.6`.
    pub rule: String,
    pub decided_at: String,
}

/// May Klar use this person's data for this purpose on this channel now? The policy gate's
/// answer, with the reason in plain words.
#[utoipa::path(get, path = "/api/v1/persons/{id}/decision", tag = "privacy", params(("id" = String, Path), DecisionQuery),
    responses((status = 200, body = DecisionOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn person_decision(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiPath(id): ApiPath,
    ApiQuery(q): ApiQuery<DecisionQuery>,
) -> AppResult<Json<DecisionOut>> {
    auth.require(Permission::ReadCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    let purposes = state.store.purposes()?;
    let mut errs = Vec::new();
    let channel = Channel::parse(&q.channel)
        .map_err(|e| errs.push(FieldError::new("channel", e.0)))
        .ok();
    if !purposes.iter().any(|p| p.key == q.purpose) {
        errs.push(FieldError::new(
            "purpose",
            "is not a purpose of this installation",
        ));
    }
    let Some(channel) = channel.filter(|_| errs.is_empty()) else {
        return Err(AppError::Invalid(errs));
    };
    let kind = state.store.person_kind(pid).map_err(|e| match e {
        klar_store::StoreError::NotFound => AppError::NotFound("no person with this id".into()),
        other => other.into(),
    })?;
    // Until consents, objections and restrictions can be recorded, a person's facts are her
    // kind alone: privacy by default refuses every optional purpose.
    let facts = PersonFacts::new(Some(kind));
    let now = state.store.now();
    let d = decide(&facts, &purposes, &q.purpose, channel, now);
    let reason = if locale(&headers) == Locale::En {
        d.reason_en.clone()
    } else {
        d.reason_de.clone()
    };
    Ok(Json(DecisionOut {
        purpose: q.purpose,
        channel: channel.as_str().into(),
        allowed: d.allowed,
        legal_basis: d.legal_basis.map(|b| b.as_str().to_string()),
        reason_code: d.reason_code.as_str().into(),
        reason,
        reasons: LocalizedText {
            de: d.reason_de,
            en: d.reason_en,
        },
        rule: d.rule.into(),
        decided_at: now.to_string(),
    }))
}
