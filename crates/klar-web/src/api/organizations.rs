//! `/api/v1/organizations`

use super::common::{
    List, StampOut, double_option, field_id, idempotent_create, limit, merge_custom, path_id,
};
use super::persons::{AddressBody, parse_address};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppResult, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use klar_domain::DomainError;
use klar_domain::error::Errors;
use klar_domain::ids::{OrganizationId, UserId};
use klar_domain::records::{Organization, parse_website};
use klar_domain::role::Permission;
use klar_domain::text::{limits, optional_line, required_line};
use klar_store::organizations::{OrganizationEdit, OrganizationFilter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationBody {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<AddressBody>)]
    pub address: Option<Option<AddressBody>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub website: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub industry: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Option<Option<String>>,
    pub custom_fields: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationOut {
    pub id: String,
    pub name: String,
    pub address: Option<AddressBody>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub owner_id: Option<String>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    #[serde(flatten)]
    pub stamp: StampOut,
}

impl From<&Organization> for OrganizationOut {
    fn from(o: &Organization) -> Self {
        OrganizationOut {
            id: o.id.to_string(),
            name: o.name.clone(),
            address: o.address.as_ref().map(|a| AddressBody {
                street: a.street.clone(),
                postal_code: a.postal_code.clone(),
                city: a.city.clone(),
                country: a.country.clone(),
            }),
            website: o.website.clone(),
            industry: o.industry.clone(),
            owner_id: o.owner_id.map(|u| u.to_string()),
            custom_fields: o.custom.clone(),
            stamp: StampOut::from(&o.stamp),
        }
    }
}

pub fn apply(b: &OrganizationBody, e: &mut OrganizationEdit) -> Result<(), DomainError> {
    let mut errs = Errors::new();
    if let Some(n) = &b.name
        && let Some(n) = errs.take("name", required_line(n, limits::LINE))
    {
        e.name = n;
    }
    if let Some(a) = &b.address {
        e.address = a
            .as_ref()
            .and_then(|a| parse_address(a, "address", &mut errs));
    }
    if let Some(w) = &b.website {
        e.website = match w.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => errs.take("website", parse_website(s)),
        };
    }
    if let Some(i) = &b.industry {
        e.industry = errs
            .take("industry", optional_line(i.as_deref(), limits::LINE))
            .flatten();
    }
    if let Some(o) = &b.owner_id {
        e.owner_id = field_id::<UserId>(o.as_deref(), "owner_id", &mut errs);
    }
    if let Some(cf) = &b.custom_fields {
        merge_custom(&mut e.custom, cf);
    }
    if e.name.is_empty() {
        errs.push("name", "must not be empty");
    }
    errs.finish()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrganizationQuery {
    /// Prefix of the name or of a word in it.
    pub q: Option<String>,
    pub owner_id: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// List and search organizations.
#[utoipa::path(get, path = "/api/v1/organizations", tag = "organizations", params(OrganizationQuery),
    responses((status = 200, body = List<OrganizationOut>), (status = 422, body = Problem)))]
pub async fn list_organizations(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<OrganizationQuery>,
) -> AppResult<Json<List<OrganizationOut>>> {
    auth.require(Permission::ReadCrm)?;
    let mut errs = Errors::new();
    let f = OrganizationFilter {
        q: q.q.clone(),
        owner: field_id(q.owner_id.as_deref(), "owner_id", &mut errs),
        cursor: q.cursor.clone(),
        limit: limit(q.limit)?,
    };
    errs.finish()?;
    let page = state.store.list_organizations(&f)?;
    Ok(Json(List {
        items: page.items.iter().map(OrganizationOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Create an organization. Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/organizations", tag = "organizations", request_body = OrganizationBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses((status = 201, body = OrganizationOut), (status = 422, body = Problem)))]
pub async fn create_organization(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: ApiJson<OrganizationBody>,
) -> AppResult<Response> {
    auth.require(Permission::WriteCrm)?;
    let mut e = OrganizationEdit {
        name: String::new(),
        address: None,
        website: None,
        industry: None,
        owner_id: Some(auth.user.id),
        custom: BTreeMap::new(),
    };
    apply(&body.value, &mut e)?;
    let actor = auth.actor();
    idempotent_create(
        &state,
        &auth,
        &headers,
        "POST /api/v1/organizations",
        &body.raw,
        move |store| {
            let o = store.create_organization(actor, e)?;
            Ok((o.id.to_string(), OrganizationOut::from(&o)))
        },
        |store, id| {
            Ok(OrganizationOut::from(
                &store.get_organization(path_id(id, "organization")?)?,
            ))
        },
    )
    .await
}

/// Read one organization.
#[utoipa::path(get, path = "/api/v1/organizations/{id}", tag = "organizations", params(("id" = String, Path)),
    responses((status = 200, body = OrganizationOut), (status = 404, body = Problem)))]
pub async fn get_organization(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<OrganizationOut>> {
    auth.require(Permission::ReadCrm)?;
    let oid: OrganizationId = path_id(&id, "organization")?;
    Ok(Json(OrganizationOut::from(
        &state.store.get_organization(oid)?,
    )))
}

/// Change an organization.
#[utoipa::path(patch, path = "/api/v1/organizations/{id}", tag = "organizations", params(("id" = String, Path)),
    request_body = OrganizationBody, responses((status = 200, body = OrganizationOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_organization(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<OrganizationBody>,
) -> AppResult<Json<OrganizationOut>> {
    auth.require(Permission::WriteCrm)?;
    let oid: OrganizationId = path_id(&id, "organization")?;
    let actor = auth.actor();
    let b = body.value;
    let o = state
        .blocking(move |s| Ok(s.update_organization(actor, oid, |e| apply(&b, e))?))
        .await?;
    Ok(Json(OrganizationOut::from(&o)))
}
