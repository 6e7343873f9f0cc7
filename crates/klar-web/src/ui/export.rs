//! The Art. 15 answer as a readable, printable page in German or English. It is built
//! from the same [`Art15Out`] as the JSON answer, so both say the same. The page stands
//! alone: no navigation, no script, no staff account named, only the stylesheet.

use super::render;
use crate::api::export::{Art15Out, CategoryOut};
use crate::api::privacy::LocalizedText;
use crate::i18n::{Locale, Tr};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

fn pick(l: Locale, t: &LocalizedText) -> String {
    if l == Locale::En {
        t.en.clone()
    } else {
        t.de.clone()
    }
}

fn labels(l: Locale, v: &[CategoryOut]) -> String {
    v.iter()
        .map(|c| pick(l, &c.label))
        .collect::<Vec<_>>()
        .join("; ")
}

/// An RFC 3339 instant as a local date and time in Berlin, in the page's language.
fn when(l: Locale, s: &str) -> String {
    match s.parse::<jiff::Timestamp>() {
        Ok(t) => {
            let z = t.to_zoned(super::audit::berlin());
            let fmt = if l == Locale::En {
                "%Y-%m-%d %H:%M"
            } else {
                "%d.%m.%Y, %H:%M"
            };
            z.strftime(fmt).to_string()
        }
        Err(_) => s.to_string(),
    }
}

pub struct PartyLines {
    pub name: String,
    pub lines: Vec<String>,
}

pub struct PurposeView {
    pub key: String,
    pub name: String,
    pub description: String,
    pub basis: String,
    pub applies: bool,
    pub categories: String,
    pub retention: String,
}

pub struct RecipientView {
    pub name: String,
    pub role: String,
    pub country: String,
    pub safeguard: String,
    pub purposes: String,
    pub categories: String,
    pub disclosed: String,
}

pub struct ConsentView {
    pub at: String,
    pub purpose: String,
    pub channel: String,
    pub action: String,
    pub source: String,
    pub wording_version: String,
    pub wording: String,
    pub sha256: String,
    pub evidence: String,
}

#[derive(Template)]
#[template(path = "persons/export.html")]
pub struct ExportPage {
    pub t: Tr,
    pub name: String,
    pub generated_at: String,
    pub controller: PartyLines,
    pub dpo: Option<PartyLines>,
    pub confirmation: String,
    pub purposes: Vec<PurposeView>,
    pub categories: Vec<String>,
    pub recipients: Vec<RecipientView>,
    pub recipient_categories: Vec<String>,
    pub transfers: Vec<(String, String, String)>,
    pub rights: Vec<(String, String)>,
    pub source: String,
    pub automated: String,
    /// `(label, value)` rows of the person's record.
    pub fields: Vec<(String, String)>,
    /// `(date, kind, subject, body)`.
    pub activities: Vec<(String, String, String, String)>,
    /// `(title, value, stage, closed)`.
    pub deals: Vec<(String, String, String, String)>,
    pub consents: Vec<ConsentView>,
    /// `(date, scope)`.
    pub objections: Vec<(String, String)>,
    pub restriction: Option<(String, String)>,
    /// `(date, recipient, purpose, categories)`.
    pub disclosures: Vec<(String, String, String, String)>,
    /// `(date, description)`.
    pub access: Vec<(String, String)>,
}

fn party(p: &crate::api::settings::PartyBody) -> PartyLines {
    let mut lines: Vec<String> = p.address.lines().map(str::to_owned).collect();
    lines.extend([p.email.clone(), p.phone.clone()]);
    lines.retain(|l| !l.trim().is_empty());
    PartyLines {
        name: p.name.clone(),
        lines,
    }
}

fn fields(t: Tr, a: &Art15Out) -> Vec<(String, String)> {
    let p = &a.data.person;
    let mut v = Vec::new();
    let mut add = |key: &str, value: String| {
        if !value.trim().is_empty() {
            v.push((t.get(key).to_string(), value));
        }
    };
    add("export-field-first-name", p.first_name.clone());
    add("export-field-last-name", p.last_name.clone());
    for e in &p.emails {
        add("export-field-email", format!("{} ({})", e.value, e.label));
    }
    for e in &p.phones {
        add("export-field-phone", format!("{} ({})", e.value, e.label));
    }
    if let Some(ad) = &p.address {
        let parts: Vec<String> = [&ad.street, &ad.postal_code, &ad.city, &ad.country]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        add("export-field-address", parts.join(", "));
    }
    add(
        "export-field-birthday",
        p.birthday.clone().unwrap_or_default(),
    );
    add(
        "export-field-organization",
        p.organization.clone().unwrap_or_default(),
    );
    add("export-field-notes", p.notes.clone().unwrap_or_default());
    add("export-field-tags", p.tags.join(", "));
    add("export-field-source", p.source.clone().unwrap_or_default());
    for c in &p.custom_fields {
        let value = match &c.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        v.push((c.label.clone(), value));
    }
    v
}

/// Renders the page.
pub fn page(a: &Art15Out, l: Locale) -> Response {
    let t = Tr { locale: l };
    let p = &a.data.person;
    let name = [p.first_name.as_str(), p.last_name.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let yes_no = |b: bool| {
        if b {
            t.get("export-yes").to_string()
        } else {
            t.get("export-no").to_string()
        }
    };
    let page = ExportPage {
        t,
        name,
        generated_at: when(l, &a.generated_at),
        controller: party(&a.controller.controller),
        dpo: a.controller.dpo.as_ref().map(party),
        confirmation: pick(l, &a.confirmation.text),
        purposes: a
            .purposes
            .iter()
            .map(|x| PurposeView {
                key: x.key.clone(),
                name: pick(l, &x.name),
                description: pick(l, &x.description),
                basis: x.legal_basis_article.clone(),
                applies: x.applies,
                categories: labels(l, &x.data_categories),
                retention: pick(l, &x.retention),
            })
            .collect(),
        categories: a
            .data_categories
            .iter()
            .map(|c| pick(l, &c.label))
            .collect(),
        recipients: a
            .recipients
            .iter()
            .map(|r| RecipientView {
                name: r.name.clone(),
                role: pick(l, &r.role_label),
                country: r.country.clone(),
                safeguard: a
                    .transfers
                    .iter()
                    .find(|x| x.recipient == r.name)
                    .map(|x| pick(l, &x.safeguard))
                    .unwrap_or_default(),
                purposes: r.purposes.join(", "),
                categories: labels(l, &r.data_categories),
                disclosed: r
                    .last_disclosed_at
                    .as_deref()
                    .map(|d| when(l, d))
                    .unwrap_or_else(|| yes_no(false)),
            })
            .collect(),
        recipient_categories: a.recipient_categories.iter().map(|x| pick(l, x)).collect(),
        transfers: a
            .transfers
            .iter()
            .map(|x| {
                (
                    x.recipient.clone(),
                    x.country.clone(),
                    pick(l, &x.safeguard),
                )
            })
            .collect(),
        rights: a
            .rights
            .iter()
            .map(|r| (r.article.clone(), pick(l, &r.text)))
            .collect(),
        source: pick(l, &a.source.text),
        automated: pick(l, &a.automated_decisions.text),
        fields: fields(t, a),
        activities: a
            .data
            .activities
            .iter()
            .map(|x| {
                let kind = t.get(&format!("activity-kind-{}", x.kind));
                (
                    when(l, &x.occurred_at),
                    if kind == "??" {
                        x.kind.clone()
                    } else {
                        kind.into()
                    },
                    x.subject.clone(),
                    x.body.clone().unwrap_or_default(),
                )
            })
            .collect(),
        deals: a
            .data
            .deals
            .iter()
            .map(|d| {
                (
                    d.title.clone(),
                    format!("{:.2} {}", d.value_cents as f64 / 100.0, d.currency),
                    d.stage.clone(),
                    d.closed_at
                        .as_deref()
                        .map(|x| when(l, x))
                        .unwrap_or_default(),
                )
            })
            .collect(),
        consents: a
            .consent_history
            .iter()
            .map(|c| ConsentView {
                at: when(l, &c.at),
                purpose: c.purpose.clone(),
                channel: c.channel.clone(),
                action: {
                    let k = t.get(&format!("export-consent-{}", c.action));
                    if k == "??" {
                        c.action.clone()
                    } else {
                        k.into()
                    }
                },
                source: c.source.clone(),
                wording_version: c.wording_version.clone(),
                wording: c
                    .wording
                    .as_ref()
                    .map(|w| w.text.clone())
                    .unwrap_or_default(),
                sha256: c
                    .wording
                    .as_ref()
                    .map(|w| w.sha256.clone())
                    .unwrap_or_default(),
                evidence: c.evidence.clone().unwrap_or_default(),
            })
            .collect(),
        objections: a
            .data
            .objections
            .iter()
            .map(|o| (when(l, &o.at), o.scope.clone()))
            .collect(),
        restriction: a
            .data
            .restriction
            .as_ref()
            .map(|r| (when(l, &r.since), r.reason.clone())),
        disclosures: a
            .disclosures
            .iter()
            .map(|d| {
                (
                    when(l, &d.at),
                    d.recipient.clone(),
                    d.purpose.clone(),
                    d.data_categories.join(", "),
                )
            })
            .collect(),
        access: a
            .access_log
            .iter()
            .map(|x| (when(l, &x.at), pick(l, &x.description)))
            .collect(),
    };
    render(StatusCode::OK, &page)
}
