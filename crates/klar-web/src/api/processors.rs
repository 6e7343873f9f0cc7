//! `/api/v1/processors`: the register of processors and recipients (LAW.md B.6, B.10).
//! The privacy officer keeps it; administrators and privacy officers read it.

use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppResult, Problem};
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use klar_domain::processor::{ProcessorDraft, ProcessorSpec};
use klar_domain::role::Permission;
use klar_store::processors::Processor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new entry of the register. A missing field counts as empty, so that the problem
/// names it like any other invalid field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessorBody {
    /// The company's name, as it is named to data subjects (Art. 15(1)(c)).
    pub name: String,
    /// `processor` (Art. 28), `joint_controller` (Art. 26) or `recipient`.
    pub role: String,
    /// The date the contract (Art. 28(3)) or arrangement (Art. 26) was signed,
    /// `YYYY-MM-DD`; absent when none is on file.
    pub contract_signed_at: Option<String>,
    /// Keys of the purposes the data are passed on for (at least one).
    pub purposes: Vec<String>,
    /// Keys of the data categories passed on, e.g. `contact` (at least one).
    pub data_categories: Vec<String>,
    /// ISO 3166-1 alpha-2 country where the data are processed, e.g. `DE`.
    pub country: String,
    /// `none` (EU/EEA, the default), `adequacy`, `scc`, `bcr` or `derogation`; required
    /// outside the EU/EEA.
    pub transfer_mechanism: Option<String>,
    /// What the processor does: `email_delivery` (the processor behind the mail route),
    /// `sms_delivery`, `hosting`, `backup`, `support`.
    pub services: Vec<String>,
}

/// An entry of the register.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessorOut {
    pub id: String,
    pub name: String,
    pub role: String,
    pub contract_signed_at: Option<String>,
    pub purposes: Vec<String>,
    pub data_categories: Vec<String>,
    pub country: String,
    pub transfer_mechanism: String,
    /// Whether data go to a country outside the EU/EEA.
    pub third_country: bool,
    pub services: Vec<String>,
    pub created_at: String,
}

impl From<&Processor> for ProcessorOut {
    fn from(p: &Processor) -> Self {
        let s = &p.spec;
        Self {
            id: p.id.clone(),
            name: s.name.clone(),
            role: s.role.as_str().into(),
            contract_signed_at: s.contract_signed_at.map(|d| d.to_string()),
            purposes: s.purposes.clone(),
            data_categories: s.data_categories.clone(),
            country: s.country.clone(),
            transfer_mechanism: s.transfer_mechanism.as_str().into(),
            third_country: !klar_domain::processor::in_eea(&s.country),
            services: s.services.clone(),
            created_at: p.created_at.to_string(),
        }
    }
}

/// The register of processors and recipients, oldest entry first.
#[utoipa::path(get, path = "/api/v1/processors", tag = "privacy",
    responses((status = 200, body = Vec<ProcessorOut>), (status = 403, body = Problem)))]
pub async fn list_processors(
    State(state): State<AppState>,
    auth: Auth,
) -> AppResult<Json<Vec<ProcessorOut>>> {
    auth.require(Permission::ManageSettings)?;
    Ok(Json(
        state
            .store
            .processors()?
            .iter()
            .map(ProcessorOut::from)
            .collect(),
    ))
}

/// Adds a processor, joint controller or recipient to the register (privacy officer).
#[utoipa::path(post, path = "/api/v1/processors", tag = "privacy", request_body = ProcessorBody,
    responses((status = 201, body = ProcessorOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_processor(
    State(state): State<AppState>,
    auth: Auth,
    body: ApiJson<ProcessorBody>,
) -> AppResult<(StatusCode, Json<ProcessorOut>)> {
    auth.require(Permission::ManagePrivacy)?;
    let b = body.value;
    let draft = ProcessorDraft {
        name: b.name,
        role: b.role,
        contract_signed_at: b.contract_signed_at,
        purposes: b.purposes,
        data_categories: b.data_categories,
        country: b.country,
        transfer_mechanism: b.transfer_mechanism,
        services: b.services,
    };
    let purposes = state.store.purposes()?;
    let keys: Vec<&str> = purposes.iter().map(|p| p.key.as_str()).collect();
    let spec = ProcessorSpec::parse(&draft, &keys)?;
    let actor = auth.actor();
    let p = state
        .blocking(move |s| Ok(s.create_processor(actor, &spec)?))
        .await?;
    Ok((StatusCode::CREATED, Json(ProcessorOut::from(&p))))
}
