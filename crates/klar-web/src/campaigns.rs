//! Campaigns between the API/UI and the store: the checks before a send (sender identity,
//! a processor contract for the mail route), the preview through the policy gate, the
//! rendering of one mail with the footer no template can remove, and the outbox worker
//! that sends each (campaign, person) pair at most once.

use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::mail::{OutgoingMail, SendFailure};
use klar_domain::campaign::{FooterLinks, Recipient, Sender, Template, footer_html, footer_text};
use klar_domain::ids::PersonId;
use klar_domain::policy::{
    Channel, ConsentConfig, Decision, LegalBasis, Purpose, consent_state, decide_with,
};
use klar_store::campaigns::{Campaign, CampaignReport, OutboxItem, Prepared, Settle};
use klar_store::facts::Subject;
use klar_store::processors::Processor;
use klar_store::{Actor, Store};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The purpose whose confirmed consent allows open and click tracking (§25 TDDDG).
pub const TRACKING_PURPOSE: &str = "email_tracking";

/// What a preference link in a mail stays valid for.
pub const PREFERENCE_LINK_DAYS: i64 = 90;

/// The data categories a campaign mail hands to the mail route's processor.
const MAIL_CATEGORIES: [&str; 1] = ["contact"];

/// Reason code for persons without an email address (not a gate refusal: nothing to send to).
pub const NO_ADDRESS: &str = "no_email_address";

/// How sending behaves (`klar serve` flags).
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// Mails per second at most (`KLAR_MAIL_RATE`).
    pub rate_per_second: u32,
    /// Attempts before a temporary failure becomes final.
    pub max_attempts: i64,
    /// Wait before the second attempt; doubled for each further one, at most an hour.
    pub first_retry: Duration,
    /// Mails in flight at once; `0` chooses from the rate (see [`OutboxConfig::in_flight`]).
    pub concurrency: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            rate_per_second: 50,
            max_attempts: 5,
            first_retry: Duration::from_secs(60),
            concurrency: 0,
        }
    }
}

impl OutboxConfig {
    /// How many mails are sent at once. An SMTP transaction takes tens of milliseconds (on
    /// loopback mostly the server's delayed ACK of the message's last line), so the rate is
    /// reached with about one connection per 20 mails per second; at least 2, at most 32
    /// (the mail route's connection pool).
    pub fn in_flight(&self) -> usize {
        if self.concurrency > 0 {
            return self.concurrency.min(crate::mail::MAX_CONNECTIONS as usize);
        }
        (self.rate_per_second as usize)
            .div_ceil(20)
            .clamp(2, crate::mail::MAX_CONNECTIONS as usize)
    }

    /// How many rows one claim takes: the mails in flight, or a tenth of a second's worth
    /// at fast rates, at most 50. A stop can leave at most this many `interrupted`.
    pub fn claim(&self) -> usize {
        (self.rate_per_second as usize / 10).clamp(self.in_flight(), 50)
    }
}

/// The sender identity of the installation (LAW.md table 2e).
pub fn sender(store: &Store) -> AppResult<Sender> {
    let i = store.installation()?;
    Ok(Sender {
        name: i.controller.name,
        address: i.controller.address,
        email: i.controller.email,
        imprint: i.imprint,
    })
}

/// Table 2e, row 1: without a sender identity no advertising leaves Klar.
pub fn check_sender(s: &Sender) -> AppResult<()> {
    if s.is_complete() {
        Ok(())
    } else {
        Err(AppError::Refused {
            reason_code: "content_missing_sender".into(),
            detail: "the installation names no controller (name and postal address); every advertising mail must name its sender (§ 7(2) Nr. 3 UWG, § 5 DDG). The administrator enters them under Settings → Installation".into(),
        })
    }
}

/// B.9 step 10: the mail route's processor must have a contract on file that covers the
/// purpose, and outside the EU/EEA a transfer mechanism.
pub fn mail_processor(store: &Store, purpose: &str) -> AppResult<Processor> {
    let all = store.processors()?;
    let route: Vec<&Processor> = all
        .iter()
        .filter(|p| p.spec.services.iter().any(|s| s == "email_delivery"))
        .collect();
    let covering = route.iter().find(|p| {
        p.spec.contract_signed_at.is_some() && p.spec.purposes.iter().any(|k| k == purpose)
    });
    match covering {
        Some(p)
            if klar_domain::processor::in_eea(&p.spec.country)
                || p.spec.transfer_mechanism != klar_domain::processor::TransferMechanism::None =>
        {
            Ok((*p).clone())
        }
        Some(_) => Err(AppError::Refused {
            reason_code: "no_transfer_mechanism".into(),
            detail: "the processor behind the mail route works outside the EU/EEA without a transfer mechanism (Art. 44–49) in the register".into(),
        }),
        None => Err(AppError::Refused {
            reason_code: "no_contract_on_file".into(),
            detail: if route.is_empty() {
                "no processor with the service email_delivery is in the register; the privacy officer enters the mail provider with its contract (Art. 28) first".into()
            } else {
                "the processor behind the mail route has no contract on file that covers this campaign's purpose (Art. 28(3)); the privacy officer records it in the register".into()
            },
        }),
    }
}

/// One decision per subject of the segment, at `at`.
pub fn decisions(
    store: &Store,
    campaign: &Campaign,
    subjects: &[Subject],
    config: &ConsentConfig,
    purposes: &[Purpose],
) -> AppResult<Vec<Decision>> {
    let at = store.now();
    let facts = store.privacy_facts_many(subjects, campaign.spec.goods_class.as_deref())?;
    Ok(facts
        .iter()
        .map(|f| {
            decide_with(
                config,
                f,
                purposes,
                &campaign.spec.purpose,
                campaign.spec.channel,
                at,
            )
        })
        .collect())
}

/// Who of a segment may get the campaign now, and why the others may not.
#[derive(Debug, Clone, Default)]
pub struct Audience {
    pub segment_size: i64,
    pub eligible: Vec<PersonId>,
    pub excluded: BTreeMap<String, i64>,
    pub refused: Vec<(PersonId, String)>,
}

pub fn audience(store: &Store, campaign: &Campaign, config: &ConsentConfig) -> AppResult<Audience> {
    let subjects = store.segment_subjects(&campaign.spec.segment)?;
    let purposes = store.purposes()?;
    let ds = decisions(store, campaign, &subjects, config, &purposes)?;
    let ids: Vec<PersonId> = subjects.iter().map(|s| s.id).collect();
    let with_email = store.persons_with_email(&ids)?;
    let mut a = Audience {
        segment_size: subjects.len() as i64,
        ..Audience::default()
    };
    for (s, d) in subjects.iter().zip(ds) {
        let code = if !d.allowed {
            Some(d.reason_code.as_str().to_owned())
        } else if !with_email.contains(&s.id) {
            Some(NO_ADDRESS.to_owned())
        } else {
            None
        };
        match code {
            None => a.eligible.push(s.id),
            Some(c) => {
                *a.excluded.entry(c.clone()).or_default() += 1;
                a.refused.push((s.id, c));
            }
        }
    }
    Ok(a)
}

/// A mail as it will look: subject, text and HTML.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The links of one mail.
pub struct MailLinks {
    pub footer: FooterLinks,
    /// `Some(base)` when tracking is on: the open pixel is `base/o.gif`, link `n` is `base/c/n`.
    pub tracking_base: Option<String>,
}

/// Renders the campaign for `r`. The footer is appended after the template, so no template
/// can remove it; links in the template are plain unless tracking is on.
pub fn render(
    campaign: &Campaign,
    r: &Recipient,
    sender: &Sender,
    links: &MailLinks,
    existing_customer: bool,
) -> AppResult<Rendered> {
    let bad = |_| AppError::Internal("a stored template no longer parses".into());
    let subject = Template::parse(&campaign.spec.subject).map_err(bad)?;
    let body = Template::parse(&campaign.spec.body).map_err(bad)?;
    let l = campaign.spec.locale;
    let mut text = body.render_text(r);
    text.push_str(&footer_text(l, sender, &links.footer, existing_customer));
    let tracking = links.tracking_base.clone();
    let mut html =
        String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n");
    html.push_str(&body.render_html(r, &|n, url| match &tracking {
        Some(base) => format!("{base}/c/{n}"),
        None => url.to_owned(),
    }));
    html.push_str(&footer_html(l, sender, &links.footer, existing_customer));
    if let Some(base) = &links.tracking_base {
        html.push_str(&format!(
            "<img src=\"{base}/o.gif\" width=\"1\" height=\"1\" alt=\"\">\n"
        ));
    }
    html.push_str("</body></html>\n");
    Ok(Rendered {
        subject: subject.render_text(r).replace(['\r', '\n'], " "),
        text,
        html,
    })
}

/// The footer links of a sample (preview, test send): they lead nowhere.
pub fn sample_links(state: &AppState, reply: &str) -> MailLinks {
    let base = &state.config.public_url;
    MailLinks {
        footer: FooterLinks {
            unsubscribe_url: format!("{base}/u/beispiel"),
            preferences_url: format!("{base}/p/beispiel"),
            reply_address: reply.to_owned(),
        },
        tracking_base: None,
    }
}

/// Where replies that stop mails go: the controller's address, else the sender address.
pub fn reply_address(state: &AppState, sender: &Sender) -> String {
    if !sender.email.trim().is_empty() {
        sender.email.trim().to_owned()
    } else {
        state
            .mailer
            .as_ref()
            .map(|m| m.from_address())
            .unwrap_or_default()
    }
}

/// Queues the lawful recipients of a campaign (and records the refused ones for the
/// report). Checks, in order: mail configured, sender identity, processor contract,
/// somebody in the segment, somebody allowed.
pub async fn send(state: &AppState, actor: Actor, id: String) -> AppResult<CampaignReport> {
    if state.mailer.is_none() {
        return Err(AppError::Unavailable(
            "sending mail is not configured (KLAR_SMTP_URL)".into(),
        ));
    }
    let config = state.config.consent_config();
    let report = state
        .blocking(move |s| {
            let c = s
                .campaign(&id)?
                .ok_or_else(|| AppError::NotFound("no such campaign".into()))?;
            check_sender(&sender(s)?)?;
            mail_processor(s, &c.spec.purpose)?;
            let a = audience(s, &c, &config)?;
            if a.segment_size == 0 {
                return Err(AppError::Unprocessable(
                    "the segment holds nobody; nothing was sent".into(),
                ));
            }
            if a.eligible.is_empty() {
                return Err(AppError::Unprocessable(format!(
                    "nobody in the segment may receive this campaign ({}); nothing was sent",
                    a.excluded
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            s.enqueue_campaign(actor, &id, &a.eligible, &a.refused)?;
            Ok(s.campaign_report(&id)?)
        })
        .await?;
    state.outbox.notify_one();
    Ok(report)
}

/// The outbox worker of `klar serve`: claims due rows, asks the gate again for each
/// person, renders and sends, and records the result. Runs until the process ends.
pub async fn run_outbox(state: AppState, cfg: OutboxConfig) {
    match state.blocking(|s| Ok(s.interrupt_orphaned_outbox()?)).await {
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "outbox: could not recover interrupted rows"),
    }
    let pace = Duration::from_secs_f64(1.0 / f64::from(cfg.rate_per_second.max(1)));
    let mut next_slot = tokio::time::Instant::now();
    loop {
        // Claimed rows wait as `sending` until their mail is out; a stop in between makes
        // them `interrupted`. Small batches keep that window to a few mails, while a fast
        // rate still gets enough rows per transaction.
        let batch = cfg.claim();
        let items = match state.blocking(move |s| Ok(s.claim_outbox(batch)?)).await {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "outbox: claim failed");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if items.is_empty() {
            let wait = match state.blocking(|s| Ok(s.next_outbox_due()?)).await {
                Ok(Some(due)) => {
                    let ms =
                        (due.as_millisecond() - state.store.now().as_millisecond()).clamp(10, 1000);
                    Duration::from_millis(ms as u64)
                }
                _ => Duration::from_secs(1),
            };
            tokio::select! {
                _ = state.outbox.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        if let Err(e) = process(&state, &cfg, items, pace, &mut next_slot).await {
            tracing::error!(error = %e, "outbox: a batch failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// A claimed row with how it ended.
type Settled = (OutboxItem, Settle);

struct Job {
    item: OutboxItem,
    mail: OutgoingMail,
    tracked: bool,
}

async fn process(
    state: &AppState,
    cfg: &OutboxConfig,
    items: Vec<OutboxItem>,
    pace: Duration,
    next_slot: &mut tokio::time::Instant,
) -> AppResult<()> {
    let Some(mailer) = state.mailer.clone() else {
        // Without a mail route nothing can go; put the rows back for later.
        let retry = state.store.now() + jiff::SignedDuration::from_secs(60);
        let results: Vec<(OutboxItem, Settle)> = items
            .into_iter()
            .map(|i| (i, Settle::Retry(retry)))
            .collect();
        state
            .blocking(move |s| Ok(s.settle_outbox(&results)?))
            .await?;
        return Ok(());
    };
    let config = state.config.consent_config();
    let base = state.config.public_url.clone();
    let host = url::Url::parse(&base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "klar.invalid".into());
    let from_addr = mailer.from_address();
    let started = std::time::Instant::now();
    let claimed = items.len();
    let (jobs, mut settled) = state
        .blocking(move |s| prepare(s, items, &config, &base, &host, &from_addr))
        .await?;
    let prepared = started.elapsed();
    // Send, paced and bounded.
    let sem = Arc::new(tokio::sync::Semaphore::new(cfg.in_flight()));
    let mut tasks = tokio::task::JoinSet::new();
    for job in jobs {
        let now = tokio::time::Instant::now();
        if *next_slot > now {
            tokio::time::sleep_until(*next_slot).await;
        }
        *next_slot = (*next_slot).max(now) + pace;
        let permit = sem.clone().acquire_owned().await;
        let mailer = mailer.clone();
        tasks.spawn(async move {
            let r = mailer.send_mail(&job.mail).await;
            drop(permit);
            (job.item, job.tracked, r)
        });
    }
    let now = state.store.now();
    while let Some(done) = tasks.join_next().await {
        let Ok((item, tracked, r)) = done else {
            continue;
        };
        let s = match r {
            Ok(()) => Settle::Sent { tracked },
            Err(SendFailure::Permanent) => Settle::Failed("permanent_failure".into()),
            Err(SendFailure::Temporary) if item.attempts >= cfg.max_attempts => {
                Settle::Failed("temporary_failure_final".into())
            }
            Err(SendFailure::Temporary) => {
                let factor = 1u32 << (item.attempts.clamp(1, 7) - 1) as u32;
                let wait = (cfg.first_retry * factor).min(Duration::from_secs(3600));
                Settle::Retry(now + jiff::SignedDuration::try_from(wait).unwrap_or_default())
            }
        };
        settled.push((item, s));
    }
    let sent = started.elapsed();
    state
        .blocking(move |s| Ok(s.settle_outbox(&settled)?))
        .await?;
    tracing::debug!(
        claimed,
        prepare_ms = prepared.as_millis() as u64,
        send_ms = (sent - prepared).as_millis() as u64,
        settle_ms = (started.elapsed() - sent).as_millis() as u64,
        "outbox batch"
    );
    Ok(())
}

/// For each claimed row: the gate again, then tokens, disclosure log and the rendered mail.
fn prepare(
    s: &Store,
    items: Vec<OutboxItem>,
    config: &ConsentConfig,
    base: &str,
    host: &str,
    from_addr: &str,
) -> AppResult<(Vec<Job>, Vec<Settled>)> {
    let mut settled = Vec::new();
    let purposes = s.purposes()?;
    let snd = sender(s)?;
    let reply = if snd.email.trim().is_empty() {
        from_addr.to_owned()
    } else {
        snd.email.trim().to_owned()
    };
    // What every mail of a campaign shares, checked once per batch: the campaign, the sender
    // identity, and the processor contract of the mail route.
    let mut routes: HashMap<String, Result<(Campaign, Processor), Settle>> = HashMap::new();
    let mut ready = Vec::new();
    for item in items {
        if !routes.contains_key(&item.campaign_id) {
            let route = match s.campaign(&item.campaign_id)? {
                None => Err(Settle::Failed("campaign_missing".into())),
                Some(_) if check_sender(&snd).is_err() => {
                    Err(Settle::Refused("content_missing_sender".into()))
                }
                Some(c) => match mail_processor(s, &c.spec.purpose) {
                    Ok(p) => Ok((c, p)),
                    Err(AppError::Refused { reason_code, .. }) => Err(Settle::Refused(reason_code)),
                    Err(e) => return Err(e),
                },
            };
            routes.insert(item.campaign_id.clone(), route);
        }
        let (c, processor) = match routes.get(&item.campaign_id) {
            Some(Ok((c, p))) => (c.clone(), p.clone()),
            Some(Err(refusal)) => {
                settled.push((item, refusal.clone()));
                continue;
            }
            None => return Err(AppError::Internal("route missing".into())),
        };
        let person = match s.get_person(item.person_id) {
            Ok(p) => p,
            Err(klar_store::StoreError::NotFound | klar_store::StoreError::Erased) => {
                settled.push((item, Settle::Refused("erased".into())));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        ready.push((item, c, processor, person));
    }
    // The gate, asked again now, for the whole batch at once.
    let subjects: Vec<Subject> = ready
        .iter()
        .map(|(_, _, _, p)| Subject {
            id: p.id,
            kind: p.kind,
            organization_id: p.organization_id,
        })
        .collect();
    // One bulk read per goods class (a batch is mostly one campaign, so one class).
    let mut facts: Vec<Option<klar_domain::policy::PersonFacts>> = vec![None; ready.len()];
    let mut classes: Vec<Option<String>> = ready
        .iter()
        .map(|(_, c, _, _)| c.spec.goods_class.clone())
        .collect();
    classes.sort();
    classes.dedup();
    for class in classes {
        let idx: Vec<usize> = (0..ready.len())
            .filter(|&i| ready[i].1.spec.goods_class == class)
            .collect();
        let subs: Vec<Subject> = idx.iter().map(|&i| subjects[i].clone()).collect();
        for (i, f) in idx
            .into_iter()
            .zip(s.privacy_facts_many(&subs, class.as_deref())?)
        {
            facts[i] = Some(f);
        }
    }
    let at = s.now();
    let mut to_send = Vec::new();
    let mut prepared = Vec::new();
    for ((item, c, processor, person), f) in ready.into_iter().zip(facts) {
        let Some(f) = f else {
            return Err(AppError::Internal("facts missing".into()));
        };
        let d = decide_with(config, &f, &purposes, &c.spec.purpose, Channel::Email, at);
        s.audit(klar_store::audit::AuditEntry::decision(
            Actor::system(),
            person.id,
            &c.spec.purpose,
            Channel::Email,
            &d,
        ));
        if !d.allowed {
            settled.push((item, Settle::Refused(d.reason_code.as_str().into())));
            continue;
        }
        let Some(to) = person
            .personal
            .primary_email()
            .map(|e| e.as_str().to_owned())
        else {
            settled.push((item, Settle::Refused(NO_ADDRESS.into())));
            continue;
        };
        let tracking =
            decide_with(config, &f, &purposes, TRACKING_PURPOSE, Channel::Email, at).allowed;
        let existing_customer =
            !consent_state(&f.consents, &c.spec.purpose, Channel::Email, at, config).is_given();
        prepared.push(Prepared {
            campaign_id: item.campaign_id.clone(),
            person_id: person.id,
            purpose: c.spec.purpose.clone(),
            tracking,
            processor_id: processor.id.clone(),
            legal_basis: d.legal_basis.unwrap_or(LegalBasis::Consent),
            data_categories: MAIL_CATEGORIES.iter().map(|x| (*x).to_owned()).collect(),
        });
        to_send.push((item, c, person, to, tracking, existing_customer));
    }
    let tokens = s.prepare_mails(
        &prepared,
        jiff::SignedDuration::from_hours(24 * PREFERENCE_LINK_DAYS),
    )?;
    let org_ids: Vec<klar_domain::ids::OrganizationId> = to_send
        .iter()
        .filter_map(|(_, _, p, _, _, _)| p.organization_id)
        .collect();
    let organizations: HashMap<klar_domain::ids::OrganizationId, String> = s
        .organizations_by_ids(&org_ids)?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let mut jobs = Vec::with_capacity(to_send.len());
    for ((item, c, person, to, tracking, existing_customer), t) in to_send.into_iter().zip(tokens) {
        let organization = person
            .organization_id
            .and_then(|o| organizations.get(&o).cloned())
            .unwrap_or_default();
        let r = Recipient {
            first_name: person.personal.first_name.clone(),
            last_name: person.personal.last_name.clone(),
            organization,
        };
        let unsubscribe_url = format!("{base}/u/{}", t.unsubscribe);
        let links = MailLinks {
            footer: FooterLinks {
                unsubscribe_url: unsubscribe_url.clone(),
                preferences_url: format!("{base}/p/{}", t.preferences),
                reply_address: reply.clone(),
            },
            tracking_base: t.tracking.as_ref().map(|tok| format!("{base}/t/{tok}")),
        };
        let rendered = render(&c, &r, &snd, &links, existing_customer)?;
        jobs.push(Job {
            mail: OutgoingMail {
                to,
                from_name: Some(snd.name.clone()),
                subject: rendered.subject,
                text: rendered.text,
                html: rendered.html,
                list_unsubscribe: Some(format!(
                    "<{unsubscribe_url}>, <mailto:{reply}?subject=unsubscribe>"
                )),
                message_id: Some(format!("<{}.{}@{host}>", item.campaign_id, item.person_id)),
            },
            item,
            tracked: tracking,
        });
    }
    Ok((jobs, settled))
}
