//! The purposes of processing (`/privacy/purposes`): the list for roles that manage
//! settings; for the privacy officer a form to change a purpose (every change is a new
//! version; the legal basis never changes) and a form to define one. The forms are turned
//! into the API's bodies and checked by the API's own functions.

use super::forms::{actor, field_errors, localize_errors, not_found_page};
use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::api::privacy::{PurposeBody, PurposePatchBody, apply_purpose_patch, purpose_from_body};
use crate::error::AppError;
use crate::extract::{ApiPath, ApiQuery, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::policy::{Channel, LegalBasis, Purpose};
use klar_domain::role::Permission;
use serde::Deserialize;
use std::collections::HashMap;

/// The bases a CRM purpose may rest on, in the order offered.
pub const BASES: [LegalBasis; 4] = [
    LegalBasis::Consent,
    LegalBasis::Contract,
    LegalBasis::LegalObligation,
    LegalBasis::LegitimateInterest,
];

/// Retention classes the record of processing explains in plain words.
pub const RETENTION_CLASSES: [&str; 4] = ["contract", "consent", "marketing", "hgb_257"];

/// A purpose form as typed (the edit form and the form to add one). Channels are one
/// checkbox each, so that the form needs no repeated keys.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct PurposeForm {
    #[serde(default)]
    pub csrf: String,
    /// Only when adding.
    #[serde(default)]
    pub key: String,
    /// Only when adding.
    #[serde(default)]
    pub legal_basis: String,
    #[serde(default)]
    pub name_de: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub description_de: String,
    #[serde(default)]
    pub description_en: String,
    #[serde(default)]
    pub ch_email: String,
    #[serde(default)]
    pub ch_phone: String,
    #[serde(default)]
    pub ch_sms: String,
    #[serde(default)]
    pub ch_post: String,
    /// Comma-separated keys.
    #[serde(default)]
    pub data_categories: String,
    #[serde(default)]
    pub retention: String,
    #[serde(default)]
    pub direct_marketing: String,
    /// Only when editing.
    #[serde(default)]
    pub active: String,
}

impl PurposeForm {
    fn of(p: &Purpose) -> Self {
        let on = |c: Channel| {
            if p.channels.contains(&c) {
                "on".to_string()
            } else {
                String::new()
            }
        };
        let flag = |b: bool| if b { "on".to_string() } else { String::new() };
        Self {
            csrf: String::new(),
            key: p.key.clone(),
            legal_basis: p.legal_basis.as_str().into(),
            name_de: p.name_de.clone(),
            name_en: p.name_en.clone(),
            description_de: p.description_de.clone(),
            description_en: p.description_en.clone(),
            ch_email: on(Channel::Email),
            ch_phone: on(Channel::Phone),
            ch_sms: on(Channel::Sms),
            ch_post: on(Channel::Post),
            data_categories: p.data_categories.join(", "),
            retention: p.retention.clone(),
            direct_marketing: flag(p.direct_marketing),
            active: flag(p.active),
        }
    }

    fn channels(&self) -> Vec<String> {
        [
            (Channel::Email, &self.ch_email),
            (Channel::Phone, &self.ch_phone),
            (Channel::Sms, &self.ch_sms),
            (Channel::Post, &self.ch_post),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(c, _)| c.as_str().to_string())
        .collect()
    }

    fn categories(&self) -> Vec<String> {
        self.data_categories
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    }

    /// The new purpose as the API's body.
    fn create_body(&self) -> PurposeBody {
        PurposeBody {
            key: self.key.clone(),
            name_de: self.name_de.clone(),
            name_en: self.name_en.clone(),
            description_de: self.description_de.replace("\r\n", "\n"),
            description_en: self.description_en.replace("\r\n", "\n"),
            legal_basis: self.legal_basis.clone(),
            channels: self.channels(),
            data_categories: self.categories(),
            retention: self.retention.clone(),
            direct_marketing: !self.direct_marketing.is_empty(),
        }
    }

    /// The change as the API's body: every field of the form, never the legal basis.
    fn patch_body(&self) -> PurposePatchBody {
        PurposePatchBody {
            name_de: Some(self.name_de.clone()),
            name_en: Some(self.name_en.clone()),
            description_de: Some(self.description_de.replace("\r\n", "\n")),
            description_en: Some(self.description_en.replace("\r\n", "\n")),
            legal_basis: None,
            channels: Some(self.channels()),
            data_categories: Some(self.categories()),
            retention: Some(self.retention.clone()),
            direct_marketing: Some(!self.direct_marketing.is_empty()),
            active: Some(!self.active.is_empty()),
        }
    }

    pub fn has_channel(&self, c: &str) -> bool {
        match c {
            "email" => !self.ch_email.is_empty(),
            "phone" => !self.ch_phone.is_empty(),
            "sms" => !self.ch_sms.is_empty(),
            "post" => !self.ch_post.is_empty(),
            _ => false,
        }
    }
}

/// A purpose as listed.
pub struct PurposeRow {
    pub key: String,
    pub name_de: String,
    pub name_en: String,
    pub basis: String,
    pub article: &'static str,
    pub channels: String,
    pub data_categories: String,
    pub retention: String,
    pub direct_marketing: bool,
    pub active: bool,
    pub version: u32,
}

fn basis_label(p: &Layout, b: LegalBasis) -> &'static str {
    p.t.get(&format!("basis-{}", b.as_str().replace('_', "-")))
}

fn channel_label(p: &Layout, c: &str) -> String {
    let l = p.t.get(&format!("channel-{c}"));
    if l == "??" { c.to_string() } else { l.into() }
}

fn row(p: &Layout, x: &Purpose) -> PurposeRow {
    PurposeRow {
        key: x.key.clone(),
        name_de: x.name_de.clone(),
        name_en: x.name_en.clone(),
        basis: basis_label(p, x.legal_basis).into(),
        article: x.legal_basis.article(),
        channels: x
            .channels
            .iter()
            .map(|c| channel_label(p, c.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        data_categories: x.data_categories.join(", "),
        retention: x.retention.clone(),
        direct_marketing: x.direct_marketing,
        active: x.active,
        version: x.version,
    }
}

/// What both purpose forms need besides the values.
pub struct FormParts {
    /// `(value, label)` of the channels.
    pub channels: Vec<(&'static str, String)>,
    /// `(value, label with article)` of the bases a purpose may rest on.
    pub bases: Vec<(&'static str, String)>,
    pub retention_classes: [&'static str; 4],
    pub errors: HashMap<String, String>,
}

impl FormParts {
    fn new(p: &Layout, errors: HashMap<String, String>) -> Self {
        Self {
            channels: Channel::ALL
                .into_iter()
                .map(|c| (c.as_str(), channel_label(p, c.as_str())))
                .collect(),
            bases: BASES
                .into_iter()
                .map(|b| {
                    (
                        b.as_str(),
                        format!("{} ({})", basis_label(p, b), b.article()),
                    )
                })
                .collect(),
            retention_classes: RETENTION_CLASSES,
            errors: localize_errors(errors, &p.t),
        }
    }

    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }
}

#[derive(Template)]
#[template(path = "privacy/purposes.html")]
pub struct PurposesPage {
    pub p: Layout,
    pub rows: Vec<PurposeRow>,
    /// The form to add a purpose (privacy officer only).
    pub add: Option<(PurposeForm, FormParts)>,
    /// The key of a purpose just added.
    pub created: String,
}

#[derive(Template)]
#[template(path = "privacy/purpose_edit.html")]
pub struct PurposeEditPage {
    pub p: Layout,
    pub row: PurposeRow,
    pub f: PurposeForm,
    pub parts: FormParts,
    pub saved: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    created: String,
}

fn list(
    state: &AppState,
    s: &UiSession,
    add: PurposeForm,
    errors: HashMap<String, String>,
    created: String,
) -> Result<PurposesPage, AppError> {
    let p = s.layout("privacy");
    let rows = state.store.purposes()?.iter().map(|x| row(&p, x)).collect();
    let add = p
        .can_manage_privacy()
        .then(|| (add, FormParts::new(&p, errors)));
    Ok(PurposesPage {
        p,
        rows,
        add,
        created,
    })
}

fn empty_add() -> PurposeForm {
    PurposeForm {
        legal_basis: "consent".into(),
        retention: "consent".into(),
        ..Default::default()
    }
}

pub async fn purposes_list_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageSettings) {
        return r;
    }
    // Only a well-formed key is echoed.
    let created = klar_domain::policy::parse_purpose_key(&q.created).unwrap_or_default();
    match list(&state, &s, empty_add(), HashMap::new(), created) {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => e.into_response(),
    }
}

pub async fn purposes_create_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<PurposeForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let who = actor(&s);
    let result = match purpose_from_body(&f.create_body()) {
        Ok(p) => {
            state
                .blocking(move |store| Ok(store.create_purpose(who, &p)?))
                .await
        }
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(p) => Redirect::to(&format!("/privacy/purposes?created={}", p.key)).into_response(),
        Err(AppError::Invalid(errs)) => {
            match list(&state, &s, f, field_errors(errs), String::new()) {
                Ok(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

fn find(state: &AppState, key: &str) -> Result<Option<Purpose>, AppError> {
    Ok(state.store.purposes()?.into_iter().find(|p| p.key == key))
}

fn edit_page(
    s: &UiSession,
    current: &Purpose,
    f: PurposeForm,
    errors: HashMap<String, String>,
    saved: bool,
) -> PurposeEditPage {
    let p = s.layout("privacy");
    PurposeEditPage {
        row: row(&p, current),
        parts: FormParts::new(&p, errors),
        f,
        saved,
        p,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EditParams {
    #[serde(default)]
    saved: String,
}

pub async fn purposes_edit_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(key): ApiPath,
    ApiQuery(q): ApiQuery<EditParams>,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    match find(&state, &key) {
        Ok(Some(cur)) => render(
            StatusCode::OK,
            &edit_page(
                &s,
                &cur,
                PurposeForm::of(&cur),
                HashMap::new(),
                !q.saved.is_empty(),
            ),
        ),
        Ok(None) => not_found_page(&s, "privacy"),
        Err(e) => e.into_response(),
    }
}

pub async fn purposes_update_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(key): ApiPath,
    UiForm(f): UiForm<PurposeForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let body = f.patch_body();
    let who = actor(&s);
    let k = key.clone();
    let result = state
        .blocking(
            move |store| Ok(store.update_purpose(who, &k, |p| apply_purpose_patch(p, &body))?),
        )
        .await;
    match result {
        Ok(p) => Redirect::to(&format!("/privacy/purposes/{}?saved=1", p.key)).into_response(),
        Err(AppError::NotFound(_)) => not_found_page(&s, "privacy"),
        Err(AppError::Invalid(errs)) => match find(&state, &key) {
            Ok(Some(cur)) => {
                let mut typed = f;
                typed.key = cur.key.clone();
                typed.legal_basis = cur.legal_basis.as_str().into();
                render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &edit_page(&s, &cur, typed, field_errors(errs), false),
                )
            }
            Ok(None) => not_found_page(&s, "privacy"),
            Err(e) => e.into_response(),
        },
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Locale, Tr};

    #[test]
    fn the_edit_form_becomes_a_full_patch_without_the_basis() {
        let f = PurposeForm {
            name_de: "N".into(),
            ch_email: "on".into(),
            ch_post: "on".into(),
            data_categories: " contact,, interaction ".into(),
            direct_marketing: "on".into(),
            ..Default::default()
        };
        let b = f.patch_body();
        assert_eq!(b.legal_basis, None);
        assert_eq!(b.channels.unwrap(), ["email", "post"]);
        assert_eq!(b.data_categories.unwrap(), ["contact", "interaction"]);
        assert_eq!(b.direct_marketing, Some(true));
        assert_eq!(b.active, Some(false));
    }

    #[test]
    fn a_purpose_round_trips_through_its_form() {
        let p = Purpose {
            key: "newsletter".into(),
            name_de: "Newsletter".into(),
            name_en: "Newsletter".into(),
            description_de: "d".into(),
            description_en: "e".into(),
            legal_basis: LegalBasis::Consent,
            channels: vec![Channel::Email, Channel::Sms],
            data_categories: vec!["contact".into()],
            retention: "consent".into(),
            direct_marketing: true,
            active: true,
            version: 3,
        };
        let mut q = p.clone();
        apply_purpose_patch(&mut q, &PurposeForm::of(&p).patch_body()).unwrap();
        assert_eq!(q, p);
    }

    #[test]
    fn every_offered_basis_has_a_label() {
        for locale in [Locale::De, Locale::En] {
            let t = Tr { locale };
            for b in LegalBasis::ALL {
                assert_ne!(
                    t.get(&format!("basis-{}", b.as_str().replace('_', "-"))),
                    "??"
                );
            }
        }
    }
}
