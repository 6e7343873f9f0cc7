//! Deal pages: the board (one column per stage of the default pipeline, with a small
//! form on each card to move it), the create form and the detail page with its edit
//! form. Validation is the JSON API's: forms become a [`DealBody`] handed to [`apply`].

use super::audit_listed;
use super::forms::{
    CustomInput, actor, custom_body, custom_defs, custom_facts, custom_form_values, custom_inputs,
    domain_errors, field_errors, localize_errors, localize_message, not_found_page, opt,
    org_options, page_error, stage_name,
};
use super::session::UiSession;
use super::{Layout, layout_money, render};
use crate::AppState;
use crate::api::deals::{DealBody, apply};
use crate::error::AppError;
use crate::extract::{ApiPath, ApiQuery, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::currency::Currency;
use klar_domain::ids::{DealId, OrganizationId, PersonId};
use klar_domain::records::{CustomFieldDef, Deal, Organization, RecordType, StageKind};
use klar_domain::role::Permission;
use klar_domain::{DomainError, FieldError};
use klar_store::audit::{AuditAction, AuditEntry};
use klar_store::deals::{DealEdit, DealFilter};
use klar_store::persons::PersonFilter;
use klar_store::pipelines::DEFAULT_PIPELINE;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// How many cards a board column shows at most.
const CARDS_PER_STAGE: usize = 200;

// ---- amounts ----

/// Parses an amount as people type it into cents: `1.234,56`, `1234.56`, `1,234.56`,
/// `1 234,5`, `12`, `12 €`. A single separator followed by one or two digits is the
/// decimal separator; followed by three digits it groups thousands.
pub fn parse_amount(input: &str) -> Option<i64> {
    let s: String = input
        .trim()
        .trim_end_matches('€')
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''))
        .collect();
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return None;
    }
    let dots = s.matches('.').count();
    let commas = s.matches(',').count();
    let decimal = match (dots, commas) {
        (0, 0) => None,
        (_, 0) | (0, _) => {
            let sep = if dots > 0 { '.' } else { ',' };
            let after = s.len() - s.rfind(sep)? - 1;
            (dots + commas == 1 && (1..=2).contains(&after)).then_some(sep)
        }
        _ => s.rfind(['.', ',']).and_then(|i| s[i..].chars().next()),
    };
    let (int, frac) = match decimal {
        Some(d) => {
            let (i, f) = s.rsplit_once(d)?;
            if i.contains(d)
                || f.is_empty()
                || f.len() > 2
                || !f.chars().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            (i, f)
        }
        None => (s.as_str(), ""),
    };
    // What is left of the integer part may only group thousands.
    let groups: Vec<&str> = int.split(['.', ',']).collect();
    if groups.len() > 1 {
        let first = groups[0];
        if first.is_empty()
            || first.len() > 3
            || first == "0"
            || (int.contains('.') && int.contains(','))
        {
            return None;
        }
        if groups[1..].iter().any(|g| g.len() != 3) {
            return None;
        }
    }
    let digits: String = groups.concat();
    if (digits.is_empty() && frac.is_empty()) || digits.len() > 15 {
        return None;
    }
    let units: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let cents: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    units.checked_mul(100)?.checked_add(cents)
}

/// Cents as form text in the UI language, without grouping: `1234,56` / `1234.56`.
pub fn format_amount(cents: i64, p: &Layout) -> String {
    let sep = if p.t.lang() == "en" { '.' } else { ',' };
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}{sep}{:02}", c / 100, c % 100)
}

// ---- the form ----

/// The values of the deal form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct DealForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub person_id: String,
    #[serde(default)]
    pub organization_id: String,
    #[serde(default)]
    pub expected_close_date: String,
    #[serde(default)]
    pub lost_reason: String,
    /// The custom fields (`cf_{key}`), by input name.
    #[serde(flatten)]
    pub custom: HashMap<String, String>,
}

impl DealForm {
    /// The form as an API body (an empty field clears the value), and the error of the
    /// amount if it cannot be read.
    fn body(&self, p: &Layout, defs: &[CustomFieldDef]) -> (DealBody, Option<FieldError>) {
        let (value_cents, value_err) = if self.value.trim().is_empty() {
            (Some(0), None)
        } else {
            match parse_amount(&self.value) {
                Some(v) => (Some(v), None),
                None => (
                    None,
                    Some(FieldError::new("value", p.t.get("deal-value-invalid"))),
                ),
            }
        };
        let body = DealBody {
            title: Some(self.title.clone()),
            value_cents,
            currency: Some(opt(&self.currency).unwrap_or_else(|| "EUR".into())),
            stage: Some(self.stage.clone()),
            person_id: Some(opt(&self.person_id)),
            organization_id: Some(opt(&self.organization_id)),
            expected_close_date: Some(opt(&self.expected_close_date)),
            lost_reason: Some(opt(&self.lost_reason)),
            custom_fields: custom_body(defs, &self.custom),
            ..Default::default()
        };
        (body, value_err)
    }

    fn from_deal(d: &Deal, p: &Layout) -> Self {
        DealForm {
            csrf: String::new(),
            title: d.title.clone(),
            value: format_amount(d.value_cents, p),
            currency: d.currency.to_string(),
            stage: d.stage.clone(),
            person_id: d.person_id.map(|x| x.to_string()).unwrap_or_default(),
            organization_id: d.organization_id.map(|x| x.to_string()).unwrap_or_default(),
            expected_close_date: d
                .expected_close_date
                .map(|x| x.to_string())
                .unwrap_or_default(),
            lost_reason: d.lost_reason.clone().unwrap_or_default(),
            custom: custom_form_values(&d.custom),
        }
    }
}

/// Validates the body as the API does, plus the amount's own error.
fn check(body: &DealBody, value_err: Option<FieldError>, e: &mut DealEdit) -> Vec<FieldError> {
    let mut errs = domain_errors(apply(body, e));
    errs.extend(value_err);
    errs
}

/// The form with what its selects offer; shared by the new and the detail page.
pub struct DealFields {
    pub f: DealForm,
    pub errors: HashMap<String, String>,
    pub stages: Vec<(String, String)>,
    pub persons: Vec<(String, String)>,
    pub orgs: Vec<(String, String)>,
    pub custom: Vec<CustomInput>,
}

impl DealFields {
    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    fn load(
        state: &AppState,
        p: &Layout,
        f: DealForm,
        errors: HashMap<String, String>,
    ) -> Result<Self, AppError> {
        let stages = stage_options(state, p)?;
        let persons = person_options(state, p, f.person_id.parse().ok())?;
        let orgs = org_options(state, f.organization_id.parse().ok())?;
        let errors = localize_errors(errors, &p.t);
        let custom = custom_inputs(&custom_defs(state, RecordType::Deal)?, &f.custom, &errors);
        Ok(DealFields {
            f,
            errors,
            stages,
            persons,
            orgs,
            custom,
        })
    }
}

fn stage_options(state: &AppState, p: &Layout) -> Result<Vec<(String, String)>, AppError> {
    Ok(state
        .store
        .stages(DEFAULT_PIPELINE)?
        .iter()
        .map(|s| (s.key.clone(), stage_name(s, p)))
        .collect())
}

/// Persons as `(id, name)` options, sorted by name; the deal's own person is always there.
fn person_options(
    state: &AppState,
    p: &Layout,
    must_include: Option<PersonId>,
) -> Result<Vec<(String, String)>, AppError> {
    let mut items = state
        .store
        .list_persons(&PersonFilter {
            limit: 200,
            ..Default::default()
        })?
        .items;
    if let Some(pid) = must_include
        && !items.iter().any(|x| x.id == pid)
    {
        match state.store.get_person(pid) {
            Ok(x) => items.push(x),
            Err(klar_store::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    audit_listed(state, p, items.iter().map(|x| x.id));
    let mut v: Vec<_> = items
        .iter()
        .map(|x| (x.id.to_string(), x.personal.display_name()))
        .collect();
    v.sort_by_key(|a| a.1.to_lowercase());
    Ok(v)
}

// ---- the board ----

/// One deal on the board.
pub struct Card {
    pub id: String,
    pub title: String,
    pub value: String,
    pub stage: String,
    pub organization: String,
    pub close: String,
}

/// One stage of the board.
pub struct Column {
    pub key: String,
    pub name: String,
    pub kind: &'static str,
    pub count: i64,
    pub sums: Vec<String>,
    pub cards: Vec<Card>,
    pub more: bool,
}

#[derive(Template)]
#[template(path = "deals/board.html")]
pub struct DealsBoardPage {
    pub p: Layout,
    pub columns: Vec<Column>,
    pub stage_options: Vec<(String, String)>,
    pub error: String,
}

fn board(state: &AppState, p: Layout, error: String) -> Result<DealsBoardPage, AppError> {
    let stages = state.store.stages(DEFAULT_PIPELINE)?;
    let totals = state.store.pipeline_totals()?;
    let mut pages = Vec::with_capacity(stages.len());
    for st in &stages {
        pages.push(state.store.list_deals(&DealFilter {
            stage: Some(st.key.clone()),
            limit: CARDS_PER_STAGE,
            ..Default::default()
        })?);
    }
    let mut org_ids: Vec<OrganizationId> = pages
        .iter()
        .flat_map(|pg| pg.items.iter().filter_map(|d| d.organization_id))
        .collect();
    org_ids.sort();
    org_ids.dedup();
    let orgs: HashMap<_, _> = state
        .store
        .organizations_by_ids(&org_ids)?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let columns = stages
        .iter()
        .zip(pages)
        .map(|(st, page)| {
            let mut mine: Vec<_> = totals.iter().filter(|t| t.stage == st.key).collect();
            mine.sort_by_key(|t| (t.currency != "EUR", t.currency.clone()));
            let mut sums: Vec<String> = mine
                .iter()
                .map(|t| layout_money(t.value_cents, &t.currency))
                .collect();
            if sums.is_empty() {
                sums.push(layout_money(0, "EUR"));
            }
            Column {
                key: st.key.clone(),
                name: stage_name(st, &p),
                kind: st.kind.as_str(),
                count: mine.iter().map(|t| t.count).sum(),
                sums,
                more: page.next_cursor.is_some(),
                cards: page
                    .items
                    .iter()
                    .map(|d| Card {
                        id: d.id.to_string(),
                        title: d.title.clone(),
                        value: layout_money(d.value_cents, d.currency.as_str()),
                        stage: d.stage.clone(),
                        organization: d
                            .organization_id
                            .and_then(|o| orgs.get(&o).cloned())
                            .unwrap_or_default(),
                        close: d
                            .expected_close_date
                            .map(|x| x.to_string())
                            .unwrap_or_default(),
                    })
                    .collect(),
            }
        })
        .collect();
    let stage_options = stages
        .iter()
        .map(|s| (s.key.clone(), stage_name(s, &p)))
        .collect();
    Ok(DealsBoardPage {
        p,
        columns,
        stage_options,
        error,
    })
}

pub async fn deals_board_page(State(state): State<AppState>, s: UiSession) -> Response {
    if let Err(r) = s.require(Permission::ReadCrm) {
        return r;
    }
    match board(&state, s.layout("deals"), String::new()) {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    stage: String,
}

/// Moves a deal to another stage. Leaving the lost stage drops the reason it was lost.
pub async fn deals_move_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<MoveForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let Ok(did) = id.parse::<DealId>() else {
        return not_found_page(&s, "deals");
    };
    let target = match state.store.stages(DEFAULT_PIPELINE) {
        Ok(st) => st.into_iter().find(|x| x.key == f.stage).map(|x| x.kind),
        Err(e) => return AppError::from(e).into_response(),
    };
    let body = DealBody {
        stage: Some(f.stage),
        lost_reason: match target {
            Some(StageKind::Lost) => None,
            _ => Some(None),
        },
        ..Default::default()
    };
    let actor = actor(&s);
    let result = state
        .blocking(move |store| Ok(store.update_deal(actor, did, |e| apply(&body, e))?))
        .await;
    match result {
        Ok(_) => Redirect::to(&format!("/deals#deal-{did}")).into_response(),
        Err(AppError::Invalid(errs)) => {
            let p = s.layout("deals");
            let msg = format!(
                "{} {}",
                p.t.get("deal-move-failed"),
                errs.iter()
                    .map(|e| format!("{}: {}", e.field, localize_message(&e.message, &p.t)))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            match board(&state, p, msg) {
                Ok(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => page_error(&s, "deals", e),
    }
}

// ---- create ----

#[derive(Template)]
#[template(path = "deals/new.html")]
pub struct DealNewPage {
    pub p: Layout,
    pub form: DealFields,
}

impl DealNewPage {
    pub fn custom_inputs(&self) -> &[CustomInput] {
        &self.form.custom
    }
}

fn new_page(
    state: &AppState,
    s: &UiSession,
    f: DealForm,
    errors: HashMap<String, String>,
    status: StatusCode,
) -> Response {
    let p = s.layout("deals");
    match DealFields::load(state, &p, f, errors) {
        Ok(form) => render(status, &DealNewPage { p, form }),
        Err(e) => e.into_response(),
    }
}

/// `/deals/new?organization_id=…&person_id=…` preselects them.
#[derive(Debug, Default, Deserialize)]
pub struct NewDealParams {
    #[serde(default)]
    organization_id: String,
    #[serde(default)]
    person_id: String,
}

pub async fn deals_new_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(q): ApiQuery<NewDealParams>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    let f = DealForm {
        currency: "EUR".into(),
        stage: "lead".into(),
        organization_id: q.organization_id,
        person_id: q.person_id,
        ..Default::default()
    };
    new_page(&state, &s, f, HashMap::new(), StatusCode::OK)
}

pub async fn deals_create_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<DealForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let mut e = DealEdit {
        title: String::new(),
        value_cents: 0,
        currency: Currency::EUR,
        stage: "lead".into(),
        person_id: None,
        organization_id: None,
        owner_id: Some(s.session.user.id),
        expected_close_date: None,
        lost_reason: None,
        custom: BTreeMap::new(),
    };
    let defs = match custom_defs(&state, RecordType::Deal) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let (body, value_err) = f.body(&s.layout("deals"), &defs);
    let errs = check(&body, value_err, &mut e);
    if !errs.is_empty() {
        return new_page(
            &state,
            &s,
            f,
            field_errors(errs),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let actor = actor(&s);
    match state
        .blocking(move |store| Ok(store.create_deal(actor, e)?))
        .await
    {
        Ok(d) => Redirect::to(&format!("/deals/{}", d.id)).into_response(),
        Err(AppError::Invalid(errs)) => new_page(
            &state,
            &s,
            f,
            field_errors(errs),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => e.into_response(),
    }
}

// ---- detail and edit ----

#[derive(Template)]
#[template(path = "deals/show.html")]
pub struct DealShowPage {
    pub p: Layout,
    pub deal: Deal,
    pub stage: String,
    pub person: Option<(String, String)>,
    pub organization: Option<Organization>,
    pub form: DealFields,
    /// `(label, value)` of the custom fields with a value.
    pub custom_facts: Vec<(String, String)>,
}

impl DealShowPage {
    pub fn custom_inputs(&self) -> &[CustomInput] {
        &self.form.custom
    }

    pub fn money(&self) -> String {
        layout_money(self.deal.value_cents, self.deal.currency.as_str())
    }
}

fn show(
    state: &AppState,
    s: &UiSession,
    did: DealId,
    edited: Option<(DealForm, HashMap<String, String>)>,
    status: StatusCode,
) -> Response {
    let p = s.layout("deals");
    let load = || -> Result<DealShowPage, AppError> {
        let deal = state.store.get_deal(did)?;
        let custom_facts = custom_facts(&custom_defs(state, RecordType::Deal)?, &deal.custom, &p);
        let stage = state
            .store
            .stages(DEFAULT_PIPELINE)?
            .iter()
            .find(|x| x.key == deal.stage)
            .map_or_else(|| deal.stage.clone(), |x| stage_name(x, &p));
        let person = match deal.person_id.map(|x| state.store.get_person(x)) {
            Some(Ok(x)) => {
                state.store.audit(
                    AuditEntry::new(p.actor(), AuditAction::PersonRead)
                        .person(x.id)
                        .object("deal", did),
                );
                Some((x.id.to_string(), x.personal.display_name()))
            }
            Some(Err(klar_store::StoreError::NotFound)) | None => None,
            Some(Err(e)) => return Err(e.into()),
        };
        let organization = deal
            .organization_id
            .map(|o| state.store.get_organization(o))
            .transpose()?;
        let (f, errors) =
            edited.unwrap_or_else(|| (DealForm::from_deal(&deal, &p), HashMap::new()));
        let form = DealFields::load(state, &p, f, errors)?;
        Ok(DealShowPage {
            p: p.clone(),
            deal,
            stage,
            person,
            organization,
            form,
            custom_facts,
        })
    };
    match load() {
        Ok(page) => render(status, &page),
        Err(e) => page_error(s, "deals", e),
    }
}

pub async fn deals_show_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
) -> Response {
    if let Err(r) = s.require(Permission::ReadCrm) {
        return r;
    }
    let Ok(did) = id.parse::<DealId>() else {
        return not_found_page(&s, "deals");
    };
    show(&state, &s, did, None, StatusCode::OK)
}

pub async fn deals_update_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<DealForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let Ok(did) = id.parse::<DealId>() else {
        return not_found_page(&s, "deals");
    };
    let defs = match custom_defs(&state, RecordType::Deal) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let (body, value_err) = f.body(&s.layout("deals"), &defs);
    let actor = actor(&s);
    let result = state
        .blocking(move |store| {
            Ok(store.update_deal(actor, did, |e| {
                let errs = check(&body, value_err, e);
                if errs.is_empty() {
                    Ok(())
                } else {
                    Err(DomainError::Invalid(errs))
                }
            })?)
        })
        .await;
    match result {
        Ok(_) => Redirect::to(&format!("/deals/{did}")).into_response(),
        Err(AppError::Invalid(errs)) => show(
            &state,
            &s,
            did,
            Some((f, field_errors(errs))),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => page_error(&s, "deals", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_in_german_and_english_notation() {
        assert_eq!(parse_amount("1.234,56"), Some(123_456));
        assert_eq!(parse_amount("1234.56"), Some(123_456));
        assert_eq!(parse_amount("1,234.56"), Some(123_456));
        assert_eq!(parse_amount("1234,5"), Some(123_450));
        assert_eq!(parse_amount("1.000"), Some(100_000));
        assert_eq!(parse_amount("1.000.000"), Some(100_000_000));
        assert_eq!(parse_amount("1 234,56 €"), Some(123_456));
        assert_eq!(parse_amount("12"), Some(1_200));
        assert_eq!(parse_amount("0,99"), Some(99));
        assert_eq!(parse_amount(",5"), Some(50));
    }

    #[test]
    fn unreadable_amounts_are_refused() {
        for bad in [
            "",
            "abc",
            "-5",
            "1,2,3",
            "12.34.5",
            "1.234.56,7",
            "1,234,56.7.8",
            "1,2345",
            "1.23456",
            "1,234.567",
            "0.000",
            "12,",
            "1e5",
            "99999999999999999",
        ] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }

    #[test]
    fn amounts_are_written_back_without_grouping() {
        let p = |lang: &str| Layout {
            t: crate::i18n::Tr {
                locale: crate::i18n::Locale::parse(lang).unwrap_or(crate::i18n::Locale::De),
            },
            user_email: None,
            role: None,
            csrf: String::new(),
            active: "",
            user_id: None,
        };
        assert_eq!(format_amount(123_456, &p("de")), "1234,56");
        assert_eq!(format_amount(5, &p("en")), "0.05");
        assert_eq!(
            parse_amount(&format_amount(987_654_321, &p("de"))),
            Some(987_654_321)
        );
    }
}
