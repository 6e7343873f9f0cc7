//! Helpers shared by the UI's pages: form values, field errors, error pages, options.

use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::error::AppError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use klar_domain::ids::OrganizationId;
use klar_domain::records::{Organization, Stage};
use klar_domain::{DomainError, FieldError};
use klar_store::Actor;
use klar_store::organizations::OrganizationFilter;
use std::collections::HashMap;

/// A trimmed form value; empty means "not given" (which clears an optional field).
pub(super) fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Field errors keyed by the form field that shows them: `address.city` → `city`.
pub(super) fn field_errors(errs: Vec<FieldError>) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for e in errs {
        let key = e
            .field
            .split('[')
            .next()
            .unwrap_or(&e.field)
            .rsplit('.')
            .next()
            .unwrap_or(&e.field);
        // `emails[0].value` is shown at the email field, `value_cents` at the value field.
        let key = match (key, e.field.split('[').next()) {
            ("value_cents", _) => "value",
            (_, Some("emails")) => "email",
            (_, Some("phones")) => "phone",
            (k, _) => k,
        };
        m.entry(key.to_string()).or_insert(e.message);
    }
    m
}

/// The field errors of a failed validation, or none.
pub(super) fn domain_errors(r: Result<(), DomainError>) -> Vec<FieldError> {
    match r {
        Ok(()) => Vec::new(),
        Err(DomainError::Invalid(v)) => v,
    }
}

pub(super) fn actor(s: &UiSession) -> Actor {
    Actor::user(s.session.user.id)
}

/// The 404 page in the user's language.
pub(super) fn not_found_page(s: &UiSession, active: &'static str) -> Response {
    let p = s.layout(active);
    let message = p.t.get("error-not-found").to_string();
    render(
        StatusCode::NOT_FOUND,
        &super::ErrorPage {
            p,
            status: 404,
            message,
        },
    )
}

/// An error of a page load: "no such record" as the 404 page, anything else as a problem.
pub(super) fn page_error(s: &UiSession, active: &'static str, e: AppError) -> Response {
    match e {
        AppError::NotFound(_) => not_found_page(s, active),
        e => e.into_response(),
    }
}

/// The name of a stage in the UI language.
pub(super) fn stage_name(stage: &Stage, p: &Layout) -> String {
    if p.t.lang() == "en" {
        stage.name_en.clone()
    } else {
        stage.name_de.clone()
    }
}

/// Organizations as `(id, name)` options of a select, sorted by name.
pub(super) fn org_options(
    state: &AppState,
    must_include: Option<OrganizationId>,
) -> Result<Vec<(String, String)>, AppError> {
    let page = state.store.list_organizations(&OrganizationFilter {
        limit: 200,
        ..Default::default()
    })?;
    let mut items = page.items;
    if let Some(oid) = must_include
        && !items.iter().any(|o| o.id == oid)
    {
        match state.store.get_organization(oid) {
            Ok(o) => items.push(o),
            Err(klar_store::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut v: Vec<_> = items
        .into_iter()
        .map(|o: Organization| (o.id.to_string(), o.name))
        .collect();
    v.sort_by_key(|a| a.1.to_lowercase());
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_land_at_their_form_field() {
        let m = field_errors(vec![
            FieldError::new("address.country", "bad"),
            FieldError::new("name", "empty"),
            FieldError::new("value_cents", "too big"),
            FieldError::new("emails[0].value", "not an address"),
        ]);
        assert_eq!(m.get("country").map(String::as_str), Some("bad"));
        assert_eq!(m.get("name").map(String::as_str), Some("empty"));
        assert_eq!(m.get("value").map(String::as_str), Some("too big"));
        assert_eq!(m.get("email").map(String::as_str), Some("not an address"));
    }
}
