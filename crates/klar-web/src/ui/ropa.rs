//! The privacy hub (`/privacy`) and the record of processing activities (`/privacy/ropa`,
//! Art. 30(1) GDPR) rendered as a page, generated from the live configuration by the same
//! function as `GET /api/v1/ropa`. Reading the record is recorded.

use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use klar_domain::installation::Party;
use klar_domain::role::Permission;
use klar_domain::ropa::{Ropa, Text};
use klar_store::audit::{AuditAction, AuditEntry};

#[derive(Template)]
#[template(path = "privacy/hub.html")]
pub struct HubPage {
    pub p: Layout,
}

/// The privacy hub: links to the pages the role may use. Every role that may see one of
/// them manages settings (the privacy officer does too).
pub async fn privacy_hub_page(s: UiSession) -> Response {
    if let Err(r) = s.require(Permission::ManageSettings) {
        return r;
    }
    render(
        StatusCode::OK,
        &HubPage {
            p: s.layout("privacy"),
        },
    )
}

/// A party as shown: address lines split.
pub struct PartyView {
    pub name: String,
    pub address: Vec<String>,
    pub email: String,
    pub phone: String,
}

impl PartyView {
    fn of(p: &Party) -> Self {
        Self {
            name: p.name.clone(),
            address: p.address.lines().map(str::to_owned).collect(),
            email: p.email.clone(),
            phone: p.phone.clone(),
        }
    }
}

/// One processing activity as shown, in the UI language.
pub struct ActivityView {
    pub purpose: String,
    pub version: u32,
    pub name: String,
    pub description: String,
    pub legal_basis_article: String,
    pub direct_marketing: bool,
    pub channels: Vec<String>,
    pub data_subjects: Vec<String>,
    pub data_categories: Vec<String>,
    pub recipients: Vec<String>,
    pub transfers: Vec<String>,
    pub retention_class: String,
    pub retention: String,
}

#[derive(Template)]
#[template(path = "privacy/ropa.html")]
pub struct RopaPage {
    pub p: Layout,
    pub generated_at: String,
    pub controller: PartyView,
    pub representative: Option<PartyView>,
    pub dpo: Option<PartyView>,
    /// Labels of the settings still missing.
    pub missing: Vec<String>,
    pub activities: Vec<ActivityView>,
    pub inactive: Vec<String>,
    /// `(title, detail)`.
    pub measures: Vec<(String, String)>,
    pub measures_text: Vec<String>,
}

fn pick(p: &Layout, t: &Text) -> String {
    if p.t.lang() == "en" {
        t.en.clone()
    } else {
        t.de.clone()
    }
}

fn picks(p: &Layout, v: &[Text]) -> Vec<String> {
    v.iter().map(|t| pick(p, t)).collect()
}

/// The label of a missing setting (`controller.name` → `ropa-missing-controller-name`).
fn missing_label(p: &Layout, key: &str) -> String {
    let l =
        p.t.get(&format!("ropa-missing-{}", key.replace(['.', '_'], "-")));
    if l == "??" { key.to_string() } else { l.into() }
}

fn page(p: Layout, r: Ropa) -> RopaPage {
    let generated_at = r
        .generated_at
        .parse::<jiff::Timestamp>()
        .map(|at| super::audit::local_time(&p, at, &super::audit::berlin()))
        .unwrap_or_else(|_| r.generated_at.clone());
    let activities = r
        .activities
        .iter()
        .map(|a| ActivityView {
            purpose: a.purpose.clone(),
            version: a.version,
            name: pick(&p, &a.name),
            description: pick(&p, &a.description),
            legal_basis_article: a.legal_basis_article.clone(),
            direct_marketing: a.direct_marketing,
            channels: a
                .channels
                .iter()
                .map(|c| {
                    let l = p.t.get(&format!("channel-{c}"));
                    if l == "??" { c.clone() } else { l.into() }
                })
                .collect(),
            data_subjects: picks(&p, &a.data_subjects),
            data_categories: picks(&p, &a.data_categories),
            recipients: picks(&p, &a.recipients),
            transfers: picks(&p, &a.third_country_transfers),
            retention_class: a.retention_class.clone(),
            retention: pick(&p, &a.retention),
        })
        .collect();
    RopaPage {
        generated_at,
        controller: PartyView::of(&r.controller),
        representative: r.representative.as_ref().map(PartyView::of),
        dpo: r.dpo.as_ref().map(PartyView::of),
        missing: r.missing.iter().map(|k| missing_label(&p, k)).collect(),
        activities,
        inactive: r.inactive_purposes.clone(),
        measures: r
            .measures
            .iter()
            .map(|m| (pick(&p, &m.title), pick(&p, &m.detail)))
            .collect(),
        measures_text: r
            .measures_text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        p,
    }
}

pub async fn ropa_page(State(state): State<AppState>, s: UiSession) -> Response {
    if let Err(r) = s.require(Permission::ManageSettings) {
        return r;
    }
    let p = s.layout("privacy");
    let route = state.config.mail_route;
    let days = u32::from(state.config.doi_expiry_days);
    let actor = p.actor();
    let result = state
        .blocking(move |store| {
            let r = store.ropa(route, days)?;
            store.audit(AuditEntry::new(actor, AuditAction::RopaRead));
            Ok(r)
        })
        .await;
    match result {
        Ok(r) => render(StatusCode::OK, &page(p, r)),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Locale, Tr};

    #[test]
    fn every_gap_the_settings_can_have_has_a_label() {
        let gaps = klar_domain::installation::Installation::default().gaps();
        for locale in [Locale::De, Locale::En] {
            let p = Layout {
                t: Tr { locale },
                user_email: None,
                role: None,
                csrf: String::new(),
                active: "",
                user_id: None,
            };
            for g in &gaps {
                assert_ne!(missing_label(&p, g), *g, "{g}");
            }
        }
    }
}
