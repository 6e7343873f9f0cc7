//! The grounds a legal basis rests on besides consent: legitimate-interest assessments and
//! consent wordings per purpose; per person the contract relationship (from won deals),
//! presumed consent to sales calls (businesses), the §7(3) UWG existing-customer facts and
//! the "no advertising" marker. The policy gate reads all of them.

use super::common::path_id;
use super::privacy::ensure_changeable;
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ApiJson, ApiPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use klar_domain::FieldError;
use klar_domain::email::Email;
use klar_domain::ids::{DealId, PersonId};
use klar_domain::policy::ContractRelationship;
use klar_domain::records::PersonKind;
use klar_domain::role::Permission;
use klar_store::audit::{AuditAction, AuditEntry};
use klar_store::grounds::Assessment;
use klar_store::wordings::Wording;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn invalid(field: &str, msg: impl Into<String>) -> AppError {
    AppError::Invalid(vec![FieldError::new(field, msg)])
}

fn purpose_exists(state: &AppState, key: &str) -> AppResult<()> {
    if state.store.purposes()?.iter().any(|p| p.key == key) {
        Ok(())
    } else {
        Err(AppError::NotFound("no purpose with this key".into()))
    }
}

/// A legitimate-interest assessment: who weighed what, when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssessmentOut {
    pub id: String,
    pub purpose: String,
    /// The balancing test: the interest, why the processing is necessary, why the
    /// person's interests do not override it (Art. 6(1)(f), Recital 47).
    pub text: String,
    /// Staff user id of the author.
    pub author: String,
    pub created_at: String,
    pub withdrawn_at: Option<String>,
}

impl From<Assessment> for AssessmentOut {
    fn from(a: Assessment) -> Self {
        Self {
            id: a.id,
            purpose: a.purpose,
            text: a.text,
            author: a.author,
            created_at: a.created_at.to_string(),
            withdrawn_at: a.withdrawn_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentsOut {
    /// The assessment in force, if any.
    pub current: Option<AssessmentOut>,
    /// Every assessment of the purpose, newest first.
    pub history: Vec<AssessmentOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentBody {
    /// The balancing test in plain words (at least 40 characters).
    pub text: String,
}

/// The legitimate-interest assessments of a purpose.
#[utoipa::path(get, path = "/api/v1/purposes/{key}/assessment", tag = "privacy", params(("key" = String, Path)),
    responses((status = 200, body = AssessmentsOut), (status = 404, body = Problem)))]
pub async fn get_assessment(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(key): ApiPath,
) -> AppResult<Json<AssessmentsOut>> {
    auth.require(Permission::ReadPipelineConfig)?;
    purpose_exists(&state, &key)?;
    let history: Vec<AssessmentOut> = state
        .store
        .interest_assessments(&key)?
        .into_iter()
        .map(AssessmentOut::from)
        .collect();
    let current = history.iter().find(|a| a.withdrawn_at.is_none()).cloned();
    Ok(Json(AssessmentsOut { current, history }))
}

/// Records the assessment for a purpose (privacy officer); it replaces the one in force.
#[utoipa::path(put, path = "/api/v1/purposes/{key}/assessment", tag = "privacy", params(("key" = String, Path)),
    request_body = AssessmentBody,
    responses((status = 200, body = AssessmentOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_assessment(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(key): ApiPath,
    body: ApiJson<AssessmentBody>,
) -> AppResult<Json<AssessmentOut>> {
    auth.require(Permission::ManagePrivacy)?;
    purpose_exists(&state, &key)?;
    let text =
        klar_domain::text::bounded(&body.value.text, 20_000).map_err(|e| invalid("text", e.0))?;
    if text.chars().count() < 40 {
        return Err(invalid(
            "text",
            "is too short for a balancing test (at least 40 characters)",
        ));
    }
    let actor = auth.actor();
    let a = state
        .blocking(move |s| Ok(s.record_interest_assessment(actor, &key, &text)?))
        .await?;
    Ok(Json(a.into()))
}

/// Withdraws the assessment in force: the purpose's (f) basis fails from now on.
#[utoipa::path(delete, path = "/api/v1/purposes/{key}/assessment", tag = "privacy", params(("key" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_assessment(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(key): ApiPath,
) -> AppResult<StatusCode> {
    auth.require(Permission::ManagePrivacy)?;
    let actor = auth.actor();
    if state
        .blocking(move |s| Ok(s.withdraw_interest_assessment(actor, &key)?))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(
            "this purpose has no assessment in force".into(),
        ))
    }
}

/// A consent wording as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct WordingOut {
    pub version: String,
    pub purpose: String,
    pub locale: String,
    pub text: String,
    /// Hex SHA-256 of the text: proof that the text on file is the one shown.
    pub sha256: String,
    pub created_at: String,
}

impl From<Wording> for WordingOut {
    fn from(w: Wording) -> Self {
        Self {
            version: w.version,
            purpose: w.purpose,
            locale: w.locale,
            text: w.text,
            sha256: w.sha256,
            created_at: w.created_at.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WordingBody {
    /// A new version name: letters, digits, `.`, `_`, `-` (e.g. `newsletter-de-2`).
    pub version: String,
    /// `de` or `en`.
    pub locale: String,
    /// The exact text shown beside the consent checkbox.
    pub text: String,
}

/// The consent wordings of a purpose, newest first.
#[utoipa::path(get, path = "/api/v1/purposes/{key}/wordings", tag = "privacy", params(("key" = String, Path)),
    responses((status = 200, body = Vec<WordingOut>), (status = 404, body = Problem)))]
pub async fn list_wordings(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(key): ApiPath,
) -> AppResult<Json<Vec<WordingOut>>> {
    auth.require(Permission::ReadPipelineConfig)?;
    purpose_exists(&state, &key)?;
    Ok(Json(
        state
            .store
            .wordings(&key)?
            .into_iter()
            .map(WordingOut::from)
            .collect(),
    ))
}

/// Stores a new consent wording (privacy officer). A stored version never changes.
#[utoipa::path(post, path = "/api/v1/purposes/{key}/wordings", tag = "privacy", params(("key" = String, Path)),
    request_body = WordingBody,
    responses((status = 201, body = WordingOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_wording(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(key): ApiPath,
    body: ApiJson<WordingBody>,
) -> AppResult<(StatusCode, Json<WordingOut>)> {
    auth.require(Permission::ManagePrivacy)?;
    let consent_purpose = state.store.purposes()?.into_iter().find(|p| p.key == key);
    match consent_purpose {
        None => return Err(AppError::NotFound("no purpose with this key".into())),
        Some(p) if p.legal_basis != klar_domain::policy::LegalBasis::Consent => {
            return Err(invalid("purpose", "does not rest on consent"));
        }
        Some(_) => {}
    }
    let b = body.value;
    let actor = auth.actor();
    let w = state
        .blocking(move |s| Ok(s.create_wording(actor, &key, &b.version, &b.locale, &b.text)?))
        .await?;
    Ok((StatusCode::CREATED, Json(w.into())))
}

/// A documented reason why a business would want a sales call.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresumedConsentOut {
    pub reason: String,
    pub author: String,
    pub recorded_at: String,
    pub ended_at: Option<String>,
}

/// The §7(3) UWG existing-customer facts (the address only as a keyed hash, not shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExistingCustomerOut {
    pub deal_id: String,
    pub sale_at: String,
    pub goods_class: String,
    pub notice_wording: String,
    pub recorded_at: String,
}

/// What the person's legal bases rest on besides consent.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroundsOut {
    /// `none`, `party` (a won deal of her own) or `contact_of_customer` (business contact
    /// of an organization with a won deal).
    pub contract_relationship: String,
    pub presumed_consent: Option<PresumedConsentOut>,
    pub existing_customer: Option<ExistingCustomerOut>,
    /// The person recognisably does not want advertising by post.
    pub advertising_marker: bool,
    /// Purposes with a legitimate-interest assessment in force (installation-wide).
    pub interest_assessments: Vec<String>,
}

fn relationship_str(r: ContractRelationship) -> &'static str {
    match r {
        ContractRelationship::None => "none",
        ContractRelationship::Party => "party",
        ContractRelationship::ContactOfCustomer => "contact_of_customer",
    }
}

/// The grounds of a person's legal bases.
#[utoipa::path(get, path = "/api/v1/persons/{id}/grounds", tag = "privacy", params(("id" = String, Path)),
    responses((status = 200, body = GroundsOut), (status = 404, body = Problem)))]
pub async fn get_grounds(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<GroundsOut>> {
    auth.require(Permission::ReadCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    let person = state.store.get_person(pid)?;
    let s = &state.store;
    let out = GroundsOut {
        contract_relationship: relationship_str(s.contract_relationship(
            pid,
            person.kind,
            person.organization_id,
        )?)
        .into(),
        presumed_consent: s.presumed_consent(pid)?.map(|p| PresumedConsentOut {
            reason: p.reason,
            author: p.author,
            recorded_at: p.recorded_at.to_string(),
            ended_at: p.ended_at.map(|t| t.to_string()),
        }),
        existing_customer: s.existing_customer(pid)?.map(|e| ExistingCustomerOut {
            deal_id: e.deal_id.to_string(),
            sale_at: e.sale_at.to_string(),
            goods_class: e.goods_class,
            notice_wording: e.notice_wording,
            recorded_at: e.recorded_at.to_string(),
        }),
        advertising_marker: s.has_advertising_marker(pid)?,
        interest_assessments: s.assessed_purposes()?,
    };
    s.audit(
        AuditEntry::new(auth.actor(), AuditAction::PersonRead)
            .person(pid)
            .object("grounds", pid),
    );
    Ok(Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresumedConsentBody {
    /// The concrete fact that makes the call expected (an inquiry, an existing relationship
    /// in the same field); a listing in a directory is not enough.
    pub reason: String,
}

/// Records presumed consent of a business to sales calls (§7(2) Nr. 1 UWG).
#[utoipa::path(put, path = "/api/v1/persons/{id}/presumed-consent", tag = "privacy", params(("id" = String, Path)),
    request_body = PresumedConsentBody,
    responses((status = 200, body = PresumedConsentOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_presumed_consent(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<PresumedConsentBody>,
) -> AppResult<Json<PresumedConsentOut>> {
    let pid: PersonId = path_id(&id, "person")?;
    presumed_consent_for(&state, &auth, pid, &body.value.reason)
        .await
        .map(Json)
}

/// Records presumed consent (API and UI alike).
pub async fn presumed_consent_for(
    state: &AppState,
    auth: &Auth,
    pid: PersonId,
    reason: &str,
) -> AppResult<PresumedConsentOut> {
    auth.require(Permission::WriteCrm)?;
    if state.store.person_kind(pid)? != PersonKind::Business {
        return Err(invalid(
            "person",
            "presumed consent applies to businesses only; a consumer needs express consent",
        ));
    }
    ensure_changeable(state, auth, pid)?;
    let reason = klar_domain::text::bounded(reason, 1000).map_err(|e| invalid("reason", e.0))?;
    if reason.chars().count() < 10 {
        return Err(invalid(
            "reason",
            "must name the concrete fact (at least 10 characters)",
        ));
    }
    let actor = auth.actor();
    let p = state
        .blocking(move |s| Ok(s.record_presumed_consent(actor, pid, &reason)?))
        .await?;
    Ok(PresumedConsentOut {
        reason: p.reason,
        author: p.author,
        recorded_at: p.recorded_at.to_string(),
        ended_at: None,
    })
}

/// Ends the presumed consent (e.g. the relationship it rested on ended).
#[utoipa::path(delete, path = "/api/v1/persons/{id}/presumed-consent", tag = "privacy", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_presumed_consent(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<StatusCode> {
    let pid: PersonId = path_id(&id, "person")?;
    end_presumed_consent_for(&state, &auth, pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends presumed consent (API and UI alike).
pub async fn end_presumed_consent_for(
    state: &AppState,
    auth: &Auth,
    pid: PersonId,
) -> AppResult<()> {
    auth.require(Permission::WriteCrm)?;
    state.store.person_kind(pid)?;
    ensure_changeable(state, auth, pid)?;
    let actor = auth.actor();
    if state
        .blocking(move |s| Ok(s.end_presumed_consent(actor, pid)?))
        .await?
    {
        Ok(())
    } else {
        Err(AppError::NotFound(
            "this person has no presumed consent in force".into(),
        ))
    }
}

/// Marks that the person does not want advertising by post ("Keine Werbung").
#[utoipa::path(put, path = "/api/v1/persons/{id}/advertising-marker", tag = "privacy", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn put_advertising_marker(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<StatusCode> {
    let pid: PersonId = path_id(&id, "person")?;
    marker_for(&state, &auth, pid, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the "no advertising" marker.
#[utoipa::path(delete, path = "/api/v1/persons/{id}/advertising-marker", tag = "privacy", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_advertising_marker(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<StatusCode> {
    let pid: PersonId = path_id(&id, "person")?;
    marker_for(&state, &auth, pid, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets or clears the "no advertising" marker (API and UI alike).
pub async fn marker_for(state: &AppState, auth: &Auth, pid: PersonId, on: bool) -> AppResult<()> {
    auth.require(Permission::WriteCrm)?;
    state.store.person_kind(pid)?;
    ensure_changeable(state, auth, pid)?;
    let actor = auth.actor();
    state
        .blocking(move |s| Ok(s.set_advertising_marker(actor, pid, on)?))
        .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingCustomerBody {
    /// The won deal (the sale) of this person.
    pub deal_id: String,
    /// The email address captured with the sale; one of the person's addresses.
    pub email: String,
    /// What was sold, as a class from the installation's goods classes (e.g. `printers`);
    /// advertising is allowed only for the same class.
    pub goods_class: String,
    /// The wording version of the opt-out notice the person was given when the address was
    /// collected (§7(3) Nr. 4 UWG).
    pub notice_wording: String,
}

/// Records the §7(3) UWG existing-customer facts of a person.
#[utoipa::path(put, path = "/api/v1/persons/{id}/existing-customer", tag = "privacy", params(("id" = String, Path)),
    request_body = ExistingCustomerBody,
    responses((status = 200, body = ExistingCustomerOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_existing_customer(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<ExistingCustomerBody>,
) -> AppResult<Json<ExistingCustomerOut>> {
    auth.require(Permission::WriteCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    state.store.person_kind(pid)?;
    ensure_changeable(&state, &auth, pid)?;
    let b = body.value;
    let mut errs = klar_domain::error::Errors::new();
    let deal = match b.deal_id.trim().parse::<DealId>() {
        Ok(d) => Some(d),
        Err(_) => {
            errs.push("deal_id", "is not a valid id");
            None
        }
    };
    let email = errs.take("email", Email::parse(&b.email));
    let goods = errs.take(
        "goods_class",
        klar_domain::text::required_line(&b.goods_class, 60),
    );
    let notice = errs.take(
        "notice_wording",
        klar_domain::text::required_line(&b.notice_wording, 60),
    );
    errs.finish()?;
    let (Some(deal), Some(email), Some(goods), Some(notice)) = (deal, email, goods, notice) else {
        return Err(AppError::Internal("validated fields missing".into()));
    };
    let actor = auth.actor();
    let r = state
        .blocking(move |s| {
            Ok(s.record_existing_customer(actor, pid, deal, &email, &goods, &notice)?)
        })
        .await?;
    Ok(Json(ExistingCustomerOut {
        deal_id: r.deal_id.to_string(),
        sale_at: r.sale_at.to_string(),
        goods_class: r.goods_class,
        notice_wording: r.notice_wording,
        recorded_at: r.recorded_at.to_string(),
    }))
}

/// Removes the §7(3) facts.
#[utoipa::path(delete, path = "/api/v1/persons/{id}/existing-customer", tag = "privacy", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_existing_customer(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<StatusCode> {
    auth.require(Permission::WriteCrm)?;
    let pid: PersonId = path_id(&id, "person")?;
    state.store.person_kind(pid)?;
    ensure_changeable(&state, &auth, pid)?;
    let actor = auth.actor();
    if state
        .blocking(move |s| Ok(s.clear_existing_customer(actor, pid)?))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(
            "this person has no existing-customer facts on file".into(),
        ))
    }
}
