//! The stages of the default sales pipeline, for roles that manage settings: rename and
//! move a stage, add one, remove an empty one. The checks are the API's own
//! ([`parse_stage`], [`parse_stage_patch`]); the deals board reads the stages anew on
//! every load, so it shows a change at once.

use super::forms::{field_errors, localize_errors, localize_message, not_found_page};
use super::session::{CsrfForm, UiSession};
use super::{Layout, render};
use crate::AppState;
use crate::api::config::{
    STAGE_NAME_CHARS, StageBody, StagePatchBody, parse_stage, parse_stage_patch,
};
use crate::error::AppError;
use crate::extract::{ApiPath, ApiQuery, UiForm};
use crate::i18n::Tr;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::DomainError;
use klar_domain::FieldError;
use klar_domain::records::{Stage, StageKind};
use klar_domain::role::Permission;
use klar_store::pipelines::{DEFAULT_PIPELINE, StagePatch};
use serde::Deserialize;
use std::collections::HashMap;

/// Where the page lives; the forms post below it.
const PAGE: &str = "/settings/pipeline";

/// The kinds a new stage can have, in the order the form offers them.
const KINDS: [StageKind; 3] = [StageKind::Open, StageKind::Won, StageKind::Lost];

#[derive(Template)]
#[template(path = "settings/pipeline.html")]
pub struct PipelinePage {
    pub p: Layout,
    pub rows: Vec<StageRow>,
    /// The form to add a stage, as typed.
    pub add: NewStageForm,
    pub add_errors: HashMap<String, String>,
    /// `(value, label)` of the kinds a new stage can have.
    pub kinds: Vec<(&'static str, &'static str)>,
    /// What the last change did, in the user's language; empty after none.
    pub done: &'static str,
    /// Why a change was refused (a conflict), in the user's language.
    pub notice: String,
    pub name_max: usize,
}

impl PipelinePage {
    pub fn err(&self, field: &str) -> &str {
        self.add_errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.add_errors.contains_key(field)
    }
}

/// One stage as its row shows it: the inputs hold the stored values, or what was typed
/// when a change of this stage was refused.
pub struct StageRow {
    pub key: String,
    pub name_de: String,
    pub name_en: String,
    pub position: String,
    /// `open`, `won` or `lost`.
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub errors: HashMap<String, String>,
}

impl StageRow {
    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

fn kind_label(kind: StageKind, t: &Tr) -> &'static str {
    t.get(&format!("stage-kind-{}", kind.as_str()))
}

/// The form to add a stage, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct NewStageForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub name_de: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub position: String,
    /// `open`, `won` or `lost`.
    #[serde(default)]
    pub kind: String,
}

/// The form of a stage's row: both names and the position, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct StageChangeForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name_de: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub position: String,
}

/// A position as typed: a whole number, possibly negative.
fn parse_position(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

/// The field errors of a check, by form field, in the user's language; a position that is
/// not a whole number adds its own error.
fn form_errors(errs: Vec<FieldError>, position_ok: bool, t: &Tr) -> HashMap<String, String> {
    let mut errors = localize_errors(field_errors(errs), t);
    if !position_ok {
        errors.insert(
            "position".into(),
            t.get("pipeline-position-invalid").to_string(),
        );
    }
    errors
}

/// Checks the form to add a stage with the API's check.
fn check_new(f: &NewStageForm, t: &Tr) -> Result<Stage, HashMap<String, String>> {
    let position = parse_position(&f.position);
    let body = StageBody {
        key: f.key.clone(),
        name_de: f.name_de.clone(),
        name_en: f.name_en.clone(),
        position: position.unwrap_or_default(),
        kind: f.kind.trim().to_string(),
    };
    match (parse_stage(&body), position) {
        (Ok(stage), Some(_)) => Ok(stage),
        (Ok(_), None) => Err(form_errors(Vec::new(), false, t)),
        (Err(DomainError::Invalid(errs)), p) => Err(form_errors(errs, p.is_some(), t)),
    }
}

/// Checks the form of a stage's row with the API's check. Every part is given: an empty
/// name is an error, not "unchanged".
fn check_change(f: &StageChangeForm, t: &Tr) -> Result<StagePatch, HashMap<String, String>> {
    let position = parse_position(&f.position);
    let body = StagePatchBody {
        name_de: Some(f.name_de.clone()),
        name_en: Some(f.name_en.clone()),
        position,
    };
    match (parse_stage_patch(&body), position) {
        (Ok(patch), Some(_)) => Ok(patch),
        (Ok(_), None) => Err(form_errors(Vec::new(), false, t)),
        (Err(DomainError::Invalid(errs)), p) => Err(form_errors(errs, p.is_some(), t)),
    }
}

/// What a re-rendered page shows besides the stored stages.
#[derive(Default)]
struct View {
    /// The add form as typed; `None` offers an empty one placed after the last stage.
    add: Option<NewStageForm>,
    add_errors: HashMap<String, String>,
    /// The key of a stage whose change was refused, with the form as typed and its errors.
    row: Option<(String, StageChangeForm, HashMap<String, String>)>,
    done: &'static str,
    notice: String,
}

fn pipeline_page(state: &AppState, s: &UiSession, v: View, status: StatusCode) -> Response {
    let p = s.layout("settings");
    let stages = match state.store.stages(DEFAULT_PIPELINE) {
        Ok(x) => x,
        Err(e) => return AppError::from(e).into_response(),
    };
    let View {
        add,
        add_errors,
        mut row,
        done,
        notice,
    } = v;
    let add = add.unwrap_or_else(|| NewStageForm {
        position: (stages.iter().map(|x| x.position).max().unwrap_or(0) + 1).to_string(),
        kind: StageKind::Open.as_str().into(),
        ..Default::default()
    });
    let rows = stages
        .iter()
        .map(|st| {
            let typed = row
                .take_if(|(k, _, _)| *k == st.key)
                .map(|(_, f, errors)| (f, errors));
            let (name_de, name_en, position, errors) = match typed {
                Some((f, errors)) => (f.name_de, f.name_en, f.position, errors),
                None => (
                    st.name_de.clone(),
                    st.name_en.clone(),
                    st.position.to_string(),
                    HashMap::new(),
                ),
            };
            StageRow {
                key: st.key.clone(),
                name_de,
                name_en,
                position,
                kind: st.kind.as_str(),
                kind_label: kind_label(st.kind, &p.t),
                errors,
            }
        })
        .collect();
    let kinds = KINDS
        .iter()
        .map(|k| (k.as_str(), kind_label(*k, &p.t)))
        .collect();
    render(
        status,
        &PipelinePage {
            p,
            rows,
            add,
            add_errors,
            kinds,
            done,
            notice,
            name_max: STAGE_NAME_CHARS,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct PipelineParams {
    /// Set after a change: `added`, `saved` or `deleted`.
    #[serde(default)]
    done: String,
}

fn done_notice(done: &str, t: &Tr) -> &'static str {
    match done {
        "added" => t.get("pipeline-added"),
        "saved" => t.get("pipeline-saved"),
        "deleted" => t.get("pipeline-deleted"),
        _ => "",
    }
}

pub async fn pipeline_settings_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(q): ApiQuery<PipelineParams>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageSettings) {
        return r;
    }
    let done = done_notice(&q.done, &s.layout("settings").t);
    pipeline_page(
        &state,
        &s,
        View {
            done,
            ..Default::default()
        },
        StatusCode::OK,
    )
}

fn redirect_done(done: &str) -> Response {
    Redirect::to(&format!("{PAGE}?done={done}")).into_response()
}

/// Adds a stage to the default pipeline.
pub async fn stage_create_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<NewStageForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageSettings) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let t = s.layout("settings").t;
    let stage = match check_new(&f, &t) {
        Ok(stage) => stage,
        Err(add_errors) => {
            return pipeline_page(
                &state,
                &s,
                View {
                    add: Some(f),
                    add_errors,
                    ..Default::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match state
        .blocking(move |store| Ok(store.add_stage(DEFAULT_PIPELINE, &stage)?))
        .await
    {
        Ok(_) => redirect_done("added"),
        // A key that is already a stage.
        Err(AppError::Invalid(errs)) => pipeline_page(
            &state,
            &s,
            View {
                add: Some(f),
                add_errors: form_errors(errs, true, &t),
                ..Default::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => e.into_response(),
    }
}

/// Renames or moves a stage.
pub async fn stage_update_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(key): ApiPath,
    UiForm(f): UiForm<StageChangeForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageSettings) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let t = s.layout("settings").t;
    let patch = match check_change(&f, &t) {
        Ok(patch) => patch,
        Err(errors) => {
            // Errors are shown at the stage's row; a stage that is gone is not found.
            match state.store.stages(DEFAULT_PIPELINE) {
                Ok(st) if st.iter().any(|x| x.key == key) => {}
                Ok(_) => return not_found_page(&s, "settings"),
                Err(e) => return AppError::from(e).into_response(),
            }
            return pipeline_page(
                &state,
                &s,
                View {
                    row: Some((key, f, errors)),
                    ..Default::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let k = key.clone();
    match state
        .blocking(move |store| Ok(store.update_stage(DEFAULT_PIPELINE, &k, &patch)?))
        .await
    {
        Ok(_) => redirect_done("saved"),
        Err(AppError::Invalid(errs)) => {
            let errors = form_errors(errs, true, &t);
            pipeline_page(
                &state,
                &s,
                View {
                    row: Some((key, f, errors)),
                    ..Default::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(AppError::NotFound(_)) => not_found_page(&s, "settings"),
        Err(e) => e.into_response(),
    }
}

/// Removes a stage. The store refuses one that still holds deals and the last open one;
/// the page then says why, in the user's language.
pub async fn stage_delete_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(key): ApiPath,
    UiForm(f): UiForm<CsrfForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageSettings) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    match state
        .blocking(move |store| Ok(store.remove_stage(DEFAULT_PIPELINE, &key)?))
        .await
    {
        Ok(_) => redirect_done("deleted"),
        Err(AppError::Conflict(msg)) => {
            let t = s.layout("settings").t;
            let reason = localize_message(&msg, &t);
            let stop = if reason.ends_with(['.', '!', '?']) {
                ""
            } else {
                "."
            };
            let notice = format!("{} {reason}{stop}", t.get("pipeline-delete-refused"));
            pipeline_page(
                &state,
                &s,
                View {
                    notice,
                    ..Default::default()
                },
                StatusCode::CONFLICT,
            )
        }
        Err(AppError::NotFound(_)) => not_found_page(&s, "settings"),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;

    const DE: Tr = Tr { locale: Locale::De };

    fn new_form(key: &str, position: &str, kind: &str) -> NewStageForm {
        NewStageForm {
            key: key.into(),
            name_de: "Vorführung".into(),
            name_en: "Demo".into(),
            position: position.into(),
            kind: kind.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_stage_is_checked_like_the_api_does() {
        let s = check_new(&new_form(" demo ", " 7 ", "won"), &DE).unwrap();
        assert_eq!(
            (s.key.as_str(), s.position, s.kind),
            ("demo", 7, StageKind::Won)
        );
        let e = check_new(&new_form("Demo!", "sieben", "maybe"), &DE).unwrap_err();
        let mut fields: Vec<_> = e.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["key", "kind", "position"]);
        assert!(e["key"].starts_with("muss aus 1 bis 40"), "{}", e["key"]);
        assert_eq!(e["position"], DE.get("pipeline-position-invalid"));
    }

    #[test]
    fn a_change_needs_both_names_and_a_whole_number() {
        let ok = StageChangeForm {
            name_de: " Angebot ".into(),
            name_en: "Offer".into(),
            position: "-2".into(),
            ..Default::default()
        };
        let p = check_change(&ok, &DE).unwrap();
        assert_eq!(p.name_de.as_deref(), Some("Angebot"));
        assert_eq!(p.position, Some(-2));
        let bad = StageChangeForm {
            name_de: "  ".into(),
            position: "1.5".into(),
            ..ok
        };
        let e = check_change(&bad, &DE).unwrap_err();
        assert_eq!(e["name_de"], "darf nicht leer sein");
        assert!(e.contains_key("position"));
        assert!(!e.contains_key("name_en"));
    }

    #[test]
    fn every_kind_and_notice_is_translated() {
        for t in [DE, Tr { locale: Locale::En }] {
            for k in KINDS {
                assert_ne!(kind_label(k, &t), "??");
            }
            for d in ["added", "saved", "deleted"] {
                assert!(!done_notice(d, &t).is_empty() && done_notice(d, &t) != "??");
            }
            assert_eq!(done_notice("other", &t), "");
        }
    }
}
