//! Settings of the logged-in user: the account (email, role) and the UI language.
//! Open to every role, including the administrator who cannot read CRM data.

use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::extract::{ApiQuery, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::role::Role;
use serde::Deserialize;

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

fn page(s: &UiSession, locale: String, saved: bool, error: String) -> SettingsPage {
    let p = s.layout("settings");
    let u = &s.session.user;
    SettingsPage {
        email: u.email.clone(),
        role: p.t.get(role_key(u.role)),
        locale,
        saved,
        error,
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
}

pub async fn settings_page(s: UiSession, ApiQuery(q): ApiQuery<SettingsParams>) -> Response {
    render(
        StatusCode::OK,
        &page(&s, current(&s), !q.saved.is_empty(), String::new()),
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
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&s, current(&s), false, error),
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
    fn every_role_has_a_translated_name() {
        let t = crate::i18n::Tr {
            locale: crate::i18n::Locale::De,
        };
        for r in Role::ALL {
            assert_ne!(t.get(role_key(r)), "??", "{r}");
        }
    }
}
