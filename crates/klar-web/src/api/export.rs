//! The answer to a request for access (Art. 15 GDPR, LAW.md table 4b) and the copy for
//! data portability (Art. 20, table 4g), each assembled in one step from everything Klar
//! holds about a person. `GET /api/v1/persons/{id}/export` gives the Art. 15 answer as JSON
//! or, with `format=html`, as a printable page in German or English (built from the same
//! JSON, so both say the same); `GET /api/v1/persons/{id}/portability` gives the data the
//! person provided and the data observed about him as JSON or CSV. Both are privacy-officer
//! work and every compilation is audited. Staff are never named: the access log shows when
//! and why the data were consulted, not by whom (CJEU C-579/21).

use super::common::path_id;
use super::privacy::LocalizedText;
use super::settings::PartyBody;
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ApiPath, ApiQuery};
use crate::i18n::Locale;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use klar_domain::FieldError;
use klar_domain::ids::PersonId;
use klar_domain::installation::Party;
use klar_domain::policy::{ConsentConfig, LegalBasis, Purpose, decide_with};
use klar_domain::records::{Activity, ActivityKind, CustomFieldDef, Deal, Person, RecordType};
use klar_domain::role::Permission;
use klar_domain::ropa::Text;
use klar_store::Store;
use klar_store::activities::ActivityFilter;
use klar_store::audit::{AuditAction, AuditEntry, AuditFilter, AuditRecord};
use klar_store::deals::DealFilter;
use klar_store::processors::{Disclosure, Processor};
use klar_store::wordings::Wording;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

fn lt(t: Text) -> LocalizedText {
    LocalizedText { de: t.de, en: t.en }
}

// ---------------------------------------------------------------------------------------
// What the store holds about the person, read in one go.

struct Gathered {
    now: jiff::Timestamp,
    person: Person,
    organization: Option<String>,
    custom_defs: Vec<CustomFieldDef>,
    activities: Vec<Activity>,
    deals: Vec<Deal>,
    consents: Vec<klar_domain::policy::ConsentEvent>,
    wordings: BTreeMap<String, Wording>,
    objections: Vec<klar_store::privacy::ObjectionRecord>,
    restriction: Option<klar_store::privacy::Restriction>,
    presumed_consent: Option<klar_domain::policy::PresumedConsent>,
    advertising_marker: bool,
    existing_customer: Option<klar_store::grounds::ExistingCustomerRecord>,
    purposes: Vec<Purpose>,
    /// Her retention today (decision 0015).
    retention: klar_domain::retention::PersonRetention,
    facts: klar_domain::policy::PersonFacts,
    processors: Vec<Processor>,
    disclosures: Vec<Disclosure>,
    installation: klar_domain::installation::Installation,
    access: Vec<AuditRecord>,
}

fn all_activities(s: &Store, pid: PersonId) -> klar_store::Result<Vec<Activity>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.list_activities(&ActivityFilter {
            person: Some(pid),
            cursor,
            limit: 500,
            ..ActivityFilter::default()
        })?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

fn all_deals(s: &Store, pid: PersonId) -> klar_store::Result<Vec<Deal>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.list_deals(&DealFilter {
            person: Some(pid),
            cursor,
            limit: 500,
            ..DealFilter::default()
        })?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// The consultations of the person's data recorded in the audit trail, newest first.
fn consultations(s: &Store, pid: PersonId) -> klar_store::Result<Vec<AuditRecord>> {
    let mut out = Vec::new();
    let mut before_seq = None;
    loop {
        let page = s.audit_entries(&AuditFilter {
            person_id: Some(pid),
            before_seq,
            limit: 1000,
            ..AuditFilter::default()
        })?;
        before_seq = page.items.last().map(|r| r.seq);
        out.extend(
            page.items
                .into_iter()
                .filter(|r| klar_domain::access::CONSULTATIONS.contains(&r.action.as_str())),
        );
        if page.next_cursor.is_none() {
            return Ok(out);
        }
    }
}

fn gather(
    s: &Store,
    pid: PersonId,
    with_access_log: bool,
    retention: &klar_domain::retention::RetentionConfig,
) -> klar_store::Result<Gathered> {
    let person = s.get_person(pid)?;
    let organization = match person.organization_id {
        Some(o) => Some(s.get_organization(o)?.name),
        None => None,
    };
    let consents = s.consent_events(pid)?;
    let mut wordings = BTreeMap::new();
    for e in &consents {
        if !wordings.contains_key(&e.wording_version)
            && let Some(w) = s.wording(&e.wording_version)?
        {
            wordings.insert(e.wording_version.clone(), w);
        }
    }
    let facts = s.privacy_facts_of(&person)?;
    Ok(Gathered {
        now: s.now(),
        organization,
        custom_defs: s.custom_fields(RecordType::Person)?,
        activities: all_activities(s, pid)?,
        deals: all_deals(s, pid)?,
        consents,
        wordings,
        objections: s.objections(pid)?,
        restriction: s.restriction(pid)?,
        presumed_consent: s.presumed_consent(pid)?,
        advertising_marker: s.has_advertising_marker(pid)?,
        existing_customer: s.existing_customer(pid)?,
        purposes: s.purposes()?,
        retention: s.retention_of(pid, s.now(), retention)?,
        facts,
        processors: s.processors()?,
        disclosures: s.disclosures_of(pid)?,
        installation: s.installation()?,
        access: if with_access_log {
            consultations(s, pid)?
        } else {
            Vec::new()
        },
        person,
    })
}

// ---------------------------------------------------------------------------------------
// The copy of the data (Art. 15(3)). Staff accounts are left out: who entered or owns a
// record is not the person's data.

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LabeledOut {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AddressOut {
    pub street: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
}

/// A custom field value with the field's label.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomValueOut {
    pub key: String,
    pub label: String,
    pub value: serde_json::Value,
}

/// The person's record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonCopy {
    pub id: String,
    /// `consumer` or `business`.
    pub kind: String,
    pub first_name: String,
    pub last_name: String,
    pub emails: Vec<LabeledOut>,
    pub phones: Vec<LabeledOut>,
    pub address: Option<AddressOut>,
    pub birthday: Option<String>,
    pub notes: Option<String>,
    /// The organization she works for, by name.
    pub organization: Option<String>,
    pub tags: Vec<String>,
    /// Where the data came from, as recorded.
    pub source: Option<String>,
    pub custom_fields: Vec<CustomValueOut>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActivityCopy {
    pub id: String,
    /// `note`, `call`, `meeting`, `email`, `task`.
    pub kind: String,
    pub occurred_at: String,
    pub subject: String,
    pub body: Option<String>,
    pub purpose: Option<String>,
    pub due_date: Option<String>,
    pub done: bool,
    pub deal_id: Option<String>,
}

impl From<&Activity> for ActivityCopy {
    fn from(a: &Activity) -> Self {
        Self {
            id: a.id.to_string(),
            kind: a.kind.as_str().into(),
            occurred_at: a.occurred_at.to_string(),
            subject: a.text.subject.clone(),
            body: a.text.body.clone(),
            purpose: a.purpose.clone(),
            due_date: a.due_date.map(|d| d.to_string()),
            done: a.done,
            deal_id: a.deal_id.map(|d| d.to_string()),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DealCopy {
    pub id: String,
    pub title: String,
    pub value_cents: i64,
    pub currency: String,
    pub stage: String,
    /// `open`, `won` or `lost`.
    pub status: String,
    pub expected_close_date: Option<String>,
    pub closed_at: Option<String>,
    pub lost_reason: Option<String>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    pub created_at: String,
}

impl From<&Deal> for DealCopy {
    fn from(d: &Deal) -> Self {
        Self {
            id: d.id.to_string(),
            title: d.title.clone(),
            value_cents: d.value_cents,
            currency: d.currency.to_string(),
            stage: d.stage.clone(),
            status: d.status.as_str().into(),
            expected_close_date: d.expected_close_date.map(|x| x.to_string()),
            closed_at: d.closed_at.map(|x| x.to_string()),
            lost_reason: d.lost_reason.clone(),
            custom_fields: d.custom.clone(),
            created_at: d.stamp.created_at.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ObjectionCopy {
    /// `direct_marketing` or a purpose key.
    pub scope: String,
    pub source: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RestrictionCopy {
    pub reason: String,
    pub since: String,
}

/// Why a business would want a sales call, as recorded (LAW.md table 2f).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PresumedConsentCopy {
    pub reason: String,
    pub recorded_at: String,
    pub ended_at: Option<String>,
}

/// The §7(3) UWG facts (the address itself is in the record above).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExistingCustomerCopy {
    pub deal_id: String,
    pub sale_at: String,
    pub goods_class: String,
    pub recorded_at: String,
}

/// A faithful copy of everything Klar holds about the person (Art. 15(3)).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DataCopy {
    pub person: PersonCopy,
    pub activities: Vec<ActivityCopy>,
    pub deals: Vec<DealCopy>,
    pub objections: Vec<ObjectionCopy>,
    pub restriction: Option<RestrictionCopy>,
    pub presumed_consent: Option<PresumedConsentCopy>,
    /// The person does not want advertising by post.
    pub no_advertising_marker: bool,
    pub existing_customer: Option<ExistingCustomerCopy>,
}

fn custom_values(g: &Gathered) -> Vec<CustomValueOut> {
    g.person
        .personal
        .custom
        .iter()
        .map(|(k, v)| CustomValueOut {
            key: k.clone(),
            label: g
                .custom_defs
                .iter()
                .find(|d| &d.key == k)
                .map_or_else(|| k.clone(), |d| d.label.clone()),
            value: v.clone(),
        })
        .collect()
}

fn emails(p: &Person) -> Vec<LabeledOut> {
    p.personal
        .emails
        .iter()
        .map(|e| LabeledOut {
            label: e.label.clone(),
            value: e.value.to_string(),
        })
        .collect()
}

fn phones(p: &Person) -> Vec<LabeledOut> {
    p.personal
        .phones
        .iter()
        .map(|e| LabeledOut {
            label: e.label.clone(),
            value: e.value.to_string(),
        })
        .collect()
}

fn address(p: &Person) -> Option<AddressOut> {
    p.personal.address.as_ref().map(|a| AddressOut {
        street: a.street.clone(),
        postal_code: a.postal_code.clone(),
        city: a.city.clone(),
        country: a.country.clone(),
    })
}

fn data_copy(g: &Gathered) -> DataCopy {
    let p = &g.person;
    DataCopy {
        person: PersonCopy {
            id: p.id.to_string(),
            kind: p.kind.as_str().into(),
            first_name: p.personal.first_name.clone(),
            last_name: p.personal.last_name.clone(),
            emails: emails(p),
            phones: phones(p),
            address: address(p),
            birthday: p.personal.birthday.map(|b| b.to_string()),
            notes: p.personal.notes.clone(),
            organization: g.organization.clone(),
            tags: p.tags.clone(),
            source: p.source.clone(),
            custom_fields: custom_values(g),
            created_at: p.stamp.created_at.to_string(),
            updated_at: p.stamp.updated_at.to_string(),
        },
        activities: g.activities.iter().map(ActivityCopy::from).collect(),
        deals: g.deals.iter().map(DealCopy::from).collect(),
        objections: g.objections.iter().map(objection).collect(),
        restriction: g.restriction.as_ref().map(|r| RestrictionCopy {
            reason: r.reason.clone(),
            since: r.since.to_string(),
        }),
        presumed_consent: g.presumed_consent.as_ref().map(|c| PresumedConsentCopy {
            reason: c.reason.clone(),
            recorded_at: c.recorded_at.to_string(),
            ended_at: c.ended_at.map(|t| t.to_string()),
        }),
        no_advertising_marker: g.advertising_marker,
        existing_customer: g.existing_customer.as_ref().map(|e| ExistingCustomerCopy {
            deal_id: e.deal_id.to_string(),
            sale_at: e.sale_at.to_string(),
            goods_class: e.goods_class.clone(),
            recorded_at: e.recorded_at.to_string(),
        }),
    }
}

fn objection(o: &klar_store::privacy::ObjectionRecord) -> ObjectionCopy {
    ObjectionCopy {
        scope: o.scope.clone(),
        source: o.source.clone(),
        at: o.at.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// The Art. 15 answer.

/// The controller and its data protection officer (who answers).
#[derive(Debug, Serialize, ToSchema)]
pub struct ControllerOut {
    pub controller: PartyBody,
    pub dpo: Option<PartyBody>,
}

/// 15(1): whether data are processed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationOut {
    pub processed: bool,
    pub text: LocalizedText,
}

/// A category of personal data, with its plain-language label.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryOut {
    pub key: String,
    pub label: LocalizedText,
}

/// What the policy gate says today for one channel of a purpose.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelStatusOut {
    pub channel: String,
    pub allowed: bool,
    /// The basis the processing rests on now, when allowed (for a business contact this
    /// can be `legitimate_interest` under a purpose declared on `contract`).
    pub legal_basis: Option<String>,
    pub reason_code: String,
    pub reason: LocalizedText,
}

/// A purpose (15(1)(a)) with its legal basis, the categories it uses (b) and how long
/// the data are kept for it (d).
#[derive(Debug, Serialize, ToSchema)]
pub struct Art15PurposeOut {
    pub key: String,
    pub name: LocalizedText,
    pub description: LocalizedText,
    /// The basis declared for the purpose.
    pub legal_basis: String,
    pub legal_basis_article: String,
    pub direct_marketing: bool,
    /// Whether the person's data are processed for this purpose now.
    pub applies: bool,
    /// The gate's answer per channel of the purpose, today.
    pub channels: Vec<ChannelStatusOut>,
    pub data_categories: Vec<CategoryOut>,
    pub retention_class: String,
    pub retention: LocalizedText,
}

/// A recipient from the register (15(1)(c)), named (CJEU C-154/21).
#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientOut {
    pub id: String,
    pub name: String,
    /// `processor`, `joint_controller` or `recipient`.
    pub role: String,
    pub role_label: LocalizedText,
    pub country: String,
    pub third_country: bool,
    pub transfer_mechanism: String,
    pub purposes: Vec<String>,
    pub data_categories: Vec<CategoryOut>,
    /// Whether the disclosure log records that the person's data went to it.
    pub disclosed: bool,
    pub last_disclosed_at: Option<String>,
}

/// A transfer to a third country and its safeguard (15(2)).
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferOut {
    pub recipient: String,
    pub country: String,
    pub transfer_mechanism: String,
    pub safeguard: LocalizedText,
}

/// A right of the person (15(1)(e), (f)).
#[derive(Debug, Serialize, ToSchema)]
pub struct RightOut {
    /// `access`, `rectification`, `erasure`, `restriction`, `portability`, `objection`,
    /// `withdraw_consent`, `complaint`.
    pub key: String,
    pub article: String,
    pub text: LocalizedText,
}

/// Where the data came from (15(1)(g)).
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceOut {
    /// The source as recorded on the person (import, form, trade fair, …).
    pub recorded: Option<String>,
    pub text: LocalizedText,
}

/// Automated decision-making (15(1)(h)).
#[derive(Debug, Serialize, ToSchema)]
pub struct AutomatedDecisionsOut {
    pub takes_place: bool,
    pub text: LocalizedText,
}

/// The wording the person was shown, as stored, with its hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WordingRefOut {
    pub locale: String,
    pub text: String,
    /// Hex SHA-256 of the text.
    pub sha256: String,
}

/// One event of the consent ledger with the wording version and the evidence.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentHistoryOut {
    pub at: String,
    pub purpose: String,
    pub channel: String,
    /// `grant`, `confirm`, `withdraw` or `expire`.
    pub action: String,
    /// `person`, `staff`, `import` or `system`.
    pub source: String,
    pub wording_version: String,
    /// The stored wording; absent when the version is not on file.
    pub wording: Option<WordingRefOut>,
    /// Reference to the proof (form submission, scan of a signed form, call recording).
    pub evidence: Option<String>,
}

/// A disclosure of the person's data to a recipient (Art. 19 log).
#[derive(Debug, Serialize, ToSchema)]
pub struct DisclosureOut {
    pub at: String,
    pub recipient_id: String,
    pub recipient: String,
    pub data_categories: Vec<String>,
    pub purpose: String,
    pub legal_basis: String,
}

/// A consultation of the person's data: when and why, never by whom (CJEU C-579/21).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessOut {
    pub at: String,
    /// The audit action: `person.read`, `person.list`, `decision`, `consent.read`,
    /// `person.export`.
    pub action: String,
    pub purpose: Option<String>,
    pub channel: Option<String>,
    pub description: LocalizedText,
}

/// The complete answer to a request for access (Art. 15 GDPR; LAW.md table 4b).
#[derive(Debug, Serialize, ToSchema)]
pub struct Art15Out {
    pub person_id: String,
    pub generated_at: String,
    pub controller: ControllerOut,
    pub confirmation: ConfirmationOut,
    /// 15(1)(a), (d): the purposes with their legal basis and retention.
    pub purposes: Vec<Art15PurposeOut>,
    /// 15(1)(d), concretely: each purpose or duty that keeps her data, until when and why.
    pub storage_period: super::retention::RetentionOut,
    /// 15(1)(b): the categories of data held about the person.
    pub data_categories: Vec<CategoryOut>,
    /// 15(1)(c): the recipients by name.
    pub recipients: Vec<RecipientOut>,
    /// 15(1)(c): categories of recipients inside the controller.
    pub recipient_categories: Vec<LocalizedText>,
    /// 15(2): transfers to third countries and their safeguards (empty: none).
    pub transfers: Vec<TransferOut>,
    /// 15(1)(e), (f).
    pub rights: Vec<RightOut>,
    /// 15(1)(g).
    pub source: SourceOut,
    /// 15(1)(h).
    pub automated_decisions: AutomatedDecisionsOut,
    pub consent_history: Vec<ConsentHistoryOut>,
    /// The Art. 19 disclosure log for the person.
    pub disclosures: Vec<DisclosureOut>,
    /// Consultations of the data, newest first.
    pub access_log: Vec<AccessOut>,
    /// 15(3): the copy of the data.
    pub data: DataCopy,
}

fn party(p: &Party) -> PartyBody {
    PartyBody {
        name: p.name.clone(),
        address: p.address.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
    }
}

fn categories(keys: &[String]) -> Vec<CategoryOut> {
    keys.iter()
        .map(|k| CategoryOut {
            key: k.clone(),
            label: lt(klar_domain::access::held_category(k)),
        })
        .collect()
}

/// The categories of data actually held about the person.
fn held_categories(g: &Gathered) -> Vec<String> {
    let p = &g.person.personal;
    let mut v = vec!["contact".to_string()];
    let mut add = |cond: bool, k: &str| {
        if cond {
            v.push(k.to_string());
        }
    };
    add(
        p.address.as_ref().is_some_and(|a| !a.is_empty()),
        "postal_address",
    );
    add(p.birthday.is_some(), "birthday");
    add(p.notes.is_some(), "notes");
    add(!p.custom.is_empty(), "custom_fields");
    add(!g.activities.is_empty(), "interaction");
    add(!g.deals.is_empty(), "contract");
    add(!g.consents.is_empty(), "consents");
    add(!g.objections.is_empty(), "objections");
    v
}

fn consent_history(g: &Gathered) -> Vec<ConsentHistoryOut> {
    g.consents
        .iter()
        .map(|e| ConsentHistoryOut {
            at: e.at.to_string(),
            purpose: e.purpose.clone(),
            channel: e.channel.as_str().into(),
            action: e.kind.as_str().into(),
            source: e.source.as_str().into(),
            wording_version: e.wording_version.clone(),
            wording: g.wordings.get(&e.wording_version).map(|w| WordingRefOut {
                locale: w.locale.clone(),
                text: w.text.clone(),
                sha256: w.sha256.clone(),
            }),
            evidence: e.evidence.clone(),
        })
        .collect()
}

fn purposes(g: &Gathered, config: &ConsentConfig) -> Vec<Art15PurposeOut> {
    g.purposes
        .iter()
        .filter(|p| p.active)
        .map(|p| {
            let channels: Vec<ChannelStatusOut> = p
                .channels
                .iter()
                .map(|c| {
                    let d = decide_with(config, &g.facts, &g.purposes, &p.key, *c, g.now);
                    ChannelStatusOut {
                        channel: c.as_str().into(),
                        allowed: d.allowed,
                        legal_basis: d
                            .allowed
                            .then(|| d.legal_basis.map(|b| b.as_str().to_string()))
                            .flatten(),
                        reason_code: d.reason_code.as_str().into(),
                        reason: LocalizedText {
                            de: d.reason_de,
                            en: d.reason_en,
                        },
                    }
                })
                .collect();
            // A purpose without channels (keeping records by law) applies while records
            // of a deal are kept.
            let applies = channels.iter().any(|c| c.allowed)
                || (p.channels.is_empty()
                    && p.legal_basis == LegalBasis::LegalObligation
                    && !g.deals.is_empty());
            Art15PurposeOut {
                key: p.key.clone(),
                name: LocalizedText {
                    de: p.name_de.clone(),
                    en: p.name_en.clone(),
                },
                description: LocalizedText {
                    de: p.description_de.clone(),
                    en: p.description_en.clone(),
                },
                legal_basis: p.legal_basis.as_str().into(),
                legal_basis_article: p.legal_basis.article().into(),
                direct_marketing: p.direct_marketing,
                applies,
                channels,
                data_categories: categories(&p.data_categories),
                retention_class: p.retention.clone(),
                retention: lt(klar_domain::ropa::retention_text(&p.retention)),
            }
        })
        .collect()
}

fn recipients(g: &Gathered, applying: &[&str]) -> Vec<RecipientOut> {
    g.processors
        .iter()
        .filter_map(|pr| {
            let last = g
                .disclosures
                .iter()
                .filter(|d| d.processor_id == pr.id)
                .map(|d| d.at)
                .max();
            let serves = pr
                .spec
                .purposes
                .iter()
                .any(|k| applying.contains(&k.as_str()));
            (serves || last.is_some()).then(|| RecipientOut {
                id: pr.id.clone(),
                name: pr.spec.name.clone(),
                role: pr.spec.role.as_str().into(),
                role_label: lt(pr.spec.role.label()),
                country: pr.spec.country.clone(),
                third_country: !klar_domain::processor::in_eea(&pr.spec.country),
                transfer_mechanism: pr.spec.transfer_mechanism.as_str().into(),
                purposes: pr.spec.purposes.clone(),
                data_categories: categories(&pr.spec.data_categories),
                disclosed: last.is_some(),
                last_disclosed_at: last.map(|t| t.to_string()),
            })
        })
        .collect()
}

fn art15(g: &Gathered, config: &ConsentConfig) -> Art15Out {
    let purposes = purposes(g, config);
    let applying: Vec<&str> = purposes
        .iter()
        .filter(|p| p.applies)
        .map(|p| p.key.as_str())
        .collect();
    let recipients = recipients(g, &applying);
    let transfers = g
        .processors
        .iter()
        .filter(|p| recipients.iter().any(|r| r.id == p.id && r.third_country))
        .map(|p| TransferOut {
            recipient: p.spec.name.clone(),
            country: p.spec.country.clone(),
            transfer_mechanism: p.spec.transfer_mechanism.as_str().into(),
            safeguard: lt(p.spec.transfer_mechanism.label()),
        })
        .collect();
    let inst = &g.installation;
    Art15Out {
        storage_period: super::retention::retention_out(&g.retention, g.now),
        person_id: g.person.id.to_string(),
        generated_at: g.now.to_string(),
        controller: ControllerOut {
            controller: party(&inst.controller),
            dpo: (!inst.dpo.is_empty()).then(|| party(&inst.dpo)),
        },
        confirmation: ConfirmationOut {
            processed: true,
            text: lt(klar_domain::access::confirmation(true)),
        },
        data_categories: categories(&held_categories(g)),
        recipients,
        recipient_categories: vec![lt(klar_domain::access::internal_recipients())],
        transfers,
        rights: klar_domain::access::rights()
            .into_iter()
            .map(|r| RightOut {
                key: r.key.into(),
                article: r.article.into(),
                text: lt(r.text),
            })
            .collect(),
        source: SourceOut {
            recorded: g.person.source.clone(),
            text: lt(klar_domain::access::source(g.person.source.as_deref())),
        },
        automated_decisions: AutomatedDecisionsOut {
            takes_place: false,
            text: lt(klar_domain::access::automated_decisions()),
        },
        consent_history: consent_history(g),
        disclosures: g
            .disclosures
            .iter()
            .map(|d| DisclosureOut {
                at: d.at.to_string(),
                recipient_id: d.processor_id.clone(),
                recipient: g
                    .processors
                    .iter()
                    .find(|p| p.id == d.processor_id)
                    .map(|p| p.spec.name.clone())
                    .unwrap_or_default(),
                data_categories: d.data_categories.clone(),
                purpose: d.purpose.clone(),
                legal_basis: d.legal_basis.as_str().into(),
            })
            .collect(),
        access_log: g
            .access
            .iter()
            .map(|r| AccessOut {
                at: r.at.to_string(),
                action: r.action.clone(),
                purpose: r.purpose.clone(),
                channel: r.channel.clone(),
                description: lt(klar_domain::access::consultation(
                    &r.action,
                    r.purpose.as_deref(),
                )),
            })
            .collect(),
        purposes,
        data: data_copy(g),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default) or `html` (a printable page).
    pub format: Option<String>,
    /// Language of the page: `de` or `en`; default from `Accept-Language`, else German.
    pub lang: Option<String>,
}

fn invalid(field: &str, msg: &str) -> AppError {
    AppError::Invalid(vec![FieldError::new(field, msg)])
}

/// Reads what is needed in one blocking step and audits the compilation.
async fn compile(
    state: &AppState,
    auth: &Auth,
    pid: PersonId,
    with_access_log: bool,
    outcome: &'static str,
) -> AppResult<Gathered> {
    let actor = auth.actor();
    let retention = state.config.retention;
    state
        .blocking(move |s| {
            let g = gather(s, pid, with_access_log, &retention)?;
            s.audit(
                AuditEntry::new(actor, AuditAction::PersonExport)
                    .person(pid)
                    .outcome(outcome),
            );
            Ok(g)
        })
        .await
}

/// The answer to a request for access (Art. 15 GDPR): confirmation, purposes with legal
/// basis and retention, categories, recipients by name, transfers, rights (including the
/// complaint to a supervisory authority), source, automated decisions, consent history
/// with wordings and evidence, the disclosure log, the access log (without staff names)
/// and a copy of all data. `format=html` gives a printable page (privacy officer).
#[utoipa::path(get, path = "/api/v1/persons/{id}/export", tag = "privacy",
    params(("id" = String, Path), ExportQuery),
    responses((status = 200, body = Art15Out, description = "The answer as JSON, or as an HTML page with format=html"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn export_person(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    ApiQuery(q): ApiQuery<ExportQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    auth.require(Permission::ManagePrivacy)?;
    let html = match q.format.as_deref().map(str::trim) {
        None | Some("json") => false,
        Some("html") => true,
        Some(_) => return Err(invalid("format", "must be json or html")),
    };
    let locale = match q.lang.as_deref() {
        Some(l) => Locale::parse(l).ok_or_else(|| invalid("lang", "must be de or en"))?,
        None => Locale::from_accept_language(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        ),
    };
    let pid: PersonId = path_id(&id, "person")?;
    let outcome = if html { "art15.html" } else { "art15.json" };
    let g = compile(&state, &auth, pid, true, outcome).await?;
    let answer = art15(&g, &state.config.consent_config());
    if html {
        Ok(crate::ui::export::page(&answer, locale))
    } else {
        Ok(Json(answer).into_response())
    }
}

// ---------------------------------------------------------------------------------------
// Portability (Art. 20).

/// Data the person provided: what he told us about himself.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvidedOut {
    pub first_name: String,
    pub last_name: String,
    pub emails: Vec<LabeledOut>,
    pub phones: Vec<LabeledOut>,
    pub address: Option<AddressOut>,
    pub birthday: Option<String>,
    pub custom_fields: Vec<CustomValueOut>,
}

/// Data observed about the person: his consents and objections, his interactions with
/// us (calls, meetings, emails) and his contracts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObservedOut {
    pub consent_events: Vec<ConsentHistoryOut>,
    pub objections: Vec<ObjectionCopy>,
    pub interactions: Vec<ActivityCopy>,
    pub deals: Vec<DealCopy>,
}

/// The person's data for portability (Art. 20; WP242 rev.01): provided and observed
/// data, not inferred data (staff notes, tags, tasks, the gate's assessments).
#[derive(Debug, Serialize, ToSchema)]
pub struct PortabilityOut {
    pub person_id: String,
    pub generated_at: String,
    /// The purposes on consent or contract, the bases Art. 20(1) covers.
    pub purposes: Vec<String>,
    pub provided: ProvidedOut,
    pub observed: ObservedOut,
}

fn portability(g: &Gathered) -> PortabilityOut {
    let p = &g.person;
    PortabilityOut {
        person_id: p.id.to_string(),
        generated_at: g.now.to_string(),
        purposes: g
            .purposes
            .iter()
            .filter(|x| {
                x.active && matches!(x.legal_basis, LegalBasis::Consent | LegalBasis::Contract)
            })
            .map(|x| x.key.clone())
            .collect(),
        provided: ProvidedOut {
            first_name: p.personal.first_name.clone(),
            last_name: p.personal.last_name.clone(),
            emails: emails(p),
            phones: phones(p),
            address: address(p),
            birthday: p.personal.birthday.map(|b| b.to_string()),
            custom_fields: custom_values(g),
        },
        observed: ObservedOut {
            consent_events: consent_history(g),
            objections: g.objections.iter().map(objection).collect(),
            interactions: g
                .activities
                .iter()
                .filter(|a| {
                    matches!(
                        a.kind,
                        ActivityKind::Call | ActivityKind::Meeting | ActivityKind::Email
                    )
                })
                .map(ActivityCopy::from)
                .collect(),
            deals: g.deals.iter().map(DealCopy::from).collect(),
        },
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PortabilityQuery {
    /// `json` (default) or `csv` (`;`-separated with a UTF-8 BOM, one row per value:
    /// `section;field;value`).
    pub format: Option<String>,
}

/// The person's data for portability (Art. 20): provided and observed data, machine
/// readable; not inferred data (privacy officer).
#[utoipa::path(get, path = "/api/v1/persons/{id}/portability", tag = "privacy",
    params(("id" = String, Path), PortabilityQuery),
    responses((status = 200, body = PortabilityOut, description = "JSON, or CSV with format=csv"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn person_portability(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    ApiQuery(q): ApiQuery<PortabilityQuery>,
) -> AppResult<Response> {
    auth.require(Permission::ManagePrivacy)?;
    let csv = match q.format.as_deref().map(str::trim) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(invalid("format", "must be json or csv")),
    };
    let pid: PersonId = path_id(&id, "person")?;
    let outcome = if csv { "art20.csv" } else { "art20.json" };
    let g = compile(&state, &auth, pid, false, outcome).await?;
    let out = portability(&g);
    if !csv {
        return Ok(Json(out).into_response());
    }
    let mut rows = Vec::new();
    for (section, v) in [
        ("provided", serde_json::to_value(&out.provided)),
        ("observed", serde_json::to_value(&out.observed)),
    ] {
        let v = v.map_err(|e| AppError::Internal(format!("portability csv: {e}")))?;
        flatten(section, "", &v, &mut rows);
    }
    let mut body = String::from("\u{feff}section;field;value\r\n");
    for (section, field, value) in rows {
        body.push_str(&format!(
            "{};{};{}\r\n",
            cell(&section),
            cell(&field),
            cell(&value)
        ));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"portability.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// One row per leaf value: `(section, dotted path, value)`; empty values are left out.
fn flatten(
    section: &str,
    path: &str,
    v: &serde_json::Value,
    out: &mut Vec<(String, String, String)>,
) {
    use serde_json::Value;
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, x) in m {
                flatten(section, &join(k), x, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(section, &join(&i.to_string()), x, out);
            }
        }
        Value::String(s) => out.push((section.into(), path.into(), s.clone())),
        other => out.push((section.into(), path.into(), other.to_string())),
    }
}

/// A CSV cell: quoted, quotes doubled, and a leading `=`, `+`, `-`, `@`, tab or CR
/// neutralised with an apostrophe so that spreadsheets do not run it as a formula.
fn cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(cell("a\"b"), "\"a\"\"b\"");
        assert_eq!(cell("=SUM(A1)"), "\"'=SUM(A1)\"");
        assert_eq!(cell("+4930123"), "\"'+4930123\"");
    }

    #[test]
    fn nested_values_become_one_row_per_leaf() {
        let mut rows = Vec::new();
        flatten(
            "provided",
            "",
            &serde_json::json!({"a": [{"b": 1}, null], "c": "x"}),
            &mut rows,
        );
        assert_eq!(
            rows,
            [
                ("provided".into(), "a.0.b".into(), "1".into()),
                ("provided".into(), "c".into(), "x".into())
            ]
        );
    }
}
