//! Organization pages: list with name search, detail (facts, persons, deals), create and
//! edit forms. Validation is the JSON API's: the form is turned into an
//! [`OrganizationBody`] and handed to [`apply`].

use super::forms::{
    CustomInput, actor, custom_body, custom_defs, custom_facts, custom_form_values, custom_inputs,
    domain_errors, field_errors, localize_errors, not_found_page, opt, page_error, stage_name,
};
use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::api::organizations::{OrganizationBody, apply};
use crate::api::persons::AddressBody;
use crate::error::AppError;
use crate::extract::{ApiPath, ApiQuery, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::ids::OrganizationId;
use klar_domain::records::{CustomFieldDef, Deal, Organization, RecordType};
use klar_domain::role::Permission;
use klar_store::deals::DealFilter;
use klar_store::organizations::{OrganizationEdit, OrganizationFilter};
use klar_store::persons::PersonFilter;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

// ---- list ----

/// One row of the organizations table.
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub industry: String,
    pub city: String,
    pub website: String,
}

#[derive(Template)]
#[template(path = "organizations/list.html")]
pub struct OrgsListPage {
    pub p: Layout,
    pub q: String,
    pub rows: Vec<OrgRow>,
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct OrgListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    cursor: String,
}

pub async fn orgs_list_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(params): ApiQuery<OrgListParams>,
) -> Response {
    if let Err(r) = s.require(Permission::ReadCrm) {
        return r;
    }
    let f = OrganizationFilter {
        q: opt(&params.q),
        cursor: opt(&params.cursor),
        limit: 50,
        ..Default::default()
    };
    let page = match state.store.list_organizations(&f) {
        Ok(p) => p,
        Err(e) => return AppError::from(e).into_response(),
    };
    let rows = page
        .items
        .into_iter()
        .map(|o| OrgRow {
            id: o.id.to_string(),
            name: o.name,
            industry: o.industry.unwrap_or_default(),
            city: o.address.and_then(|a| a.city).unwrap_or_default(),
            website: o.website.unwrap_or_default(),
        })
        .collect();
    render(
        StatusCode::OK,
        &OrgsListPage {
            p: s.layout("organizations"),
            q: params.q,
            rows,
            next: page.next_cursor,
        },
    )
}

// ---- create and edit ----

/// The values of the organization form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub website: String,
    #[serde(default)]
    pub industry: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub country: String,
    /// The custom fields (`cf_{key}`), by input name.
    #[serde(flatten)]
    pub custom: HashMap<String, String>,
}

impl OrgForm {
    /// The form as an API body: an empty field clears the value.
    fn body(&self, defs: &[CustomFieldDef]) -> OrganizationBody {
        let address = AddressBody {
            street: opt(&self.street),
            postal_code: opt(&self.postal_code),
            city: opt(&self.city),
            country: opt(&self.country),
        };
        let empty = address.street.is_none()
            && address.postal_code.is_none()
            && address.city.is_none()
            && address.country.is_none();
        OrganizationBody {
            name: Some(self.name.clone()),
            address: Some((!empty).then_some(address)),
            website: Some(opt(&self.website)),
            industry: Some(opt(&self.industry)),
            custom_fields: custom_body(defs, &self.custom),
            ..Default::default()
        }
    }

    fn from_org(o: &Organization) -> Self {
        let a = o.address.clone().unwrap_or_default();
        OrgForm {
            csrf: String::new(),
            name: o.name.clone(),
            website: o.website.clone().unwrap_or_default(),
            industry: o.industry.clone().unwrap_or_default(),
            street: a.street.unwrap_or_default(),
            postal_code: a.postal_code.unwrap_or_default(),
            city: a.city.unwrap_or_default(),
            country: a.country.unwrap_or_default(),
            custom: custom_form_values(&o.custom),
        }
    }
}

#[derive(Template)]
#[template(path = "organizations/form.html")]
pub struct OrgFormPage {
    pub p: Layout,
    pub action: String,
    pub cancel: String,
    pub is_new: bool,
    pub f: OrgForm,
    pub errors: HashMap<String, String>,
    pub custom: Vec<CustomInput>,
}

impl OrgFormPage {
    pub fn custom_inputs(&self) -> &[CustomInput] {
        &self.custom
    }

    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }
}

fn form_page(
    state: &AppState,
    s: &UiSession,
    oid: Option<OrganizationId>,
    f: OrgForm,
    errors: HashMap<String, String>,
    status: StatusCode,
) -> Response {
    let (action, cancel) = match oid {
        Some(oid) => (
            format!("/organizations/{oid}"),
            format!("/organizations/{oid}"),
        ),
        None => ("/organizations".to_string(), "/organizations".to_string()),
    };
    let defs = match custom_defs(state, RecordType::Organization) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let p = s.layout("organizations");
    let errors = localize_errors(errors, &p.t);
    let custom = custom_inputs(&defs, &f.custom, &errors);
    render(
        status,
        &OrgFormPage {
            p,
            action,
            cancel,
            is_new: oid.is_none(),
            f,
            errors,
            custom,
        },
    )
}

pub async fn orgs_new_page(State(state): State<AppState>, s: UiSession) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    form_page(
        &state,
        &s,
        None,
        OrgForm::default(),
        HashMap::new(),
        StatusCode::OK,
    )
}

pub async fn orgs_create_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<OrgForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let mut e = OrganizationEdit {
        name: String::new(),
        address: None,
        website: None,
        industry: None,
        owner_id: Some(s.session.user.id),
        custom: BTreeMap::new(),
    };
    let defs = match custom_defs(&state, RecordType::Organization) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let errs = domain_errors(apply(&f.body(&defs), &mut e));
    if !errs.is_empty() {
        return form_page(
            &state,
            &s,
            None,
            f,
            field_errors(errs),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let actor = actor(&s);
    match state
        .blocking(move |store| Ok(store.create_organization(actor, e)?))
        .await
    {
        Ok(o) => Redirect::to(&format!("/organizations/{}", o.id)).into_response(),
        Err(AppError::Invalid(errs)) => form_page(
            &state,
            &s,
            None,
            f,
            field_errors(errs),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => e.into_response(),
    }
}

pub async fn orgs_edit_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    let Ok(oid) = id.parse::<OrganizationId>() else {
        return not_found_page(&s, "organizations");
    };
    match state.store.get_organization(oid) {
        Ok(o) => form_page(
            &state,
            &s,
            Some(oid),
            OrgForm::from_org(&o),
            HashMap::new(),
            StatusCode::OK,
        ),
        Err(e) => page_error(&s, "organizations", e.into()),
    }
}

pub async fn orgs_update_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<OrgForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let Ok(oid) = id.parse::<OrganizationId>() else {
        return not_found_page(&s, "organizations");
    };
    let defs = match custom_defs(&state, RecordType::Organization) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let body = f.body(&defs);
    let actor = actor(&s);
    let result = state
        .blocking(move |store| Ok(store.update_organization(actor, oid, |e| apply(&body, e))?))
        .await;
    match result {
        Ok(_) => Redirect::to(&format!("/organizations/{oid}")).into_response(),
        Err(AppError::Invalid(errs)) => form_page(
            &state,
            &s,
            Some(oid),
            f,
            field_errors(errs),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => page_error(&s, "organizations", e),
    }
}

// ---- detail ----

/// A person of the organization, as listed on its page.
pub struct OrgPerson {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
}

#[derive(Template)]
#[template(path = "organizations/show.html")]
pub struct OrgShowPage {
    pub p: Layout,
    pub org: Organization,
    pub persons: Vec<OrgPerson>,
    pub more_persons: bool,
    pub deals: Vec<Deal>,
    pub stage_names: HashMap<String, String>,
    /// `(label, value)` of the custom fields with a value.
    pub custom_facts: Vec<(String, String)>,
}

impl OrgShowPage {
    pub fn money(&self, d: &Deal) -> String {
        super::layout_money(d.value_cents, d.currency.as_str())
    }

    pub fn stage(&self, d: &Deal) -> String {
        self.stage_names
            .get(&d.stage)
            .cloned()
            .unwrap_or_else(|| d.stage.clone())
    }
}

pub async fn orgs_show_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
) -> Response {
    if let Err(r) = s.require(Permission::ReadCrm) {
        return r;
    }
    let Ok(oid) = id.parse::<OrganizationId>() else {
        return not_found_page(&s, "organizations");
    };
    let p = s.layout("organizations");
    let load = || -> Result<OrgShowPage, AppError> {
        let org = state.store.get_organization(oid)?;
        let custom_facts = custom_facts(
            &custom_defs(&state, RecordType::Organization)?,
            &org.custom,
            &p,
        );
        let page = state.store.list_persons(&PersonFilter {
            organization: Some(oid),
            limit: 200,
            ..Default::default()
        })?;
        super::audit_listed(&state, &p, page.items.iter().map(|x| x.id));
        let mut persons: Vec<OrgPerson> = page
            .items
            .iter()
            .map(|x| OrgPerson {
                id: x.id.to_string(),
                name: x.personal.display_name(),
                email: x
                    .personal
                    .primary_email()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                phone: x
                    .personal
                    .primary_phone()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            })
            .collect();
        persons.sort_by_key(|x| x.name.to_lowercase());
        let deals = state
            .store
            .list_deals(&DealFilter {
                organization: Some(oid),
                limit: 200,
                ..Default::default()
            })?
            .items;
        let stage_names = state
            .store
            .stages(klar_store::pipelines::DEFAULT_PIPELINE)?
            .iter()
            .map(|st| (st.key.clone(), stage_name(st, &p)))
            .collect();
        Ok(OrgShowPage {
            p: p.clone(),
            org,
            persons,
            more_persons: page.next_cursor.is_some(),
            deals,
            stage_names,
            custom_facts,
        })
    };
    match load() {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => page_error(&s, "organizations", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_form_field_clears_the_value() {
        let f = OrgForm {
            name: "Muster GmbH".into(),
            website: "  ".into(),
            city: "Berlin".into(),
            ..Default::default()
        };
        let b = f.body(&[]);
        assert_eq!(b.website, Some(None));
        assert_eq!(b.industry, Some(None));
        let a = b.address.flatten().expect("an address");
        assert_eq!(a.city.as_deref(), Some("Berlin"));
        assert_eq!(a.street, None);
        assert_eq!(b.custom_fields, None, "no custom field is defined");
        assert!(matches!(OrgForm::default().body(&[]).address, Some(None)));
    }
}
