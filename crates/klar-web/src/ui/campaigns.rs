//! Marketing's campaign pages: the list (`/campaigns`), a new campaign with its segment and
//! a live count (`/campaigns/new`), and one campaign (`/campaigns/{id}`) with the preview of
//! who is excluded and why, a test send to oneself, the send, the progress while the outbox
//! works (the page refreshes itself) and the report afterwards.

use super::forms::{actor, field_errors, localize_errors, not_found_page, org_options, page_error};
use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::api::campaigns::{PreviewOut, SegmentQuery, preview_of, test_send_of};
use crate::auth::{Auth, Credential};
use crate::error::AppError;
use crate::extract::{ApiPath, ApiQuery, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::campaign::{CampaignDraft, CampaignSpec, Segment};
use klar_domain::policy::ReasonCode;
use klar_domain::records::RecordType;
use klar_domain::role::Permission;
use klar_store::campaigns::{Campaign, CampaignReport, CampaignStatus};
use klar_store::pipelines::DEFAULT_PIPELINE;
use serde::Deserialize;
use std::collections::HashMap;

pub struct Row {
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub status: &'static str,
    pub sent: i64,
    pub total: i64,
    pub created_at: String,
}

#[derive(Template)]
#[template(path = "campaigns/list.html")]
pub struct ListPage {
    pub p: Layout,
    pub rows: Vec<Row>,
}

fn status_key(s: CampaignStatus) -> &'static str {
    match s {
        CampaignStatus::Draft => "campaign-status-draft",
        CampaignStatus::Sending => "campaign-status-sending",
        CampaignStatus::Sent => "campaign-status-sent",
    }
}

pub async fn campaigns_list_page(State(state): State<AppState>, s: UiSession) -> Response {
    if let Err(r) = s.require(Permission::ManageCampaigns) {
        return r;
    }
    let p = s.layout("campaigns");
    let built = state
        .blocking(|st| {
            st.campaigns()?
                .into_iter()
                .map(|c| {
                    let r = st.campaign_report(&c.id)?;
                    Ok((c, r))
                })
                .collect::<Result<Vec<_>, AppError>>()
        })
        .await;
    match built {
        Ok(v) => {
            let rows = v
                .into_iter()
                .map(|(c, r)| Row {
                    id: c.id.clone(),
                    name: c.spec.name.clone(),
                    purpose: c.spec.purpose.clone(),
                    status: p.t.get(status_key(c.status)),
                    sent: r.sent,
                    total: r.total(),
                    created_at: c.created_at.strftime("%Y-%m-%d %H:%M").to_string(),
                })
                .collect();
            render(StatusCode::OK, &ListPage { p, rows })
        }
        Err(e) => page_error(&s, "campaigns", e),
    }
}

/// The form of a new campaign, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CampaignForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub locale: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub goods_class: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub organization_id: String,
    #[serde(default)]
    pub deal_stage: String,
    #[serde(default)]
    pub owner_id: String,
    #[serde(default)]
    pub custom_key: String,
    #[serde(default)]
    pub custom_value: String,
    #[serde(default)]
    pub all: String,
}

impl CampaignForm {
    /// The form of a stored campaign (for editing its draft).
    fn of(c: &Campaign) -> Self {
        let seg = &c.spec.segment;
        let (custom_key, custom_value) = seg
            .custom
            .iter()
            .next()
            .map(|(k, v)| {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                (k.clone(), v)
            })
            .unwrap_or_default();
        Self {
            csrf: String::new(),
            name: c.spec.name.clone(),
            purpose: c.spec.purpose.clone(),
            locale: c.spec.locale.as_str().into(),
            subject: c.spec.subject.clone(),
            body: c.spec.body.clone(),
            goods_class: c.spec.goods_class.clone().unwrap_or_default(),
            tag: seg.tags.first().cloned().unwrap_or_default(),
            organization_id: seg.organization_id.clone().unwrap_or_default(),
            deal_stage: seg.deal_stage.clone().unwrap_or_default(),
            owner_id: seg.owner_id.clone().unwrap_or_default(),
            custom_key,
            custom_value,
            all: if seg.is_everyone() {
                "on".into()
            } else {
                String::new()
            },
        }
    }

    fn segment(&self) -> SegmentQuery {
        SegmentQuery {
            tag: Some(self.tag.clone()),
            organization_id: Some(self.organization_id.clone()),
            deal_stage: Some(self.deal_stage.clone()),
            owner_id: Some(self.owner_id.clone()),
            custom_key: Some(self.custom_key.clone()),
            custom_value: Some(self.custom_value.clone()),
            all: Some(!self.all.is_empty()),
        }
    }

    fn draft(&self) -> CampaignDraft {
        CampaignDraft {
            name: self.name.clone(),
            purpose: self.purpose.clone(),
            channel: Some("email".into()),
            subject: self.subject.clone(),
            body: self.body.replace("\r\n", "\n"),
            segment: Some(self.segment().draft()),
            locale: Some(if self.locale.is_empty() {
                "de".into()
            } else {
                self.locale.clone()
            }),
            goods_class: Some(self.goods_class.clone()),
        }
    }
}

#[derive(Template)]
#[template(path = "campaigns/new.html")]
pub struct NewPage {
    pub p: Layout,
    /// Where the form goes: `/campaigns/new`, or `/campaigns/{id}/edit` for a draft.
    pub action: String,
    pub editing: bool,
    pub f: CampaignForm,
    pub errors: HashMap<String, String>,
    /// `(key, name)` of the direct-marketing purposes that allow email.
    pub purposes: Vec<(String, String)>,
    pub tags: Vec<String>,
    pub organizations: Vec<(String, String)>,
    pub stages: Vec<(String, String)>,
    pub owners: Vec<(String, String)>,
    pub custom_fields: Vec<(String, String)>,
    /// The segment's size now, when it can be computed.
    pub count: Option<i64>,
}

impl NewPage {
    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }
}

fn new_page(
    state: &AppState,
    s: &UiSession,
    editing: Option<&str>,
    f: CampaignForm,
    errors: HashMap<String, String>,
) -> Result<NewPage, AppError> {
    let p = s.layout("campaigns");
    let en = p.t.lang() == "en";
    let purposes = state
        .store
        .purposes()?
        .into_iter()
        .filter(|x| x.active && x.direct_marketing && x.allows(klar_domain::policy::Channel::Email))
        .map(|x| (x.key, if en { x.name_en } else { x.name_de }))
        .collect();
    let stages = state
        .store
        .stages(DEFAULT_PIPELINE)?
        .into_iter()
        .map(|st| {
            let name = super::forms::stage_name(&st, &p);
            (st.key, name)
        })
        .collect();
    let owners = state
        .store
        .list_users()?
        .into_iter()
        .filter(|u| u.active)
        .map(|u| (u.id.to_string(), u.email))
        .collect();
    let custom_fields = state
        .store
        .custom_fields(RecordType::Person)?
        .into_iter()
        .map(|d| (d.key, d.label))
        .collect();
    let count = Segment::parse(&f.segment().draft())
        .ok()
        .map(|seg| state.store.segment_count(&seg))
        .transpose()?;
    Ok(NewPage {
        errors: localize_errors(errors, &p.t),
        p,
        action: editing.map_or_else(
            || "/campaigns/new".to_string(),
            |id| format!("/campaigns/{id}/edit"),
        ),
        editing: editing.is_some(),
        f,
        purposes,
        tags: state.store.list_tags()?,
        organizations: org_options(state, None)?,
        stages,
        owners,
        custom_fields,
        count,
    })
}

pub async fn campaigns_new_page(State(state): State<AppState>, s: UiSession) -> Response {
    if let Err(r) = s.require(Permission::ManageCampaigns) {
        return r;
    }
    let f = CampaignForm {
        purpose: "newsletter".into(),
        locale: "de".into(),
        ..CampaignForm::default()
    };
    match new_page(&state, &s, None, f, HashMap::new()) {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => page_error(&s, "campaigns", e),
    }
}

pub async fn campaigns_create_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<CampaignForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageCampaigns) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let purposes = match state.store.purposes() {
        Ok(p) => p,
        Err(e) => return page_error(&s, "campaigns", e.into()),
    };
    match CampaignSpec::parse(&f.draft(), &purposes) {
        Ok(spec) => {
            let a = actor(&s);
            match state
                .blocking(move |st| Ok(st.create_campaign(a, &spec)?))
                .await
            {
                Ok(c) => Redirect::to(&format!("/campaigns/{}", c.id)).into_response(),
                Err(e) => page_error(&s, "campaigns", e),
            }
        }
        Err(klar_domain::DomainError::Invalid(errs)) => {
            match new_page(&state, &s, None, f, field_errors(errs)) {
                Ok(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
                Err(e) => page_error(&s, "campaigns", e),
            }
        }
    }
}

pub async fn campaigns_edit_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
) -> Response {
    if let Err(r) = s.require(Permission::ManageCampaigns) {
        return r;
    }
    let c = match state.store.campaign(&id) {
        Ok(Some(c)) => c,
        Ok(None) => return not_found_page(&s, "campaigns"),
        Err(e) => return page_error(&s, "campaigns", e.into()),
    };
    if c.status != CampaignStatus::Draft {
        let msg = s
            .layout("campaigns")
            .t
            .get("campaign-not-draft")
            .to_string();
        return show(&state, &s, id, "", msg).await;
    }
    match new_page(&state, &s, Some(&id), CampaignForm::of(&c), HashMap::new()) {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => page_error(&s, "campaigns", e),
    }
}

pub async fn campaigns_edit_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<CampaignForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageCampaigns) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let purposes = match state.store.purposes() {
        Ok(p) => p,
        Err(e) => return page_error(&s, "campaigns", e.into()),
    };
    match CampaignSpec::parse(&f.draft(), &purposes) {
        Ok(spec) => {
            let a = actor(&s);
            let cid = id.clone();
            match state
                .blocking(move |st| Ok(st.update_campaign(a, &cid, &spec)?))
                .await
            {
                Ok(c) => Redirect::to(&format!("/campaigns/{}", c.id)).into_response(),
                Err(AppError::NotFound(_)) => not_found_page(&s, "campaigns"),
                Err(AppError::Conflict(_)) => {
                    let msg = s
                        .layout("campaigns")
                        .t
                        .get("campaign-not-draft")
                        .to_string();
                    show(&state, &s, id, "", msg).await
                }
                Err(e) => page_error(&s, "campaigns", e),
            }
        }
        Err(klar_domain::DomainError::Invalid(errs)) => {
            match new_page(&state, &s, Some(&id), f, field_errors(errs)) {
                Ok(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
                Err(e) => page_error(&s, "campaigns", e),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "campaigns/count.html")]
pub struct CountFragment {
    pub p: Layout,
    pub count: Option<i64>,
}

/// The live count of the segment being built (a fragment for the page's script).
pub async fn campaigns_segment_count(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(f): ApiQuery<CampaignForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageCampaigns) {
        return r;
    }
    let p = s.layout("campaigns");
    let count = match Segment::parse(&f.segment().draft()) {
        Ok(seg) => match state.blocking(move |st| Ok(st.segment_count(&seg)?)).await {
            Ok(n) => Some(n),
            Err(e) => return page_error(&s, "campaigns", e),
        },
        Err(_) => None,
    };
    render(StatusCode::OK, &CountFragment { p, count })
}

pub struct Excluded {
    pub code: String,
    pub reason: String,
    pub count: i64,
}

#[derive(Template)]
#[template(path = "campaigns/show.html")]
pub struct ShowPage {
    pub p: Layout,
    pub c: Campaign,
    pub segment: String,
    pub status: &'static str,
    pub preview: Option<PreviewOut>,
    pub excluded: Vec<Excluded>,
    pub report: CampaignReport,
    pub refused: Vec<Excluded>,
    pub notice: String,
    pub error: String,
    pub sending: bool,
}

fn reasons(p: &Layout, counts: &std::collections::BTreeMap<String, i64>) -> Vec<Excluded> {
    let en = p.t.lang() == "en";
    counts
        .iter()
        .map(|(code, n)| Excluded {
            code: code.clone(),
            reason: match ReasonCode::parse(code) {
                Ok(rc) => {
                    let (de, e) = rc.reason();
                    if en { e } else { de }.to_string()
                }
                Err(_) => {
                    let l =
                        p.t.get(&format!("campaign-reason-{}", code.replace('_', "-")));
                    if l == "??" {
                        code.clone()
                    } else {
                        l.to_string()
                    }
                }
            },
            count: *n,
        })
        .collect()
}

fn segment_text(p: &Layout, seg: &Segment) -> String {
    if seg.is_everyone() {
        return p.t.get("campaign-segment-all").to_string();
    }
    let mut parts = Vec::new();
    for t in &seg.tags {
        parts.push(format!("{} = {t}", p.t.get("campaign-tag")));
    }
    if let Some(o) = &seg.organization_id {
        parts.push(format!("{} = {o}", p.t.get("campaign-organization")));
    }
    if let Some(st) = &seg.deal_stage {
        parts.push(format!("{} = {st}", p.t.get("campaign-deal-stage")));
    }
    if let Some(o) = &seg.owner_id {
        parts.push(format!("{} = {o}", p.t.get("campaign-owner")));
    }
    for (k, v) in &seg.custom {
        parts.push(format!("{k} = {v}"));
    }
    parts.join(" · ")
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowParams {
    #[serde(default)]
    notice: String,
}

async fn show(
    state: &AppState,
    s: &UiSession,
    id: String,
    notice: &str,
    error: String,
) -> Response {
    let p = s.layout("campaigns");
    let c = match state.store.campaign(&id) {
        Ok(Some(c)) => c,
        Ok(None) => return not_found_page(s, "campaigns"),
        Err(e) => return page_error(s, "campaigns", e.into()),
    };
    let report = match state.store.campaign_report(&id) {
        Ok(r) => r,
        Err(e) => return page_error(s, "campaigns", e.into()),
    };
    // The preview matters before sending; afterwards the report tells what happened.
    let preview = if c.status == CampaignStatus::Draft {
        match preview_of(state, id.clone()).await {
            Ok(pv) => Some(pv),
            Err(e) => return page_error(s, "campaigns", e),
        }
    } else {
        None
    };
    let excluded = preview
        .as_ref()
        .map(|pv| reasons(&p, &pv.excluded))
        .unwrap_or_default();
    let refused = reasons(&p, &report.refused);
    let notice = match notice {
        "sent" | "tested" => p.t.get(&format!("campaign-notice-{notice}")).to_string(),
        _ => String::new(),
    };
    let page = ShowPage {
        segment: segment_text(&p, &c.spec.segment),
        status: p.t.get(status_key(c.status)),
        sending: c.status == CampaignStatus::Sending,
        p,
        c,
        preview,
        excluded,
        report,
        refused,
        notice,
        error,
    };
    render(StatusCode::OK, &page)
}

pub async fn campaigns_show_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    ApiQuery(q): ApiQuery<ShowParams>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageCampaigns) {
        return r;
    }
    show(&state, &s, id, &q.notice, String::new()).await
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn auth_of(s: &UiSession) -> Auth {
    Auth {
        user: s.session.user.clone(),
        credential: Credential::Session {
            csrf_token: s.session.csrf_token.clone(),
        },
    }
}

/// The error of a refused action, shown on the campaign's page.
fn message(p: &Layout, e: &AppError) -> String {
    match e {
        AppError::Refused { reason_code, .. } => {
            let l = p.t.get(&format!(
                "campaign-blocked-{}",
                reason_code.replace('_', "-")
            ));
            if l == "??" {
                e.to_string()
            } else {
                l.to_string()
            }
        }
        AppError::Unprocessable(_) => p.t.get("campaign-nobody").to_string(),
        AppError::Unavailable(_) => p.t.get("campaign-no-mail").to_string(),
        AppError::BadGateway(_) => p.t.get("campaign-mail-failed").to_string(),
        other => other.to_string(),
    }
}

/// What a button on a campaign's page does.
#[derive(Clone, Copy)]
enum Action {
    Send,
    Test,
}

async fn act(state: AppState, s: UiSession, id: String, csrf: &str, action: Action) -> Response {
    if let Err(r) = s.require(Permission::ManageCampaigns) {
        return r;
    }
    if let Err(r) = s.check_form(csrf, &state.config.public_url) {
        return r;
    }
    let (done, notice) = match action {
        Action::Send => (
            crate::campaigns::send(&state, actor(&s), id.clone())
                .await
                .map(|_| ()),
            "sent",
        ),
        Action::Test => (
            test_send_of(&state, &auth_of(&s), id.clone()).await,
            "tested",
        ),
    };
    match done {
        Ok(()) => Redirect::to(&format!("/campaigns/{id}?notice={notice}")).into_response(),
        Err(AppError::NotFound(_)) => not_found_page(&s, "campaigns"),
        Err(e) => {
            let msg = message(&s.layout("campaigns"), &e);
            show(&state, &s, id, "", msg).await
        }
    }
}

pub async fn campaigns_send_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<CsrfForm>,
) -> Response {
    act(state, s, id, &f.csrf, Action::Send).await
}

pub async fn campaigns_test_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<CsrfForm>,
) -> Response {
    act(state, s, id, &f.csrf, Action::Test).await
}
