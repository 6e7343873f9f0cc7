//! The installation settings (`/settings/installation`): controller, representative, data
//! protection officer, imprint and the measures text. Saved through the same check as
//! `PUT /api/v1/settings/installation`; the record of processing activities reads them.

use super::forms::{actor, localize_message};
use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::error::AppError;
use crate::extract::{ApiQuery, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::FieldError;
use klar_domain::installation::{Installation, Party, limits};
use klar_domain::role::Permission;
use serde::Deserialize;
use std::collections::HashMap;

/// The parties of the form, in order: `(prefix, heading key, hint key)`.
pub const PARTIES: [(&str, &str, &str); 3] = [
    (
        "controller",
        "installation-controller",
        "installation-controller-hint",
    ),
    (
        "representative",
        "installation-representative",
        "installation-representative-hint",
    ),
    ("dpo", "installation-dpo", "installation-dpo-hint"),
];

/// The form as typed. Inputs are named `{party}_{field}`.
#[derive(Debug, Default, Deserialize)]
pub struct InstallationForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub controller_name: String,
    #[serde(default)]
    pub controller_address: String,
    #[serde(default)]
    pub controller_email: String,
    #[serde(default)]
    pub controller_phone: String,
    #[serde(default)]
    pub representative_name: String,
    #[serde(default)]
    pub representative_address: String,
    #[serde(default)]
    pub representative_email: String,
    #[serde(default)]
    pub representative_phone: String,
    #[serde(default)]
    pub dpo_name: String,
    #[serde(default)]
    pub dpo_address: String,
    #[serde(default)]
    pub dpo_email: String,
    #[serde(default)]
    pub dpo_phone: String,
    #[serde(default)]
    pub imprint: String,
    #[serde(default)]
    pub measures_text: String,
}

impl InstallationForm {
    fn of(i: &Installation) -> Self {
        Self {
            csrf: String::new(),
            controller_name: i.controller.name.clone(),
            controller_address: i.controller.address.clone(),
            controller_email: i.controller.email.clone(),
            controller_phone: i.controller.phone.clone(),
            representative_name: i.representative.name.clone(),
            representative_address: i.representative.address.clone(),
            representative_email: i.representative.email.clone(),
            representative_phone: i.representative.phone.clone(),
            dpo_name: i.dpo.name.clone(),
            dpo_address: i.dpo.address.clone(),
            dpo_email: i.dpo.email.clone(),
            dpo_phone: i.dpo.phone.clone(),
            imprint: i.imprint.clone(),
            measures_text: i.measures_text.clone(),
        }
    }

    fn to_domain(&self) -> Installation {
        let party = |name: &str, address: &str, email: &str, phone: &str| Party {
            name: name.to_owned(),
            // Browsers send textarea lines with CRLF.
            address: address.replace("\r\n", "\n"),
            email: email.to_owned(),
            phone: phone.to_owned(),
        };
        Installation {
            controller: party(
                &self.controller_name,
                &self.controller_address,
                &self.controller_email,
                &self.controller_phone,
            ),
            representative: party(
                &self.representative_name,
                &self.representative_address,
                &self.representative_email,
                &self.representative_phone,
            ),
            dpo: party(
                &self.dpo_name,
                &self.dpo_address,
                &self.dpo_email,
                &self.dpo_phone,
            ),
            imprint: self.imprint.replace("\r\n", "\n"),
            measures_text: self.measures_text.replace("\r\n", "\n"),
        }
    }

    /// The typed value of an input by its name.
    pub fn value(&self, name: &str) -> &str {
        match name {
            "controller_name" => &self.controller_name,
            "controller_address" => &self.controller_address,
            "controller_email" => &self.controller_email,
            "controller_phone" => &self.controller_phone,
            "representative_name" => &self.representative_name,
            "representative_address" => &self.representative_address,
            "representative_email" => &self.representative_email,
            "representative_phone" => &self.representative_phone,
            "dpo_name" => &self.dpo_name,
            "dpo_address" => &self.dpo_address,
            "dpo_email" => &self.dpo_email,
            "dpo_phone" => &self.dpo_phone,
            "imprint" => &self.imprint,
            "measures_text" => &self.measures_text,
            _ => "",
        }
    }
}

/// One input of the form.
pub struct Input {
    /// Id and name: `controller_email`, `imprint`, …
    pub name: String,
    pub label: &'static str,
    /// `text`, `email`, `tel` or `textarea`.
    pub kind: &'static str,
    pub value: String,
    pub error: String,
    pub max: usize,
    /// The `autocomplete` token, or empty.
    pub autocomplete: &'static str,
}

impl Input {
    pub fn has_err(&self) -> bool {
        !self.error.is_empty()
    }
}

/// A group of inputs under a heading.
pub struct Section {
    pub id: &'static str,
    pub heading: &'static str,
    pub hint: &'static str,
    pub inputs: Vec<Input>,
}

#[derive(Template)]
#[template(path = "settings/installation.html")]
pub struct InstallationPage {
    pub p: Layout,
    pub sections: Vec<Section>,
    pub has_errors: bool,
    pub saved: bool,
    /// Labels of what the record of processing activities still misses.
    pub missing: Vec<String>,
}

fn sections(p: &Layout, f: &InstallationForm, errors: &HashMap<String, String>) -> Vec<Section> {
    let input =
        |name: String, label: &str, kind: &'static str, max: usize, ac: &'static str| Input {
            value: f.value(&name).to_owned(),
            error: errors.get(&name).cloned().unwrap_or_default(),
            name,
            label: p.t.get(label),
            kind,
            max,
            autocomplete: ac,
        };
    let line = klar_domain::text::limits::LINE;
    let label = klar_domain::text::limits::LABEL;
    let mut v: Vec<Section> = PARTIES
        .iter()
        .map(|(prefix, heading, hint)| Section {
            id: prefix,
            heading: p.t.get(heading),
            hint: p.t.get(hint),
            inputs: vec![
                input(
                    format!("{prefix}_name"),
                    "installation-name",
                    "text",
                    line,
                    "organization",
                ),
                input(
                    format!("{prefix}_address"),
                    "installation-address",
                    "textarea",
                    limits::ADDRESS,
                    "",
                ),
                input(
                    format!("{prefix}_email"),
                    "installation-email",
                    "email",
                    line,
                    "email",
                ),
                input(
                    format!("{prefix}_phone"),
                    "installation-phone",
                    "tel",
                    label,
                    "tel",
                ),
            ],
        })
        .collect();
    v.push(Section {
        id: "imprint",
        heading: p.t.get("installation-imprint"),
        hint: p.t.get("installation-imprint-hint"),
        inputs: vec![input(
            "imprint".into(),
            "installation-imprint",
            "textarea",
            limits::IMPRINT,
            "",
        )],
    });
    v.push(Section {
        id: "measures",
        heading: p.t.get("installation-measures"),
        hint: p.t.get("installation-measures-hint"),
        inputs: vec![input(
            "measures_text".into(),
            "installation-measures",
            "textarea",
            limits::MEASURES,
            "",
        )],
    });
    v
}

/// Field errors of the store (`controller.name`) at their inputs (`controller_name`), in
/// the UI language.
fn errors_at_inputs(errs: Vec<FieldError>, p: &Layout) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for e in errs {
        m.entry(e.field.replace('.', "_"))
            .or_insert_with(|| localize_message(&e.message, &p.t));
    }
    m
}

fn page(
    p: Layout,
    f: &InstallationForm,
    errors: &HashMap<String, String>,
    saved: bool,
    current: &Installation,
) -> InstallationPage {
    let missing = current
        .gaps()
        .into_iter()
        .map(|k| {
            let l =
                p.t.get(&format!("ropa-missing-{}", k.replace(['.', '_'], "-")));
            if l == "??" { k.to_string() } else { l.into() }
        })
        .collect();
    InstallationPage {
        sections: sections(&p, f, errors),
        has_errors: !errors.is_empty(),
        p,
        saved,
        missing,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct InstallationParams {
    #[serde(default)]
    saved: String,
}

pub async fn installation_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(q): ApiQuery<InstallationParams>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageSettings) {
        return r;
    }
    let current = match state.store.installation() {
        Ok(i) => i,
        Err(e) => return AppError::from(e).into_response(),
    };
    let p = s.layout("privacy");
    let f = InstallationForm::of(&current);
    render(
        StatusCode::OK,
        &page(p, &f, &HashMap::new(), !q.saved.is_empty(), &current),
    )
}

pub async fn installation_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<InstallationForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageSettings) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let i = f.to_domain();
    let who = actor(&s);
    let result = state
        .blocking(move |store| Ok(store.set_installation(who, &i)?))
        .await;
    match result {
        Ok(_) => Redirect::to("/settings/installation?saved=1").into_response(),
        Err(AppError::Invalid(errs)) => {
            let current = match state.store.installation() {
                Ok(i) => i,
                Err(e) => return AppError::from(e).into_response(),
            };
            let p = s.layout("privacy");
            let errors = errors_at_inputs(errs, &p);
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page(p, &f, &errors, false, &current),
            )
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_and_the_settings_map_field_by_field() {
        let mut i = Installation::default();
        i.controller.name = "Muster GmbH".into();
        i.representative.phone = "+49 1".into();
        i.dpo.address = "Weg 1\n12345 Ort".into();
        i.imprint = "HRB 1".into();
        i.measures_text = "Tür zu.".into();
        let f = InstallationForm::of(&i);
        assert_eq!(f.value("dpo_address"), "Weg 1\n12345 Ort");
        assert_eq!(f.to_domain(), i);
        let crlf = InstallationForm {
            dpo_address: "Weg 1\r\n12345 Ort".into(),
            ..f
        };
        assert_eq!(crlf.to_domain().dpo.address, "Weg 1\n12345 Ort");
    }
}
