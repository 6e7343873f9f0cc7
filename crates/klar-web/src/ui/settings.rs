//! Settings of the logged-in user: the account (email, role) and the UI language.
//! Open to every role, including the administrator who cannot read CRM data. Roles that
//! manage settings also see the custom field definitions and can add one.

use super::forms::{field_errors, localize_errors};
use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::api::config::{CustomFieldBody, parse_custom_field};
use crate::error::AppError;
use crate::extract::{ApiQuery, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::records::{CustomFieldDef, RecordType};
use klar_domain::role::{Permission, Role};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub p: Layout,
    pub email: String,
    pub role: &'static str,
    /// `auto`, `de` or `en`.
    pub locale: String,
    pub saved: bool,
    pub error: String,
    /// Custom fields: shown only to roles that manage settings.
    pub fields: Option<FieldsSection>,
    /// For roles that manage settings: the last scheduled backup, `None` inside when none ran.
    pub backup: Option<Option<klar_store::backup::BackupRun>>,
}

/// The custom field definitions and the form to add one.
pub struct FieldsSection {
    pub defs: Vec<DefRow>,
    pub f: CustomFieldForm,
    pub errors: HashMap<String, String>,
    pub saved: bool,
}

impl FieldsSection {
    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }
}

/// One defined custom field, as listed.
pub struct DefRow {
    pub record_type: &'static str,
    pub key: String,
    pub label: String,
    pub field_type: &'static str,
    pub options: String,
}

/// The record types custom fields are defined for, in the order listed.
const RECORD_TYPES: [RecordType; 3] = [
    RecordType::Person,
    RecordType::Organization,
    RecordType::Deal,
];

fn def_row(d: &CustomFieldDef, p: &Layout) -> DefRow {
    DefRow {
        record_type: p.t.get(&format!("record-{}", d.record_type.as_str())),
        key: d.key.clone(),
        label: d.label.clone(),
        field_type: p.t.get(&format!("field-type-{}", d.field_type.as_str())),
        options: d.options.join(", "),
    }
}

/// The custom field section for roles that manage settings, with the form as typed.
fn fields_section(
    state: &AppState,
    s: &UiSession,
    f: CustomFieldForm,
    errors: HashMap<String, String>,
    saved: bool,
) -> Result<Option<FieldsSection>, AppError> {
    if !s.session.user.role.allows(Permission::ManageSettings) {
        return Ok(None);
    }
    let p = s.layout("settings");
    let mut defs = Vec::new();
    for rt in RECORD_TYPES {
        defs.extend(
            state
                .store
                .custom_fields(rt)?
                .iter()
                .map(|d| def_row(d, &p)),
        );
    }
    Ok(Some(FieldsSection {
        defs,
        f,
        errors: localize_errors(errors, &p.t),
        saved,
    }))
}

/// The translation key of a role's name.
fn role_key(r: Role) -> &'static str {
    match r {
        Role::Admin => "role-admin",
        Role::PrivacyOfficer => "role-privacy-officer",
        Role::Sales => "role-sales",
        Role::Marketing => "role-marketing",
        Role::Viewer => "role-viewer",
    }
}

/// A submitted language choice: `Ok(None)` follows the browser.
fn parse_choice(s: &str) -> Result<Option<&'static str>, ()> {
    match s.trim() {
        "" | "auto" => Ok(None),
        "de" => Ok(Some("de")),
        "en" => Ok(Some("en")),
        _ => Err(()),
    }
}

fn page(
    state: &AppState,
    s: &UiSession,
    locale: String,
    saved: bool,
    error: String,
    fields: Option<FieldsSection>,
) -> SettingsPage {
    let p = s.layout("settings");
    let u = &s.session.user;
    let backup = p
        .can_manage_settings()
        .then(|| state.store.last_backup().ok().flatten());
    SettingsPage {
        backup,
        email: u.email.clone(),
        role: p.t.get(role_key(u.role)),
        locale,
        saved,
        error,
        fields,
        p,
    }
}

fn current(s: &UiSession) -> String {
    s.session
        .user
        .locale
        .as_deref()
        .and_then(|l| parse_choice(l).ok().flatten())
        .unwrap_or("auto")
        .to_string()
}

#[derive(Debug, Default, Deserialize)]
pub struct SettingsParams {
    #[serde(default)]
    saved: String,
    /// Set after a custom field was added.
    #[serde(default)]
    field_saved: String,
}

pub async fn settings_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(q): ApiQuery<SettingsParams>,
) -> Response {
    let f = CustomFieldForm {
        record_type: "person".into(),
        field_type: "text".into(),
        ..Default::default()
    };
    let fields = match fields_section(&state, &s, f, HashMap::new(), !q.field_saved.is_empty()) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    render(
        StatusCode::OK,
        &page(
            &state,
            &s,
            current(&s),
            !q.saved.is_empty(),
            String::new(),
            fields,
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    locale: String,
}

pub async fn settings_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<SettingsForm>,
) -> Response {
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let Ok(choice) = parse_choice(&f.locale) else {
        let p = s.layout("settings");
        let error = p.t.get("settings-language-invalid").to_string();
        let fields = match fields_section(
            &state,
            &s,
            CustomFieldForm::default(),
            HashMap::new(),
            false,
        ) {
            Ok(x) => x,
            Err(e) => return e.into_response(),
        };
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&state, &s, current(&s), false, error, fields),
        );
    };
    let uid = s.session.user.id;
    let result = state
        .blocking(move |store| Ok(store.set_user_locale(uid, choice)?))
        .await;
    match result {
        Ok(()) => Redirect::to("/settings?saved=1").into_response(),
        Err(e) => e.into_response(),
    }
}

/// The form to add a custom field, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct CustomFieldForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub record_type: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub field_type: String,
    /// The options of a select field, comma-separated.
    #[serde(default)]
    pub options: String,
}

impl CustomFieldForm {
    /// The form as the API's body; it is checked by the API's own check.
    fn body(&self) -> CustomFieldBody {
        CustomFieldBody {
            record_type: self.record_type.trim().to_string(),
            key: self.key.clone(),
            label: self.label.clone(),
            field_type: self.field_type.trim().to_string(),
            options: self
                .options
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(String::from)
                .collect(),
        }
    }
}

/// Adds a custom field definition (roles that manage settings).
pub async fn custom_field_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<CustomFieldForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageSettings) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let result = match parse_custom_field(&f.body()) {
        Ok(def) => {
            state
                .blocking(move |store| Ok(store.define_custom_field(&def)?))
                .await
        }
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => Redirect::to("/settings?field_saved=1#custom-fields-h").into_response(),
        Err(AppError::Invalid(errs)) => {
            match fields_section(&state, &s, f, field_errors(errs), false) {
                Ok(fields) => render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &page(&state, &s, current(&s), false, String::new(), fields),
                ),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_choices() {
        assert_eq!(parse_choice("auto"), Ok(None));
        assert_eq!(parse_choice(""), Ok(None));
        assert_eq!(parse_choice("de"), Ok(Some("de")));
        assert_eq!(parse_choice(" en "), Ok(Some("en")));
        assert_eq!(parse_choice("fr"), Err(()));
    }

    #[test]
    fn custom_field_options_are_split_at_commas() {
        let f = CustomFieldForm {
            record_type: " deal ".into(),
            options: "S, M ,, L ".into(),
            ..Default::default()
        };
        let b = f.body();
        assert_eq!(b.record_type, "deal");
        assert_eq!(b.options, ["S", "M", "L"]);
        assert!(CustomFieldForm::default().body().options.is_empty());
    }

    #[test]
    fn every_role_has_a_translated_name() {
        let t = crate::i18n::Tr {
            locale: crate::i18n::Locale::De,
        };
        for r in Role::ALL {
            assert_ne!(t.get(role_key(r)), "??", "{r}");
        }
    }
}
