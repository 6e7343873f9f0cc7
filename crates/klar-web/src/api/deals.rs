//! `/api/v1/deals`

use super::common::{
    List, StampOut, double_option, field_id, idempotent_create, limit, merge_custom, path_id,
};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppResult, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use klar_domain::DomainError;
use klar_domain::currency::Currency;
use klar_domain::error::Errors;
use klar_domain::ids::{DealId, OrganizationId, PersonId, UserId};
use klar_domain::records::Deal;
use klar_domain::role::Permission;
use klar_domain::text::{limits, optional_line, required_line};
use klar_store::deals::{DealEdit, DealFilter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealBody {
    pub title: Option<String>,
    /// The value in the currency's minor unit (cents).
    pub value_cents: Option<i64>,
    /// ISO 4217, default `EUR`.
    pub currency: Option<String>,
    /// A stage key of the default pipeline: `lead`, `qualified`, `proposal`, `negotiation`, `won`, `lost`.
    pub stage: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub person_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub organization_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Option<Option<String>>,
    /// `YYYY-MM-DD`
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub expected_close_date: Option<Option<String>>,
    /// Why a deal was lost; only for the `lost` stage.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub lost_reason: Option<Option<String>>,
    pub custom_fields: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DealOut {
    pub id: String,
    pub title: String,
    pub value_cents: i64,
    pub currency: String,
    pub pipeline: String,
    pub stage: String,
    /// `open`, `won` or `lost`, from the stage.
    pub status: String,
    pub person_id: Option<String>,
    pub organization_id: Option<String>,
    pub owner_id: Option<String>,
    pub expected_close_date: Option<String>,
    pub lost_reason: Option<String>,
    pub closed_at: Option<String>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    #[serde(flatten)]
    pub stamp: StampOut,
}

impl From<&Deal> for DealOut {
    fn from(d: &Deal) -> Self {
        DealOut {
            id: d.id.to_string(),
            title: d.title.clone(),
            value_cents: d.value_cents,
            currency: d.currency.to_string(),
            pipeline: d.pipeline.clone(),
            stage: d.stage.clone(),
            status: d.status.as_str().into(),
            person_id: d.person_id.map(|x| x.to_string()),
            organization_id: d.organization_id.map(|x| x.to_string()),
            owner_id: d.owner_id.map(|x| x.to_string()),
            expected_close_date: d.expected_close_date.map(|x| x.to_string()),
            lost_reason: d.lost_reason.clone(),
            closed_at: d.closed_at.map(|x| x.to_string()),
            custom_fields: d.custom.clone(),
            stamp: StampOut::from(&d.stamp),
        }
    }
}

pub const MAX_VALUE_CENTS: i64 = 100_000_000_000_000;

pub fn apply(b: &DealBody, e: &mut DealEdit) -> Result<(), DomainError> {
    let mut errs = Errors::new();
    if let Some(t) = &b.title
        && let Some(t) = errs.take("title", required_line(t, limits::LINE))
    {
        e.title = t;
    }
    if let Some(v) = b.value_cents {
        if !(0..=MAX_VALUE_CENTS).contains(&v) {
            errs.push("value_cents", "must be between 0 and 10^14");
        } else {
            e.value_cents = v;
        }
    }
    if let Some(c) = &b.currency
        && let Some(c) = errs.take("currency", Currency::parse(c))
    {
        e.currency = c;
    }
    if let Some(s) = &b.stage
        && let Some(s) = errs.take("stage", required_line(s, 40))
    {
        e.stage = s;
    }
    if let Some(v) = &b.person_id {
        e.person_id = field_id::<PersonId>(v.as_deref(), "person_id", &mut errs);
    }
    if let Some(v) = &b.organization_id {
        e.organization_id = field_id::<OrganizationId>(v.as_deref(), "organization_id", &mut errs);
    }
    if let Some(v) = &b.owner_id {
        e.owner_id = field_id::<UserId>(v.as_deref(), "owner_id", &mut errs);
    }
    if let Some(v) = &b.expected_close_date {
        e.expected_close_date = match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match s.parse() {
                Ok(d) => Some(d),
                Err(_) => {
                    errs.push("expected_close_date", "must be a date (YYYY-MM-DD)");
                    None
                }
            },
        };
    }
    if let Some(v) = &b.lost_reason {
        e.lost_reason = errs
            .take("lost_reason", optional_line(v.as_deref(), limits::LINE))
            .flatten();
    }
    if let Some(cf) = &b.custom_fields {
        merge_custom(&mut e.custom, cf);
    }
    if e.title.is_empty() {
        errs.push("title", "must not be empty");
    }
    errs.finish()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DealQuery {
    pub stage: Option<String>,
    pub owner_id: Option<String>,
    pub organization_id: Option<String>,
    pub person_id: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// List deals, filtered by stage, owner, organization or person.
#[utoipa::path(get, path = "/api/v1/deals", tag = "deals", params(DealQuery),
    responses((status = 200, body = List<DealOut>), (status = 422, body = Problem)))]
pub async fn list_deals(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<DealQuery>,
) -> AppResult<Json<List<DealOut>>> {
    auth.require(Permission::ReadCrm)?;
    let mut errs = Errors::new();
    let f = DealFilter {
        stage: q.stage.clone(),
        owner: field_id(q.owner_id.as_deref(), "owner_id", &mut errs),
        organization: field_id(q.organization_id.as_deref(), "organization_id", &mut errs),
        person: field_id(q.person_id.as_deref(), "person_id", &mut errs),
        cursor: q.cursor.clone(),
        limit: limit(q.limit)?,
    };
    errs.finish()?;
    let page = state.store.list_deals(&f)?;
    Ok(Json(List {
        items: page.items.iter().map(DealOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Create a deal. Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/deals", tag = "deals", request_body = DealBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses((status = 201, body = DealOut), (status = 422, body = Problem)))]
pub async fn create_deal(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: ApiJson<DealBody>,
) -> AppResult<Response> {
    auth.require(Permission::WriteCrm)?;
    let mut e = DealEdit {
        title: String::new(),
        value_cents: 0,
        currency: Currency::EUR,
        stage: "lead".into(),
        person_id: None,
        organization_id: None,
        owner_id: Some(auth.user.id),
        expected_close_date: None,
        lost_reason: None,
        custom: BTreeMap::new(),
    };
    apply(&body.value, &mut e)?;
    let actor = auth.actor();
    idempotent_create(
        &state,
        &auth,
        &headers,
        "POST /api/v1/deals",
        &body.raw,
        move |store| {
            let d = store.create_deal(actor, e)?;
            Ok((d.id.to_string(), DealOut::from(&d)))
        },
        |store, id| Ok(DealOut::from(&store.get_deal(path_id(id, "deal")?)?)),
    )
    .await
}

/// Read one deal.
#[utoipa::path(get, path = "/api/v1/deals/{id}", tag = "deals", params(("id" = String, Path)),
    responses((status = 200, body = DealOut), (status = 404, body = Problem)))]
pub async fn get_deal(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<DealOut>> {
    auth.require(Permission::ReadCrm)?;
    let did: DealId = path_id(&id, "deal")?;
    Ok(Json(DealOut::from(&state.store.get_deal(did)?)))
}

/// Change a deal, e.g. move it to another stage or mark it lost with a reason.
#[utoipa::path(patch, path = "/api/v1/deals/{id}", tag = "deals", params(("id" = String, Path)), request_body = DealBody,
    responses((status = 200, body = DealOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_deal(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<DealBody>,
) -> AppResult<Json<DealOut>> {
    auth.require(Permission::WriteCrm)?;
    let did: DealId = path_id(&id, "deal")?;
    let actor = auth.actor();
    let b = body.value;
    let d = state
        .blocking(move |s| Ok(s.update_deal(actor, did, |e| apply(&b, e))?))
        .await?;
    Ok(Json(DealOut::from(&d)))
}
