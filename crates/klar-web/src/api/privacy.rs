//! The purposes registry, the policy gate's decisions, and recording what the gate decides
//! from: consents (with double opt-in), objections and the restriction of processing.

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
use klar_domain::policy::{Channel, Purpose, decide_with};
use klar_domain::role::Permission;
use klar_store::audit::{AuditAction, AuditEntry};
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
    /// The goods class a message would advertise; needed for the §7(3) UWG
    /// existing-customer exception (same class as the sale).
    pub goods_class: Option<String>,
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
    let facts = state
        .store
        .get_person(pid)
        .and_then(|p| state.store.privacy_facts_for(&p, q.goods_class.as_deref()))
        .map_err(|e| match e {
            klar_store::StoreError::NotFound => AppError::NotFound("no person with this id".into()),
            other => other.into(),
        })?;
    let now = state.store.now();
    let d = decide_with(
        &state.config.consent_config(),
        &facts,
        &purposes,
        &q.purpose,
        channel,
        now,
    );
    state.store.audit(AuditEntry::decision(
        auth.actor(),
        pid,
        &q.purpose,
        channel,
        &d,
    ));
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

/// Refuses changes to a restricted person (Art. 18) unless the caller may manage privacy.
pub fn ensure_changeable(state: &AppState, auth: &Auth, pid: PersonId) -> AppResult<()> {
    if !auth.user.role.allows(Permission::ManagePrivacy) && state.store.is_restricted(pid)? {
        return Err(AppError::Refused {
            reason_code: "restricted".into(),
            detail: "processing of this person is restricted (Art. 18 GDPR); only the privacy officer may change her data".into(),
        });
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionBody {
    /// `direct_marketing` (Art. 21(2), all channels) or a purpose key (Art. 21(1)).
    pub scope: String,
    /// How the objection reached us, e.g. `phone`, `letter`, `email`, `web`; default `staff`.
    pub source: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectionOut {
    pub id: String,
    pub scope: String,
    pub source: String,
    pub recorded_by: Option<String>,
    pub at: String,
}

impl From<&klar_store::privacy::ObjectionRecord> for ObjectionOut {
    fn from(o: &klar_store::privacy::ObjectionRecord) -> Self {
        ObjectionOut {
            id: o.id.clone(),
            scope: o.scope.clone(),
            source: o.source.clone(),
            recorded_by: o.actor.clone(),
            at: o.at.to_string(),
        }
    }
}

/// Record an objection (Art. 21). It takes effect at once on every channel; an objection to
/// direct marketing also puts the person's addresses on the suppression list.
#[utoipa::path(post, path = "/api/v1/persons/{id}/objections", tag = "privacy", params(("id" = String, Path)), request_body = ObjectionBody,
    responses((status = 201, body = ObjectionOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_objection(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: crate::extract::ApiJson<ObjectionBody>,
) -> AppResult<(axum::http::StatusCode, Json<ObjectionOut>)> {
    auth.require(Permission::WriteCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    let o = objection_for(&state, &auth, pid, &body.value).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ObjectionOut::from(&o)),
    ))
}

/// Records an objection (API and UI alike).
pub async fn objection_for(
    state: &AppState,
    auth: &Auth,
    pid: PersonId,
    b: &ObjectionBody,
) -> AppResult<klar_store::privacy::ObjectionRecord> {
    let scope = klar_domain::policy::ObjectionScope::parse(&b.scope)
        .map_err(|e| AppError::Invalid(vec![FieldError::new("scope", e.0)]))?;
    if let klar_domain::policy::ObjectionScope::Purpose(k) = &scope
        && !state.store.purposes()?.iter().any(|p| &p.key == k)
    {
        return Err(AppError::Invalid(vec![FieldError::new(
            "scope",
            "is not a purpose of this installation",
        )]));
    }
    let source = match b.source.as_deref() {
        None => "staff".to_string(),
        Some(s) => klar_domain::text::required_line(s, 40)
            .map_err(|e| AppError::Invalid(vec![FieldError::new("source", e.0)]))?,
    };
    let actor = auth.actor();
    state
        .blocking(move |s| Ok(s.record_objection(actor, pid, &scope, &source)?))
        .await
}

/// The objections recorded for a person.
#[utoipa::path(get, path = "/api/v1/persons/{id}/objections", tag = "privacy", params(("id" = String, Path)),
    responses((status = 200, body = Vec<ObjectionOut>), (status = 404, body = Problem)))]
pub async fn list_objections(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<Vec<ObjectionOut>>> {
    auth.require(Permission::ReadCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    state.store.person_kind(pid)?;
    Ok(Json(
        state
            .store
            .objections(pid)?
            .iter()
            .map(ObjectionOut::from)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictionBody {
    /// Why processing is restricted (Art. 18(1)(a)-(d)); free text without personal data.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RestrictionOut {
    pub restricted: bool,
    pub reason: Option<String>,
    pub since: Option<String>,
}

fn restriction_out(r: Option<klar_store::privacy::Restriction>) -> RestrictionOut {
    match r {
        None => RestrictionOut {
            restricted: false,
            reason: None,
            since: None,
        },
        Some(r) => RestrictionOut {
            restricted: true,
            reason: Some(r.reason),
            since: Some(r.since.to_string()),
        },
    }
}

/// Whether processing of the person is restricted.
#[utoipa::path(get, path = "/api/v1/persons/{id}/restriction", tag = "privacy", params(("id" = String, Path)),
    responses((status = 200, body = RestrictionOut), (status = 404, body = Problem)))]
pub async fn get_restriction(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<RestrictionOut>> {
    auth.require(Permission::ReadCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    state.store.person_kind(pid)?;
    Ok(Json(restriction_out(state.store.restriction(pid)?)))
}

/// Restrict processing (Art. 18): the person is kept but refused for every purpose, and
/// only the privacy officer may change her data.
#[utoipa::path(post, path = "/api/v1/persons/{id}/restriction", tag = "privacy", params(("id" = String, Path)), request_body = RestrictionBody,
    responses((status = 200, body = RestrictionOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn restrict_person(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: crate::extract::ApiJson<RestrictionBody>,
) -> AppResult<Json<RestrictionOut>> {
    auth.require(Permission::ManagePrivacy)?;
    let pid: PersonId = path_id(&id, "person")?;
    let reason = klar_domain::text::required_line(&body.value.reason, 500)
        .map_err(|e| AppError::Invalid(vec![FieldError::new("reason", e.0)]))?;
    let actor = auth.actor();
    let r = state
        .blocking(move |s| Ok(s.restrict(actor, pid, &reason)?))
        .await?;
    Ok(Json(restriction_out(Some(r))))
}

/// Lift the restriction of processing.
#[utoipa::path(delete, path = "/api/v1/persons/{id}/restriction", tag = "privacy", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn lift_restriction(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<axum::http::StatusCode> {
    auth.require(Permission::ManagePrivacy)?;
    let pid: PersonId = path_id(&id, "person")?;
    state.store.person_kind(pid)?;
    let actor = auth.actor();
    if state
        .blocking(move |s| Ok(s.lift_restriction(actor, pid)?))
        .await?
    {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(
            "processing of this person is not restricted".into(),
        ))
    }
}

/// The channel an activity uses to reach the person, if it is an outbound contact.
pub fn contact_channel(kind: klar_domain::records::ActivityKind) -> Option<Channel> {
    use klar_domain::records::ActivityKind;
    match kind {
        ActivityKind::Call => Some(Channel::Phone),
        ActivityKind::Email => Some(Channel::Email),
        ActivityKind::Note | ActivityKind::Meeting | ActivityKind::Task => None,
    }
}

/// A call or email logged for a purpose must name a purpose of the installation; for a
/// direct-marketing purpose it must pass the policy gate (§7 UWG, Art. 6, 21 GDPR), or it is
/// refused with the gate's `reason_code`. Contract contacts are checked once contract
/// relationships are recorded.
pub fn check_contact(
    state: &AppState,
    actor: klar_store::Actor,
    e: &klar_store::activities::ActivityEdit,
) -> AppResult<()> {
    let Some(key) = e.purpose.as_deref() else {
        return Ok(());
    };
    let purposes = state.store.purposes()?;
    let Some(purpose) = purposes.iter().find(|p| p.key == key) else {
        return Err(AppError::Invalid(vec![FieldError::new(
            "purpose",
            "is not a purpose of this installation",
        )]));
    };
    let (Some(pid), Some(channel)) = (e.person_id, contact_channel(e.kind)) else {
        return Ok(());
    };
    if !purpose.direct_marketing {
        return Ok(());
    }
    let facts = state.store.privacy_facts(pid)?;
    let d = decide_with(
        &state.config.consent_config(),
        &facts,
        &purposes,
        key,
        channel,
        e.occurred_at,
    );
    state
        .store
        .audit(AuditEntry::decision(actor, pid, key, channel, &d));
    tracing::info!(person_id = %pid, purpose = key, channel = channel.as_str(), allowed = d.allowed, rule = d.rule, "contact checked");
    if d.allowed {
        Ok(())
    } else {
        Err(AppError::Refused {
            reason_code: d.reason_code.as_str().into(),
            detail: d.reason_en,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurposeBody {
    pub key: String,
    pub name_de: String,
    pub name_en: String,
    pub description_de: String,
    pub description_en: String,
    /// `consent`, `contract`, `legal_obligation` or `legitimate_interest`.
    pub legal_basis: String,
    /// `email`, `phone`, `sms`, `post`.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub data_categories: Vec<String>,
    pub retention: String,
    #[serde(default)]
    pub direct_marketing: bool,
}

/// Changes to a purpose; the legal basis cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurposePatchBody {
    pub name_de: Option<String>,
    pub name_en: Option<String>,
    pub description_de: Option<String>,
    pub description_en: Option<String>,
    pub legal_basis: Option<String>,
    pub channels: Option<Vec<String>>,
    pub data_categories: Option<Vec<String>>,
    pub retention: Option<String>,
    /// Advertising (Art. 21(2) objections and §7 UWG apply).
    pub direct_marketing: Option<bool>,
    pub active: Option<bool>,
}

fn text_field(errs: &mut klar_domain::error::Errors, field: &str, v: &str, max: usize) -> String {
    errs.take(field, klar_domain::text::required_line(v, max))
        .unwrap_or_default()
}

fn channels_field(errs: &mut klar_domain::error::Errors, v: &[String]) -> Vec<Channel> {
    v.iter()
        .enumerate()
        .filter_map(|(i, c)| errs.take(&format!("channels[{i}]"), Channel::parse(c)))
        .collect()
}

fn categories_field(errs: &mut klar_domain::error::Errors, v: &[String]) -> Vec<String> {
    v.iter()
        .enumerate()
        .filter_map(|(i, c)| {
            errs.take(
                &format!("data_categories[{i}]"),
                klar_domain::text::required_line(c, 60),
            )
        })
        .collect()
}

/// Checks the body of a new purpose field by field (the API and the purposes page).
pub fn purpose_from_body(b: &PurposeBody) -> Result<Purpose, klar_domain::DomainError> {
    let mut errs = klar_domain::error::Errors::new();
    let key = errs
        .take("key", klar_domain::policy::parse_purpose_key(&b.key))
        .unwrap_or_default();
    let legal_basis = errs.take(
        "legal_basis",
        klar_domain::policy::LegalBasis::parse(&b.legal_basis),
    );
    if legal_basis.is_some_and(|l| !l.usable_for_purposes()) {
        errs.push(
            "legal_basis",
            "vital interests and public task cannot be the basis of a CRM purpose",
        );
    }
    let p = Purpose {
        key,
        name_de: text_field(&mut errs, "name_de", &b.name_de, 100),
        name_en: text_field(&mut errs, "name_en", &b.name_en, 100),
        description_de: text_field(&mut errs, "description_de", &b.description_de, 1000),
        description_en: text_field(&mut errs, "description_en", &b.description_en, 1000),
        legal_basis: legal_basis.unwrap_or(klar_domain::policy::LegalBasis::Consent),
        channels: channels_field(&mut errs, &b.channels),
        data_categories: categories_field(&mut errs, &b.data_categories),
        retention: text_field(&mut errs, "retention", &b.retention, 60),
        direct_marketing: b.direct_marketing,
        active: true,
        version: 1,
    };
    errs.finish()?;
    Ok(p)
}

/// Applies a change to a purpose, checking each given field (the API and the purposes
/// page). A changed legal basis is refused by the store.
pub fn apply_purpose_patch(
    p: &mut Purpose,
    b: &PurposePatchBody,
) -> Result<(), klar_domain::DomainError> {
    let mut errs = klar_domain::error::Errors::new();
    if let Some(v) = &b.name_de {
        p.name_de = text_field(&mut errs, "name_de", v, 100);
    }
    if let Some(v) = &b.name_en {
        p.name_en = text_field(&mut errs, "name_en", v, 100);
    }
    if let Some(v) = &b.description_de {
        p.description_de = text_field(&mut errs, "description_de", v, 1000);
    }
    if let Some(v) = &b.description_en {
        p.description_en = text_field(&mut errs, "description_en", v, 1000);
    }
    if let Some(v) = &b.legal_basis
        && let Some(l) = errs.take("legal_basis", klar_domain::policy::LegalBasis::parse(v))
    {
        p.legal_basis = l;
    }
    if let Some(v) = &b.channels {
        p.channels = channels_field(&mut errs, v);
    }
    if let Some(v) = &b.data_categories {
        p.data_categories = categories_field(&mut errs, v);
    }
    if let Some(v) = &b.retention {
        p.retention = text_field(&mut errs, "retention", v, 60);
    }
    if let Some(d) = b.direct_marketing {
        p.direct_marketing = d;
    }
    if let Some(a) = b.active {
        p.active = a;
    }
    errs.finish()
}

/// Define a new purpose (the privacy officer).
#[utoipa::path(post, path = "/api/v1/purposes", tag = "privacy", request_body = PurposeBody,
    responses((status = 201, body = PurposeOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_purpose(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: crate::extract::ApiJson<PurposeBody>,
) -> AppResult<(axum::http::StatusCode, Json<PurposeOut>)> {
    auth.require(Permission::ManagePrivacy)?;
    let p = purpose_from_body(&body.value)?;
    let actor = auth.actor();
    let p = state
        .blocking(move |s| Ok(s.create_purpose(actor, &p)?))
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(PurposeOut::new(&p, locale(&headers))),
    ))
}

/// Change a purpose (the privacy officer). Every change is a new version; the legal basis
/// cannot change.
#[utoipa::path(patch, path = "/api/v1/purposes/{key}", tag = "privacy", params(("key" = String, Path)), request_body = PurposePatchBody,
    responses((status = 200, body = PurposeOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_purpose(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiPath(key): ApiPath,
    body: crate::extract::ApiJson<PurposePatchBody>,
) -> AppResult<Json<PurposeOut>> {
    auth.require(Permission::ManagePrivacy)?;
    let b = body.value;
    let actor = auth.actor();
    let p = state
        .blocking(move |s| Ok(s.update_purpose(actor, &key, |p| apply_purpose_patch(p, &b))?))
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => AppError::NotFound("no purpose with this key".into()),
            other => other,
        })?;
    Ok(Json(PurposeOut::new(&p, locale(&headers))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    /// A purpose key whose legal basis is consent, e.g. `newsletter`.
    pub purpose: String,
    /// `email`, `phone`, `sms` or `post`; must be a channel of the purpose.
    pub channel: String,
    /// `grant` or `withdraw`.
    pub action: String,
    /// Who gave or withdrew it: `staff` (default, entered by staff), `person` or `import`.
    pub source: Option<String>,
    /// The version of the consent wording the person was shown; required for a grant.
    pub wording_version: Option<String>,
    /// A reference to the proof of a grant entered by staff: a signed form's scan, a call
    /// recording. Required for grants by staff or import. Stored encrypted.
    pub evidence: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentOut {
    pub purpose: String,
    pub channel: String,
    /// `none`, `pending` (awaiting the double opt-in), `given`, `withdrawn` or `expired`.
    pub state: String,
    pub recorded_at: String,
}

/// Grant or withdraw consent for a purpose on a channel. An email grant stays `pending`
/// until the person confirms it (double opt-in); a withdrawal takes effect at once.
#[utoipa::path(post, path = "/api/v1/persons/{id}/consents", tag = "privacy", params(("id" = String, Path)), request_body = ConsentBody,
    responses((status = 201, body = ConsentOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn record_consent(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: crate::extract::ApiJson<ConsentBody>,
) -> AppResult<(axum::http::StatusCode, Json<ConsentOut>)> {
    auth.require(Permission::WriteCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    let out = consent_for(&state, &auth, pid, &body.value).await?;
    Ok((axum::http::StatusCode::CREATED, Json(out)))
}

/// Records a consent grant or withdrawal (API and UI alike).
pub async fn consent_for(
    state: &AppState,
    auth: &Auth,
    pid: PersonId,
    b: &ConsentBody,
) -> AppResult<ConsentOut> {
    use klar_domain::policy::{
        ConsentEvent, ConsentEventKind, ConsentSource, LegalBasis, consent_state,
    };
    state.store.person_kind(pid)?;
    let purposes = state.store.purposes()?;
    let mut errs = klar_domain::error::Errors::new();
    let purpose = purposes.iter().find(|p| p.key == b.purpose && p.active);
    match purpose {
        None => errs.push("purpose", "is not a purpose of this installation"),
        Some(p) if p.legal_basis != LegalBasis::Consent => {
            errs.push("purpose", "does not rest on consent")
        }
        Some(_) => {}
    }
    let channel = errs.take("channel", Channel::parse(&b.channel));
    if let (Some(p), Some(c)) = (purpose, channel)
        && !p.allows(c)
    {
        errs.push("channel", "is not a channel of this purpose");
    }
    let kind = match b.action.as_str() {
        "grant" => Some(ConsentEventKind::Grant),
        "withdraw" => Some(ConsentEventKind::Withdraw),
        _ => {
            errs.push("action", "must be grant or withdraw");
            None
        }
    };
    let source = errs.take(
        "source",
        ConsentSource::parse(b.source.as_deref().unwrap_or("staff")),
    );
    let wording = b
        .wording_version
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .to_string();
    let evidence = b
        .evidence
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string);
    if kind == Some(ConsentEventKind::Grant) {
        if wording.is_empty() {
            errs.push(
                "wording_version",
                "a grant names the wording the person was shown",
            );
        } else if let Some(p) = purpose.filter(|p| p.legal_basis == LegalBasis::Consent) {
            match state.store.wording(&wording)? {
                Some(w) if w.purpose == p.key => {}
                _ => errs.push("wording_version", "is not a stored wording of this purpose"),
            }
        }
        if source != Some(ConsentSource::Person) && evidence.is_none() {
            errs.push(
                "evidence",
                "a grant entered by staff or imported needs a reference to its proof",
            );
        }
    }
    if wording.chars().count() > 60 {
        errs.push("wording_version", "is longer than 60 characters");
    }
    if evidence.as_ref().is_some_and(|e| e.chars().count() > 500) {
        errs.push("evidence", "is longer than 500 characters");
    }
    errs.finish()?;
    let (Some(purpose), Some(channel), Some(kind), Some(source)) = (purpose, channel, kind, source)
    else {
        return Err(AppError::Internal("validated fields missing".into()));
    };
    // An email grant is confirmed by the person through a neutral mail (double opt-in).
    let doi = kind == ConsentEventKind::Grant && channel == Channel::Email;
    let doi_route = if doi {
        let mailer = state.mailer.clone().ok_or_else(|| {
            AppError::Unavailable(
                "sending mail is not configured (KLAR_SMTP_URL); an email consent needs a double opt-in mail".into(),
            )
        })?;
        let to = state
            .store
            .get_person(pid)?
            .personal
            .primary_email()
            .map(|e| e.as_str().to_string())
            .ok_or_else(|| {
                AppError::Invalid(vec![FieldError::new(
                    "channel",
                    "the person has no email address to confirm",
                )])
            })?;
        Some((mailer, to))
    } else {
        None
    };
    let now = state.store.now();
    let event = ConsentEvent {
        at: now,
        purpose: purpose.key.clone(),
        channel,
        kind,
        source,
        wording_version: wording.clone(),
        evidence,
    };
    let actor = auth.actor();
    let version = purpose.version;
    let key = purpose.key.clone();
    let window = state.config.doi_window();
    let (events, token) = state
        .blocking(move |s| {
            s.append_consent_event(actor, pid, version, &event)?;
            let token = if doi {
                Some(s.create_doi(pid, &key, &wording, window)?)
            } else {
                None
            };
            Ok((s.consent_events(pid)?, token))
        })
        .await?;
    if let (Some((mailer, to)), Some(token)) = (doi_route, token) {
        let link = format!("{}/consent/confirm?token={token}", state.config.public_url);
        let (subject, body) = confirmation_mail(purpose, &link, state.config.doi_expiry_days);
        state.store.audit(
            AuditEntry::new(auth.actor(), AuditAction::DoiMailSent)
                .person(pid)
                .purpose(&purpose.key)
                .channel(channel),
        );
        mailer.send_text(&to, &subject, body).await.map_err(|_| {
            AppError::BadGateway(
                "the grant is recorded as pending, but the mail server did not take the confirmation mail; \
                 record the grant again to send a new one"
                    .into(),
            )
        })?;
    }
    let st = consent_state(
        &events,
        &purpose.key,
        channel,
        now,
        &state.config.consent_config(),
    );
    Ok(ConsentOut {
        purpose: purpose.key.clone(),
        channel: channel.as_str().into(),
        state: st.as_str().into(),
        recorded_at: now.to_string(),
    })
}

/// The person's consent state for every consent-based purpose and channel, now.
#[utoipa::path(get, path = "/api/v1/persons/{id}/consents", tag = "privacy", params(("id" = String, Path)),
    responses((status = 200, body = Vec<ConsentOut>), (status = 404, body = Problem)))]
pub async fn list_consents(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<Vec<ConsentOut>>> {
    use klar_domain::policy::{LegalBasis, consent_state};
    auth.require(Permission::ReadCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    state.store.person_kind(pid)?;
    let events = state.store.consent_events(pid)?;
    state
        .store
        .audit(AuditEntry::new(auth.actor(), AuditAction::ConsentRead).person(pid));
    let now = state.store.now();
    let config = state.config.consent_config();
    let mut out = Vec::new();
    for p in state
        .store
        .purposes()?
        .iter()
        .filter(|p| p.legal_basis == LegalBasis::Consent)
    {
        for c in &p.channels {
            let st = consent_state(&events, &p.key, *c, now, &config);
            let at = events
                .iter()
                .rev()
                .find(|e| e.purpose == p.key && e.channel == *c)
                .map(|e| e.at.to_string());
            out.push(ConsentOut {
                purpose: p.key.clone(),
                channel: c.as_str().into(),
                state: st.as_str().into(),
                recorded_at: at.unwrap_or_default(),
            });
        }
    }
    Ok(Json(out))
}

/// How long a double opt-in link stays valid by default, in days (LAW.md table 2c);
/// `WebConfig::doi_expiry_days` holds the configured value.
pub const DOI_DAYS: u16 = 30;

/// The confirmation mail: neutral, without advertising (LAW.md table 2c), in German and
/// English since the person's language is not known.
pub fn confirmation_mail(purpose: &Purpose, link: &str, days: u16) -> (String, String) {
    let subject =
        "Bitte bestätigen Sie Ihre Einwilligung / Please confirm your consent".to_string();
    let body = format!(
        "Guten Tag,\n\nbitte bestätigen Sie, dass wir Sie für folgenden Zweck per E-Mail kontaktieren dürfen:\n\
         {de}\n\nZum Bestätigen öffnen Sie diesen Link und klicken Sie auf der Seite auf die Schaltfläche:\n{link}\n\n\
         Wenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail: ohne Bestätigung erhalten Sie dazu keine \
         Nachrichten. Der Link gilt {days} Tage.\n\n---\n\nHello,\n\nplease confirm that we may contact you by email for \
         this purpose:\n{en}\n\nTo confirm, open this link and press the button on the page:\n{link}\n\nIf you did not ask \
         for this, ignore this email: without confirmation you will not receive such messages. The link is valid for \
         {days} days.\n",
        de = purpose.name_de,
        en = purpose.name_en,
    );
    (subject, body)
}
