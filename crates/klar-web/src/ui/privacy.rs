//! The person page's privacy forms: record a consent or its withdrawal, an objection, and
//! (for the privacy officer) restrict processing or lift the restriction. They call the same
//! functions as the JSON API.

use super::forms::localize_message;
use super::persons::{auth_of, show_with};
use super::session::UiSession;
use crate::AppState;
use crate::api::privacy::{ConsentBody, ObjectionBody, consent_for, objection_for};
use crate::error::AppError;
use crate::extract::{ApiPath, UiForm};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::ids::PersonId;
use klar_domain::role::Permission;
use serde::Deserialize;

/// Renders the person page with the refusal explained, or the error as a problem.
fn refused(state: &AppState, s: &UiSession, pid: PersonId, e: AppError) -> Response {
    let t = s.layout("persons").t;
    let msg = match &e {
        AppError::Invalid(errs) => errs
            .iter()
            .map(|f| format!("{}: {}", f.field, localize_message(&f.message, &t)))
            .collect::<Vec<_>>()
            .join("; "),
        AppError::Unavailable(_) | AppError::BadGateway(_) => {
            t.get("privacy-mail-unavailable").to_string()
        }
        AppError::NotFound(_) => return super::forms::not_found_page(s, "persons"),
        _ => return e.into_response(),
    };
    show_with(
        state,
        s,
        pid,
        String::new(),
        msg,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// The common start of the privacy officer's forms on a person: the permission, the form's
/// CSRF token and origin, the person's id, and who acts. The error is the finished
/// response, returned straight from the handler.
#[allow(clippy::result_large_err)]
fn officer_form(
    state: &AppState,
    s: &UiSession,
    csrf: &str,
    id: &str,
) -> Result<(PersonId, klar_store::Actor), Response> {
    s.require(Permission::ManagePrivacy)?;
    s.check_form(csrf, &state.config.public_url)?;
    Ok((person_id(s, id)?, auth_of(s).actor()))
}

#[allow(clippy::result_large_err)]
fn person_id(s: &UiSession, id: &str) -> Result<PersonId, Response> {
    id.parse::<PersonId>()
        .map_err(|_| super::forms::not_found_page(s, "persons"))
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    wording_version: String,
    #[serde(default)]
    evidence: String,
}

pub async fn persons_consent_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<ConsentForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let pid = match person_id(&s, &id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let body = ConsentBody {
        purpose: f.purpose,
        channel: f.channel,
        action: f.action,
        source: Some("staff".into()),
        wording_version: Some(f.wording_version),
        evidence: Some(f.evidence),
    };
    match consent_for(&state, &auth_of(&s), pid, &body).await {
        Ok(_) => Redirect::to(&format!("/persons/{pid}")).into_response(),
        Err(e) => refused(&state, &s, pid, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ObjectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    source: String,
}

pub async fn persons_objection_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<ObjectionForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let pid = match person_id(&s, &id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let source = Some(f.source.trim().to_string()).filter(|x| !x.is_empty());
    match objection_for(
        &state,
        &auth_of(&s),
        pid,
        &ObjectionBody {
            scope: f.scope,
            source,
        },
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/persons/{pid}")).into_response(),
        Err(e) => refused(&state, &s, pid, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct RestrictionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    /// `restrict` or `lift`.
    #[serde(default)]
    action: String,
}

pub async fn persons_restriction_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<RestrictionForm>,
) -> Response {
    let (pid, actor) = match officer_form(&state, &s, &f.csrf, &id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = if f.action == "lift" {
        state
            .blocking(move |st| Ok(st.lift_restriction(actor, pid).map(|_| ())?))
            .await
    } else {
        match klar_domain::text::required_line(&f.reason, 500) {
            Ok(reason) => {
                state
                    .blocking(move |st| Ok(st.restrict(actor, pid, &reason).map(|_| ())?))
                    .await
            }
            Err(e) => Err(AppError::Invalid(vec![klar_domain::FieldError::new(
                "reason", e.0,
            )])),
        }
    };
    match result {
        Ok(()) => Redirect::to(&format!("/persons/{pid}")).into_response(),
        Err(e) => refused(&state, &s, pid, e),
    }
}

/// Places or releases a legal hold (privacy officer; a reason either way). The hold stops
/// every automatic deletion by the retention job until it is released.
pub async fn persons_legal_hold_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<RestrictionForm>,
) -> Response {
    let (pid, actor) = match officer_form(&state, &s, &f.csrf, &id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let release = f.action == "release";
    let reason = f.reason;
    let result = state
        .blocking(move |st| {
            if release {
                st.release_legal_hold(actor, pid, &reason)?;
            } else {
                st.place_legal_hold(actor, pid, &reason)?;
            }
            Ok(())
        })
        .await;
    match result {
        Ok(()) => Redirect::to(&format!("/persons/{pid}")).into_response(),
        Err(e) => refused(&state, &s, pid, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Records that the person was given the Art. 14 information (from the privacy officer's
/// dashboard); back to the dashboard.
pub async fn persons_art14_notice_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<CsrfOnly>,
) -> Response {
    let (pid, actor) = match officer_form(&state, &s, &f.csrf, &id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state
        .blocking(move |st| Ok(st.record_art14_notice(actor, pid)?))
        .await
    {
        Ok(()) => Redirect::to("/dashboard").into_response(),
        Err(e) => refused(&state, &s, pid, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct GroundsForm {
    #[serde(default)]
    csrf: String,
    /// `marker_on`, `marker_off`, `presumed` or `presumed_end`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

/// The grounds block of the person page: the "no advertising" marker and presumed consent.
pub async fn persons_grounds_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<GroundsForm>,
) -> Response {
    use crate::api::grounds::{end_presumed_consent_for, marker_for, presumed_consent_for};
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let pid = match person_id(&s, &id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let auth = auth_of(&s);
    let result = match f.action.as_str() {
        "marker_on" => marker_for(&state, &auth, pid, true).await,
        "marker_off" => marker_for(&state, &auth, pid, false).await,
        "presumed" => presumed_consent_for(&state, &auth, pid, &f.reason)
            .await
            .map(|_| ()),
        "presumed_end" => end_presumed_consent_for(&state, &auth, pid).await,
        _ => Err(AppError::Invalid(vec![klar_domain::FieldError::new(
            "action",
            "is not a known action",
        )])),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/persons/{pid}")).into_response(),
        Err(e) => refused(&state, &s, pid, e),
    }
}
