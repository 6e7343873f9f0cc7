//! Installation settings (controller, representative, DPO, imprint, measures) and the
//! record of processing activities generated from the live configuration.

use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ApiJson, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use klar_domain::installation::{Installation, Party};
use klar_domain::role::Permission;
use klar_store::audit::{AuditAction, AuditEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A party's name and contact details.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PartyBody {
    pub name: String,
    /// Postal address; lines separated by newlines.
    pub address: String,
    pub email: String,
    pub phone: String,
}

/// The installation settings the record of processing activities and mail footers use.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct InstallationBody {
    /// The controller (Art. 4(7)): the company running this Klar.
    pub controller: PartyBody,
    /// The Art. 27 representative, for controllers outside the EU.
    pub representative: PartyBody,
    /// The data protection officer.
    pub dpo: PartyBody,
    /// Imprint lines for business letters and advertising mail (register court and number,
    /// managing directors, VAT id).
    pub imprint: String,
    /// Measures beyond those Klar enforces itself (physical access, staff instructions, …).
    pub measures_text: String,
    /// Read only: what is still missing for a complete record.
    #[serde(skip_deserializing)]
    pub missing: Vec<String>,
}

fn party_in(p: &PartyBody) -> Party {
    Party {
        name: p.name.clone(),
        address: p.address.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
    }
}

fn party_out(p: &Party) -> PartyBody {
    PartyBody {
        name: p.name.clone(),
        address: p.address.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
    }
}

impl From<&Installation> for InstallationBody {
    fn from(i: &Installation) -> Self {
        Self {
            controller: party_out(&i.controller),
            representative: party_out(&i.representative),
            dpo: party_out(&i.dpo),
            imprint: i.imprint.clone(),
            measures_text: i.measures_text.clone(),
            missing: i.gaps().into_iter().map(str::to_owned).collect(),
        }
    }
}

impl InstallationBody {
    pub fn to_domain(&self) -> Installation {
        Installation {
            controller: party_in(&self.controller),
            representative: party_in(&self.representative),
            dpo: party_in(&self.dpo),
            imprint: self.imprint.clone(),
            measures_text: self.measures_text.clone(),
        }
    }
}

/// The installation settings.
#[utoipa::path(get, path = "/api/v1/settings/installation", tag = "privacy",
    responses((status = 200, body = InstallationBody), (status = 403, body = Problem)))]
pub async fn get_installation(
    State(state): State<AppState>,
    auth: Auth,
) -> AppResult<Json<InstallationBody>> {
    auth.require(Permission::ManageSettings)?;
    Ok(Json(InstallationBody::from(&state.store.installation()?)))
}

/// Replaces the installation settings (administrator or privacy officer).
#[utoipa::path(put, path = "/api/v1/settings/installation", tag = "privacy", request_body = InstallationBody,
    responses((status = 200, body = InstallationBody), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put_installation(
    State(state): State<AppState>,
    auth: Auth,
    body: ApiJson<InstallationBody>,
) -> AppResult<Json<InstallationBody>> {
    auth.require(Permission::ManageSettings)?;
    let i = body.value.to_domain();
    let actor = auth.actor();
    let saved = state
        .blocking(move |s| Ok(s.set_installation(actor, &i)?))
        .await?;
    Ok(Json(InstallationBody::from(&saved)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RopaQuery {
    /// `json` (default) or `md`.
    pub format: Option<String>,
}

/// The record of processing activities (Art. 30(1)), generated now from the live
/// configuration: settings, purposes, fields, roles and measures in force.
#[utoipa::path(get, path = "/api/v1/ropa", tag = "privacy", params(RopaQuery),
    responses((status = 200, description = "The record as JSON, or as Markdown with format=md"),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn get_ropa(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<RopaQuery>,
) -> AppResult<Response> {
    auth.require(Permission::ManageSettings)?;
    let md = match q.format.as_deref().map(str::trim) {
        None | Some("json") => false,
        Some("md") => true,
        Some(_) => {
            return Err(AppError::Invalid(vec![klar_domain::FieldError::new(
                "format",
                "must be json or md",
            )]));
        }
    };
    let route = state.config.mail_route;
    let days = u32::from(state.config.doi_expiry_days);
    let actor = auth.actor();
    let ropa = state
        .blocking(move |s| {
            let r = s.ropa(route, days)?;
            s.audit(AuditEntry::new(actor, AuditAction::RopaRead));
            Ok(r)
        })
        .await?;
    if md {
        Ok((
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            ropa.to_markdown(),
        )
            .into_response())
    } else {
        Ok(Json(ropa).into_response())
    }
}
