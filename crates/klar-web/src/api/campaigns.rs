//! `/api/v1/campaigns` and `/api/v1/segments`: marketing's segments and email campaigns.
//! The audience is filtered by the policy gate at preview and again, person by person, when
//! the outbox sends (LAW.md B.9). Answers hold counts and ids, never a recipient's data.

use crate::AppState;
use crate::auth::Auth;
use crate::campaigns::{self as svc, Rendered};
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use klar_domain::campaign::{CampaignDraft, CampaignSpec, Recipient, Segment, SegmentDraft};
use klar_domain::role::Permission;
use klar_store::audit::{AuditAction, AuditEntry};
use klar_store::campaigns::{Campaign, CampaignReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// A campaign to create or change (a draft only).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignBody {
    pub name: String,
    /// A direct-marketing purpose that allows email, e.g. `newsletter`.
    pub purpose: String,
    /// `email` (the only channel campaigns use; the default).
    pub channel: Option<String>,
    /// Template: plain text with `{{first_name}}`, `{{last_name}}`, `{{full_name}}`,
    /// `{{organization}}`; no markup.
    pub subject: String,
    pub body: String,
    /// Every criterion given must hold: `tag` or `tags`, `organization_id`, `deal_stage`,
    /// `owner_id`, `custom` (field key → value); or `{"all": true}`.
    #[schema(value_type = Object)]
    pub segment: Option<serde_json::Value>,
    /// `de` (default) or `en`: the language of the footer and of the linked pages.
    pub locale: Option<String>,
    /// The class of goods advertised, for the § 7(3) UWG existing-customer check.
    pub goods_class: Option<String>,
}

impl CampaignBody {
    fn draft(self) -> AppResult<CampaignDraft> {
        let segment = match self.segment {
            None => None,
            Some(v) => Some(serde_json::from_value::<SegmentDraft>(v).map_err(|_| {
                AppError::Invalid(vec![klar_domain::FieldError::new(
                    "segment",
                    "has an unknown criterion; known are tag, tags, organization_id, deal_stage, owner_id, custom and all",
                )])
            })?),
        };
        Ok(CampaignDraft {
            name: self.name,
            purpose: self.purpose,
            channel: self.channel,
            subject: self.subject,
            body: self.body,
            segment,
            locale: self.locale,
            goods_class: self.goods_class,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportOut {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    /// Refused by the gate (or the contract check) when the outbox came to them, by `reason_code`.
    pub refused: BTreeMap<String, i64>,
    pub failed: i64,
    /// Claimed by a process that stopped mid-send; not retried so nobody gets it twice.
    pub interrupted: i64,
    pub unsubscribed: i64,
    /// Mails that carried tracking (only with confirmed `email_tracking` consent).
    pub tracked: i64,
    pub opened: i64,
    pub clicked: i64,
    /// Done so far, of all pairs in the outbox.
    pub done: i64,
    pub total: i64,
}

impl From<CampaignReport> for ReportOut {
    fn from(r: CampaignReport) -> Self {
        Self {
            done: r.done(),
            total: r.total(),
            queued: r.queued,
            sending: r.sending,
            sent: r.sent,
            refused: r.refused,
            failed: r.failed,
            interrupted: r.interrupted,
            unsubscribed: r.unsubscribed,
            tracked: r.tracked,
            opened: r.opened,
            clicked: r.clicked,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignOut {
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub channel: String,
    pub locale: String,
    pub subject: String,
    pub body: String,
    #[schema(value_type = Object)]
    pub segment: SegmentDraft,
    pub goods_class: Option<String>,
    /// `draft`, `sending` or `sent`.
    pub status: String,
    pub created_at: String,
    pub send_started_at: Option<String>,
    pub send_finished_at: Option<String>,
    pub report: ReportOut,
}

fn out(c: &Campaign, r: CampaignReport) -> CampaignOut {
    CampaignOut {
        id: c.id.clone(),
        name: c.spec.name.clone(),
        purpose: c.spec.purpose.clone(),
        channel: c.spec.channel.as_str().into(),
        locale: c.spec.locale.as_str().into(),
        subject: c.spec.subject.clone(),
        body: c.spec.body.clone(),
        segment: c.spec.segment.to_draft(),
        goods_class: c.spec.goods_class.clone(),
        status: c.status.as_str().into(),
        created_at: c.created_at.to_string(),
        send_started_at: c.send_started_at.map(|t| t.to_string()),
        send_finished_at: c.send_finished_at.map(|t| t.to_string()),
        report: r.into(),
    }
}

fn load(state: &AppState, id: &str) -> AppResult<Campaign> {
    state
        .store
        .campaign(id)?
        .ok_or_else(|| AppError::NotFound("no campaign with this id".into()))
}

/// Creates a campaign (draft). Templates with unknown placeholders or markup are refused.
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = CampaignBody,
    responses((status = 201, body = CampaignOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_campaign(
    State(state): State<AppState>,
    auth: Auth,
    body: ApiJson<CampaignBody>,
) -> AppResult<(StatusCode, Json<CampaignOut>)> {
    auth.require(Permission::ManageCampaigns)?;
    let draft = body.value.draft()?;
    let spec = CampaignSpec::parse(&draft, &state.store.purposes()?)?;
    let actor = auth.actor();
    let c = state
        .blocking(move |s| Ok(s.create_campaign(actor, &spec)?))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(out(&c, CampaignReport::default())),
    ))
}

/// The campaigns, newest first.
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns",
    responses((status = 200, body = Vec<CampaignOut>), (status = 403, body = Problem)))]
pub async fn list_campaigns(
    State(state): State<AppState>,
    auth: Auth,
) -> AppResult<Json<Vec<CampaignOut>>> {
    auth.require(Permission::ManageCampaigns)?;
    let v = state
        .blocking(|s| {
            s.campaigns()?
                .into_iter()
                .map(|c| {
                    let r = s.campaign_report(&c.id)?;
                    Ok(out(&c, r))
                })
                .collect::<AppResult<Vec<_>>>()
        })
        .await?;
    Ok(Json(v))
}

/// One campaign with its report (progress while sending).
#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, body = CampaignOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_campaign(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<CampaignOut>> {
    auth.require(Permission::ManageCampaigns)?;
    let c = load(&state, &id)?;
    let r = state.store.campaign_report(&id)?;
    Ok(Json(out(&c, r)))
}

/// Changes a campaign that has not been sent.
#[utoipa::path(patch, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = String, Path)), request_body = CampaignBody,
    responses((status = 200, body = CampaignOut), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_campaign(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<CampaignBody>,
) -> AppResult<Json<CampaignOut>> {
    auth.require(Permission::ManageCampaigns)?;
    load(&state, &id)?;
    let draft = body.value.draft()?;
    let spec = CampaignSpec::parse(&draft, &state.store.purposes()?)?;
    let actor = auth.actor();
    let c = state
        .blocking(move |s| Ok(s.update_campaign(actor, &id, &spec)?))
        .await?;
    Ok(Json(out(&c, CampaignReport::default())))
}

/// Why a send would be refused now (the same checks the send makes).
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockOut {
    pub reason_code: String,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    /// Persons in the segment now.
    pub segment_size: i64,
    /// Persons the gate allows now (and who have an email address).
    pub eligible: i64,
    /// The others, by `reason_code` of the gate (`no_email_address` when there is no address).
    pub excluded: BTreeMap<String, i64>,
    /// Set when a send would be refused as a whole (`no_contract_on_file`, `content_missing_sender`, …).
    pub blocked: Option<BlockOut>,
    /// The mail rendered for a fictional person.
    pub sample: Rendered,
}

/// The outcome of a send, computed now, without sending anything.
pub async fn preview_of(state: &AppState, id: String) -> AppResult<PreviewOut> {
    let config = state.config.consent_config();
    let st = state.clone();
    state
        .blocking(move |s| {
            let c = s
                .campaign(&id)?
                .ok_or_else(|| AppError::NotFound("no campaign with this id".into()))?;
            let a = svc::audience(s, &c, &config)?;
            let sender = svc::sender(s)?;
            let blocked = svc::check_sender(&sender)
                .and_then(|_| svc::mail_processor(s, &c.spec.purpose).map(|_| ()))
                .err()
                .map(|e| match e {
                    AppError::Refused {
                        reason_code,
                        detail,
                    } => Ok(BlockOut {
                        reason_code,
                        detail,
                    }),
                    other => Err(other),
                })
                .transpose()?;
            let reply = svc::reply_address(&st, &sender);
            let sample = svc::render(
                &c,
                &Recipient::sample(),
                &sender,
                &svc::sample_links(&st, &reply),
                false,
            )?;
            Ok(PreviewOut {
                segment_size: a.segment_size,
                eligible: a.eligible.len() as i64,
                excluded: a.excluded,
                blocked,
                sample,
            })
        })
        .await
}

/// Preview: how many the gate allows now, how many it excludes and why, and a sample.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/preview", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, body = PreviewOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn preview_campaign(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<PreviewOut>> {
    auth.require(Permission::ManageCampaigns)?;
    Ok(Json(preview_of(&state, id).await?))
}

/// Sends the sample to the marketer's own address (no customer data; no processor check).
pub async fn test_send_of(state: &AppState, auth: &Auth, id: String) -> AppResult<()> {
    let mailer = state.mailer.clone().ok_or_else(|| {
        AppError::Unavailable("sending mail is not configured (KLAR_SMTP_URL)".into())
    })?;
    let c = load(state, &id)?;
    let sender = svc::sender(&state.store)?;
    let reply = svc::reply_address(state, &sender);
    let r = svc::render(
        &c,
        &Recipient::sample(),
        &sender,
        &svc::sample_links(state, &reply),
        false,
    )?;
    let mail = crate::mail::OutgoingMail {
        to: auth.user.email.clone(),
        from_name: Some(sender.name.clone()).filter(|n| !n.is_empty()),
        subject: format!("[Test] {}", r.subject),
        text: r.text,
        html: r.html,
        list_unsubscribe: None,
        message_id: None,
    };
    mailer
        .send_mail(&mail)
        .await
        .map_err(|_| AppError::BadGateway("the mail server did not take the test mail".into()))?;
    state.store.audit(
        AuditEntry::new(auth.actor(), AuditAction::CampaignTestSend).object("campaign", &id),
    );
    Ok(())
}

/// Sends the rendered sample to the marketer himself.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/test", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn test_campaign(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<StatusCode> {
    auth.require(Permission::ManageCampaigns)?;
    test_send_of(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends: queues every lawful recipient once (a second call queues only persons new to
/// the segment). Refused with `403` and `no_contract_on_file` without a processor contract
/// for the mail route, `content_missing_sender` without a sender identity; `422` when
/// nobody in the segment may receive it.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/send", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 202, body = ReportOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn send_campaign(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<(StatusCode, Json<ReportOut>)> {
    auth.require(Permission::ManageCampaigns)?;
    load(&state, &id)?;
    let r = svc::send(&state, auth.actor(), id).await?;
    Ok((StatusCode::ACCEPTED, Json(r.into())))
}

/// The report: sent, refused by reason, failed, unsubscribed, consented opens and clicks.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/report", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, body = ReportOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn campaign_report(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
) -> AppResult<Json<ReportOut>> {
    auth.require(Permission::ManageCampaigns)?;
    load(&state, &id)?;
    Ok(Json(state.store.campaign_report(&id)?.into()))
}

/// A segment in a query string (one custom field at most).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SegmentQuery {
    pub tag: Option<String>,
    pub organization_id: Option<String>,
    pub deal_stage: Option<String>,
    pub owner_id: Option<String>,
    /// A person custom field key, with `custom_value`.
    pub custom_key: Option<String>,
    pub custom_value: Option<String>,
    pub all: Option<bool>,
}

impl SegmentQuery {
    pub fn draft(&self) -> SegmentDraft {
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let mut custom = BTreeMap::new();
        if let (Some(k), Some(v)) = (nonempty(&self.custom_key), nonempty(&self.custom_value)) {
            custom.insert(k, serde_json::Value::String(v));
        }
        SegmentDraft {
            tag: nonempty(&self.tag),
            tags: Vec::new(),
            organization_id: nonempty(&self.organization_id),
            deal_stage: nonempty(&self.deal_stage),
            owner_id: nonempty(&self.owner_id),
            custom,
            all: self.all.unwrap_or(false),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountOut {
    pub count: i64,
}

/// The live count of a segment.
#[utoipa::path(get, path = "/api/v1/segments/count", tag = "campaigns", params(SegmentQuery),
    responses((status = 200, body = CountOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn segment_count(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<SegmentQuery>,
) -> AppResult<Json<CountOut>> {
    auth.require(Permission::ManageCampaigns)?;
    let seg = Segment::parse(&q.draft())?;
    let count = state.blocking(move |s| Ok(s.segment_count(&seg)?)).await?;
    Ok(Json(CountOut { count }))
}
