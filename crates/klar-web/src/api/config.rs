//! Configuration the CRM records depend on: custom field definitions, pipeline stages, tags.

use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use klar_domain::DomainError;
use klar_domain::error::Errors;
use klar_domain::records::{
    CustomFieldDef, FieldType, RecordType, Stage, StageKind, parse_field_key,
};
use klar_domain::role::Permission;
use klar_domain::text::{limits, required_line};
use klar_store::pipelines::{DEFAULT_PIPELINE, StagePatch};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldBody {
    /// `person`, `organization` or `deal`.
    pub record_type: String,
    /// Lower-case letters, digits and `_`; the name in `custom_fields`.
    pub key: String,
    pub label: String,
    /// `text`, `number`, `date`, `bool` or `select`.
    pub field_type: String,
    /// The allowed values of a `select` field.
    #[serde(default)]
    pub options: Vec<String>,
}

impl From<&CustomFieldDef> for CustomFieldBody {
    fn from(d: &CustomFieldDef) -> Self {
        CustomFieldBody {
            record_type: d.record_type.as_str().into(),
            key: d.key.clone(),
            label: d.label.clone(),
            field_type: d.field_type.as_str().into(),
            options: d.options.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomFieldQuery {
    /// `person`, `organization` or `deal`.
    pub record_type: String,
}

/// The custom fields defined for a record type.
#[utoipa::path(get, path = "/api/v1/custom-fields", tag = "configuration", params(CustomFieldQuery),
    responses((status = 200, body = Vec<CustomFieldBody>), (status = 422, body = Problem)))]
pub async fn list_custom_fields(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<CustomFieldQuery>,
) -> AppResult<Json<Vec<CustomFieldBody>>> {
    auth.require(Permission::ReadPipelineConfig)?;
    let rt = RecordType::parse(&q.record_type)
        .map_err(|e| AppError::Invalid(vec![klar_domain::FieldError::new("record_type", e.0)]))?;
    Ok(Json(
        state
            .store
            .custom_fields(rt)?
            .iter()
            .map(CustomFieldBody::from)
            .collect(),
    ))
}

/// Checks a submitted custom field definition. The API and the settings page both use
/// this one check, so that they accept exactly the same definitions.
pub fn parse_custom_field(b: &CustomFieldBody) -> Result<CustomFieldDef, DomainError> {
    let mut errs = Errors::new();
    let record_type = errs.take("record_type", RecordType::parse(&b.record_type));
    let key = errs.take("key", parse_field_key(&b.key));
    let label = errs.take("label", required_line(&b.label, limits::LINE));
    let field_type = errs.take("field_type", FieldType::parse(&b.field_type));
    let options: Vec<String> = b
        .options
        .iter()
        .enumerate()
        .filter_map(|(i, o)| errs.take(&format!("options[{i}]"), required_line(o, limits::LINE)))
        .collect();
    if field_type == Some(FieldType::Select) && options.is_empty() {
        errs.push("options", "a select field needs at least one option");
    }
    if field_type.is_some_and(|t| t != FieldType::Select) && !options.is_empty() {
        errs.push("options", "only select fields have options");
    }
    errs.finish()?;
    // Every part is there once the check has passed; the defaults are never used.
    Ok(CustomFieldDef {
        record_type: record_type.unwrap_or(RecordType::Person),
        key: key.unwrap_or_default(),
        label: label.unwrap_or_default(),
        field_type: field_type.unwrap_or(FieldType::Text),
        options,
    })
}

/// Define a custom field.
#[utoipa::path(post, path = "/api/v1/custom-fields", tag = "configuration", request_body = CustomFieldBody,
    responses((status = 201, body = CustomFieldBody), (status = 422, body = Problem)))]
pub async fn create_custom_field(
    State(state): State<AppState>,
    auth: Auth,
    body: ApiJson<CustomFieldBody>,
) -> AppResult<(StatusCode, Json<CustomFieldBody>)> {
    auth.require(Permission::ManageSettings)?;
    let def = parse_custom_field(&body.value)?;
    let out = CustomFieldBody::from(&def);
    state
        .blocking(move |s| Ok(s.define_custom_field(&def)?))
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageBody {
    pub key: String,
    pub name_de: String,
    pub name_en: String,
    /// Board order, ascending.
    pub position: i64,
    /// `open`, `won` or `lost`.
    pub kind: String,
}

impl From<&Stage> for StageBody {
    fn from(s: &Stage) -> Self {
        StageBody {
            key: s.key.clone(),
            name_de: s.name_de.clone(),
            name_en: s.name_en.clone(),
            position: s.position,
            kind: s.kind.as_str().into(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StagePatchBody {
    pub name_de: Option<String>,
    pub name_en: Option<String>,
    pub position: Option<i64>,
}

fn pipeline_key(key: &str) -> AppResult<&'static str> {
    if key == DEFAULT_PIPELINE {
        Ok(DEFAULT_PIPELINE)
    } else {
        Err(AppError::NotFound("no pipeline with this key".into()))
    }
}

/// The stages of a pipeline (today: `default`) in board order.
#[utoipa::path(get, path = "/api/v1/pipelines/{key}/stages", tag = "configuration", params(("key" = String, Path)),
    responses((status = 200, body = Vec<StageBody>), (status = 404, body = Problem)))]
pub async fn list_stages(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(key): ApiPath,
) -> AppResult<Json<Vec<StageBody>>> {
    auth.require(Permission::ReadPipelineConfig)?;
    let p = pipeline_key(&key)?;
    Ok(Json(
        state.store.stages(p)?.iter().map(StageBody::from).collect(),
    ))
}

fn stage_key(s: &str) -> Result<String, klar_domain::error::ValueError> {
    parse_field_key(s)
}

/// The most characters of a stage's name (in either language).
pub const STAGE_NAME_CHARS: usize = 60;

/// Checks a submitted new stage. The API and the pipeline settings page both use this
/// one check, so that they accept exactly the same stages.
pub fn parse_stage(b: &StageBody) -> Result<Stage, DomainError> {
    let mut errs = Errors::new();
    let stage = Stage {
        key: errs.take("key", stage_key(&b.key)).unwrap_or_default(),
        name_de: errs
            .take("name_de", required_line(&b.name_de, STAGE_NAME_CHARS))
            .unwrap_or_default(),
        name_en: errs
            .take("name_en", required_line(&b.name_en, STAGE_NAME_CHARS))
            .unwrap_or_default(),
        position: b.position,
        kind: errs
            .take("kind", StageKind::parse(&b.kind))
            .unwrap_or(StageKind::Open),
    };
    errs.finish()?;
    Ok(stage)
}

/// Checks a submitted change of a stage (names, position); absent parts stay as they are.
/// Shared by the API and the pipeline settings page.
pub fn parse_stage_patch(b: &StagePatchBody) -> Result<StagePatch, DomainError> {
    let mut errs = Errors::new();
    let patch = StagePatch {
        name_de: b
            .name_de
            .as_deref()
            .and_then(|n| errs.take("name_de", required_line(n, STAGE_NAME_CHARS))),
        name_en: b
            .name_en
            .as_deref()
            .and_then(|n| errs.take("name_en", required_line(n, STAGE_NAME_CHARS))),
        position: b.position,
    };
    errs.finish()?;
    Ok(patch)
}

/// Add a stage to a pipeline.
#[utoipa::path(post, path = "/api/v1/pipelines/{key}/stages", tag = "configuration", params(("key" = String, Path)),
    request_body = StageBody, responses((status = 201, body = Vec<StageBody>), (status = 422, body = Problem)))]
pub async fn create_stage(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(key): ApiPath,
    body: ApiJson<StageBody>,
) -> AppResult<(StatusCode, Json<Vec<StageBody>>)> {
    auth.require(Permission::ManageSettings)?;
    let p = pipeline_key(&key)?;
    let stage = parse_stage(&body.value)?;
    let stages = state.blocking(move |s| Ok(s.add_stage(p, &stage)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(stages.iter().map(StageBody::from).collect()),
    ))
}

/// Rename or move a stage.
#[utoipa::path(patch, path = "/api/v1/pipelines/{key}/stages/{stage}", tag = "configuration",
    params(("key" = String, Path), ("stage" = String, Path)), request_body = StagePatchBody,
    responses((status = 200, body = Vec<StageBody>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_stage(
    State(state): State<AppState>,
    auth: Auth,
    axum::extract::Path((key, stage)): axum::extract::Path<(String, String)>,
    body: ApiJson<StagePatchBody>,
) -> AppResult<Json<Vec<StageBody>>> {
    auth.require(Permission::ManageSettings)?;
    let p = pipeline_key(&key)?;
    let patch = parse_stage_patch(&body.value)?;
    let stages = state
        .blocking(move |s| Ok(s.update_stage(p, &stage, &patch)?))
        .await?;
    Ok(Json(stages.iter().map(StageBody::from).collect()))
}

/// Remove a stage that holds no deal.
#[utoipa::path(delete, path = "/api/v1/pipelines/{key}/stages/{stage}", tag = "configuration",
    params(("key" = String, Path), ("stage" = String, Path)),
    responses((status = 200, body = Vec<StageBody>), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_stage(
    State(state): State<AppState>,
    auth: Auth,
    axum::extract::Path((key, stage)): axum::extract::Path<(String, String)>,
) -> AppResult<Json<Vec<StageBody>>> {
    auth.require(Permission::ManageSettings)?;
    let p = pipeline_key(&key)?;
    let stages = state
        .blocking(move |s| Ok(s.remove_stage(p, &stage)?))
        .await?;
    Ok(Json(stages.iter().map(StageBody::from).collect()))
}

/// All tags in use.
#[utoipa::path(get, path = "/api/v1/tags", tag = "configuration", responses((status = 200, body = Vec<String>)))]
pub async fn list_tags(State(state): State<AppState>, auth: Auth) -> AppResult<Json<Vec<String>>> {
    auth.require(Permission::ReadCrm)?;
    Ok(Json(state.store.list_tags()?))
}
