//! Campaigns, their segment, the durable outbox and the tokens of their mails.
//!
//! The outbox has one row per (campaign, person) with the pair as primary key, so a pair
//! can be queued only once however often a campaign is sent. A row is claimed (`sending`)
//! and committed before its mail goes to the mail server, and settled afterwards. A row
//! still `sending` when the worker starts again belonged to a process that died between
//! the two; it becomes `interrupted` and is not sent again: at most once (decision 0014).

use crate::audit::{AuditAction, AuditEntry};
use crate::db::{Row, Val};
use crate::error::{Result, StoreError};
use crate::facts::Subject;
use crate::{Actor, Store, from_ms, ms};
use klar_domain::campaign::{CampaignSpec, Locale, Segment};
use klar_domain::ids::PersonId;
use klar_domain::policy::{Channel, ConsentEvent, ConsentEventKind, ConsentSource, ObjectionScope};
use klar_domain::records::PersonKind;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    Sending,
    Sent,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Sending => "sending",
            Self::Sent => "sent",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "draft" => Ok(Self::Draft),
            "sending" => Ok(Self::Sending),
            "sent" => Ok(Self::Sent),
            _ => Err(StoreError::Corrupt("campaign status".into())),
        }
    }
}

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: String,
    pub spec: CampaignSpec,
    pub status: CampaignStatus,
    pub created_at: jiff::Timestamp,
    pub created_by: Option<String>,
    pub updated_at: jiff::Timestamp,
    pub send_started_at: Option<jiff::Timestamp>,
    pub send_finished_at: Option<jiff::Timestamp>,
}

/// One claimed outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub campaign_id: String,
    pub person_id: PersonId,
    /// Attempts including this one.
    pub attempts: i64,
}

/// How one claimed row ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    Sent {
        tracked: bool,
    },
    /// The gate (or the contract check) refused it at send time: final.
    Refused(String),
    /// A temporary failure: try again at this time.
    Retry(jiff::Timestamp),
    /// A permanent failure, or the last attempt failed.
    Failed(String),
}

/// The report of a campaign: counts only, no person.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CampaignReport {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    /// Refused at send time, by `reason_code`.
    pub refused: BTreeMap<String, i64>,
    pub failed: i64,
    /// Claimed by a process that stopped before it could record the result; not retried,
    /// so that nobody gets the mail twice.
    pub interrupted: i64,
    /// Recipients who unsubscribed through this campaign's link.
    pub unsubscribed: i64,
    /// Mails sent with tracking (the person's `email_tracking` consent was confirmed).
    pub tracked: i64,
    /// Distinct recipients who opened or clicked, counted only from tracked mails.
    pub opened: i64,
    pub clicked: i64,
}

impl CampaignReport {
    pub fn total(&self) -> i64 {
        self.queued
            + self.sending
            + self.sent
            + self.refused.values().sum::<i64>()
            + self.failed
            + self.interrupted
    }

    pub fn done(&self) -> i64 {
        self.total() - self.queued - self.sending
    }
}

/// The kinds of token a mail carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Unsubscribe,
    Preferences,
    Tracking,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Unsubscribe => "unsubscribe",
            Self::Preferences => "preferences",
            Self::Tracking => "tracking",
        }
    }
}

/// The tokens of one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTokens {
    pub unsubscribe: String,
    pub preferences: String,
    pub tracking: Option<String>,
}

/// What a one-click unsubscribe did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsubscribed {
    /// A consent was withdrawn (source `one_click`).
    Withdrawn,
    /// No consent to withdraw (e.g. the §7(3) UWG exception): recorded as an objection to
    /// the purpose.
    Objected,
    /// The token was used before; nothing changed.
    AlreadyDone,
}

/// A mail prepared for sending: tokens made and the disclosure logged, in one transaction.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub campaign_id: String,
    pub person_id: PersonId,
    pub purpose: String,
    pub tracking: bool,
    /// The recipient (the email-delivery processor) the data goes to, for the log.
    pub processor_id: String,
    pub legal_basis: klar_domain::policy::LegalBasis,
    pub data_categories: Vec<String>,
}

const SELECT: &str = "SELECT id, name, purpose, channel, locale, subject, body, segment, goods_class, status, \
     created_at, created_by, updated_at, send_started_at, send_finished_at FROM campaigns";

fn decode(r: &Row) -> Result<Campaign> {
    let bad = |w: &str| StoreError::Corrupt(format!("campaign {w}"));
    let segment: Segment =
        serde_json::from_str(&r.get::<String>(7)?).map_err(|_| bad("segment"))?;
    Ok(Campaign {
        id: r.get(0)?,
        spec: CampaignSpec {
            name: r.get(1)?,
            purpose: r.get(2)?,
            channel: Channel::parse(&r.get::<String>(3)?).map_err(|_| bad("channel"))?,
            locale: Locale::parse(&r.get::<String>(4)?).map_err(|_| bad("locale"))?,
            subject: r.get(5)?,
            body: r.get(6)?,
            segment,
            goods_class: r.get(8)?,
        },
        status: CampaignStatus::parse(&r.get::<String>(9)?)?,
        created_at: from_ms(r.get(10)?)?,
        created_by: r.get(11)?,
        updated_at: from_ms(r.get(12)?)?,
        send_started_at: r.get::<Option<i64>>(13)?.map(from_ms).transpose()?,
        send_finished_at: r.get::<Option<i64>>(14)?.map(from_ms).transpose()?,
    })
}

fn segment_json(s: &Segment) -> Result<String> {
    serde_json::to_string(s).map_err(|_| StoreError::Corrupt("segment".into()))
}

/// The SQL that selects the persons of a segment (without custom fields, which are
/// encrypted and checked after decryption).
fn segment_sql(seg: &Segment, select: &str) -> (String, Vec<Val>) {
    let mut sql = format!("{select} FROM persons p WHERE 1 = 1");
    let mut params: Vec<Val> = Vec::new();
    for t in &seg.tags {
        params.push(crate::persons::tag_norm(t).into());
        sql.push_str(&format!(
            " AND p.id IN (SELECT pt.person_id FROM person_tags pt JOIN tags t ON t.id = pt.tag_id WHERE t.name_norm = ${})",
            params.len()
        ));
    }
    if let Some(o) = &seg.organization_id {
        params.push(o.as_str().into());
        sql.push_str(&format!(" AND p.organization_id = ${}", params.len()));
    }
    if let Some(o) = &seg.owner_id {
        params.push(o.as_str().into());
        sql.push_str(&format!(" AND p.owner_id = ${}", params.len()));
    }
    if let Some(st) = &seg.deal_stage {
        params.push(st.as_str().into());
        sql.push_str(&format!(
            " AND p.id IN (SELECT d.person_id FROM deals d WHERE d.stage = ${} AND d.person_id IS NOT NULL)",
            params.len()
        ));
    }
    (sql, params)
}

fn custom_matches(
    wanted: &BTreeMap<String, serde_json::Value>,
    have: &BTreeMap<String, serde_json::Value>,
) -> bool {
    wanted.iter().all(|(k, v)| {
        have.get(k).is_some_and(|h| match (h, v) {
            (serde_json::Value::String(a), serde_json::Value::String(b)) => {
                a.trim().to_lowercase() == b.trim().to_lowercase()
            }
            (serde_json::Value::Number(a), serde_json::Value::Number(b)) => {
                a.as_f64() == b.as_f64()
            }
            (a, b) => a == b,
        })
    })
}

impl Store {
    pub fn create_campaign(&self, actor: Actor, spec: &CampaignSpec) -> Result<Campaign> {
        let id = self.next_id().to_string();
        let now = ms(self.now());
        let seg = segment_json(&spec.segment)?;
        self.db.write(|c| {
            c.execute(
                "INSERT INTO campaigns (id, name, purpose, channel, locale, subject, body, segment, goods_class, status, \
                 created_at, created_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11)",
                &[
                    id.as_str().into(),
                    spec.name.as_str().into(),
                    spec.purpose.as_str().into(),
                    spec.channel.as_str().into(),
                    spec.locale.as_str().into(),
                    spec.subject.as_str().into(),
                    spec.body.as_str().into(),
                    seg.into(),
                    spec.goods_class.clone().into(),
                    CampaignStatus::Draft.as_str().into(),
                    Val::Int(now),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok(())
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::CampaignCreate)
                .object("campaign", &id)
                .purpose(&spec.purpose),
        );
        self.campaign(&id)?.ok_or(StoreError::NotFound)
    }

    /// Changes a campaign that has not been sent yet.
    pub fn update_campaign(&self, actor: Actor, id: &str, spec: &CampaignSpec) -> Result<Campaign> {
        let now = ms(self.now());
        let seg = segment_json(&spec.segment)?;
        self.db.write(|c| {
            let Some(r) = c.query_opt("SELECT status FROM campaigns WHERE id = $1", &[id.into()])? else {
                return Err(StoreError::NotFound);
            };
            if r.get::<String>(0)? != CampaignStatus::Draft.as_str() {
                return Err(StoreError::Conflict(
                    "the campaign is being sent or was sent; it can no longer be changed".into(),
                ));
            }
            c.execute(
                "UPDATE campaigns SET name = $2, purpose = $3, channel = $4, locale = $5, subject = $6, body = $7, \
                 segment = $8, goods_class = $9, updated_at = $10 WHERE id = $1",
                &[
                    id.into(),
                    spec.name.as_str().into(),
                    spec.purpose.as_str().into(),
                    spec.channel.as_str().into(),
                    spec.locale.as_str().into(),
                    spec.subject.as_str().into(),
                    spec.body.as_str().into(),
                    seg.into(),
                    spec.goods_class.clone().into(),
                    Val::Int(now),
                ],
            )?;
            Ok(())
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::CampaignUpdate)
                .object("campaign", id)
                .purpose(&spec.purpose),
        );
        self.campaign(id)?.ok_or(StoreError::NotFound)
    }

    pub fn campaign(&self, id: &str) -> Result<Option<Campaign>> {
        self.db.read(|c| {
            c.query_opt(&format!("{SELECT} WHERE id = $1"), &[id.into()])?
                .map(|r| decode(&r))
                .transpose()
        })
    }

    /// The newest campaigns first (at most 500).
    pub fn campaigns(&self) -> Result<Vec<Campaign>> {
        self.db.read(|c| {
            c.query(
                &format!("{SELECT} ORDER BY created_at DESC, id DESC LIMIT 500"),
                &[],
            )?
            .iter()
            .map(decode)
            .collect()
        })
    }

    /// The persons of a segment: what the gate needs of each, in id order.
    pub fn segment_subjects(&self, seg: &Segment) -> Result<Vec<Subject>> {
        let (sql, params) = segment_sql(seg, "SELECT p.id, p.kind, p.organization_id");
        let rows = self
            .db
            .read(|c| c.query(&format!("{sql} ORDER BY p.id"), &params))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind = PersonKind::parse(&r.get::<String>(1)?)
                .map_err(|_| StoreError::Corrupt("person kind".into()))?;
            out.push(Subject {
                id: crate::id(r.get::<String>(0)?)?,
                kind,
                organization_id: r.get::<Option<String>>(2)?.map(crate::id).transpose()?,
            });
        }
        if seg.custom.is_empty() {
            return Ok(out);
        }
        // Custom field values are encrypted under each person's key: read and compare.
        let mut kept = Vec::new();
        for s in out {
            let p = self.get_person(s.id)?;
            if custom_matches(&seg.custom, &p.personal.custom) {
                kept.push(s);
            }
        }
        Ok(kept)
    }

    /// How many persons a segment holds now.
    pub fn segment_count(&self, seg: &Segment) -> Result<i64> {
        if !seg.custom.is_empty() {
            return Ok(self.segment_subjects(seg)?.len() as i64);
        }
        let (sql, params) = segment_sql(seg, "SELECT COUNT(*)");
        self.db.read(|c| c.query_one(&sql, &params)?.get(0))
    }

    /// Puts every pair (campaign, person) of `eligible` into the outbox that is not there
    /// yet, and records `refused` pairs with their reason for the report. A pair refused by
    /// an earlier send is queued when it is eligible now; a pair queued, sent, failed or
    /// interrupted is never touched again (at most once). Returns how many were queued.
    pub fn enqueue_campaign(
        &self,
        actor: Actor,
        id: &str,
        eligible: &[PersonId],
        refused: &[(PersonId, String)],
    ) -> Result<u64> {
        let now = ms(self.now());
        let n = self.db.write(|c| {
            if c.query_opt("SELECT id FROM campaigns WHERE id = $1", &[id.into()])?.is_none() {
                return Err(StoreError::NotFound);
            }
            let mut n = 0;
            for pid in eligible {
                n += c.execute(
                    "INSERT INTO campaign_outbox (campaign_id, person_id, status, next_attempt_at) \
                     VALUES ($1, $2, 'queued', $3) ON CONFLICT (campaign_id, person_id) DO UPDATE \
                     SET status = 'queued', reason_code = NULL, next_attempt_at = $3, done_at = NULL \
                     WHERE campaign_outbox.status = 'refused'",
                    &[id.into(), pid.to_string().into(), Val::Int(now)],
                )?;
            }
            for (pid, code) in refused {
                c.execute(
                    "INSERT INTO campaign_outbox (campaign_id, person_id, status, reason_code, next_attempt_at, done_at) \
                     VALUES ($1, $2, 'refused', $3, $4, $4) ON CONFLICT (campaign_id, person_id) DO UPDATE \
                     SET reason_code = $3, done_at = $4 WHERE campaign_outbox.status = 'refused'",
                    &[id.into(), pid.to_string().into(), code.as_str().into(), Val::Int(now)],
                )?;
            }
            c.execute(
                "UPDATE campaigns SET status = $2, send_started_at = COALESCE(send_started_at, $3), \
                 send_finished_at = NULL WHERE id = $1",
                &[id.into(), CampaignStatus::Sending.as_str().into(), Val::Int(now)],
            )?;
            Ok(n)
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::CampaignSend)
                .object("campaign", id)
                .outcome(&format!("queued:{n}")),
        );
        self.finish_campaigns()?;
        Ok(n)
    }

    /// Claims up to `limit` due rows for sending (committed before anything is sent).
    pub fn claim_outbox(&self, limit: usize) -> Result<Vec<OutboxItem>> {
        let now = ms(self.now());
        self.db.write(|c| {
            let rows = c.query(
                "SELECT campaign_id, person_id, attempts FROM campaign_outbox \
                 WHERE status = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at, campaign_id, person_id LIMIT $2",
                &[Val::Int(now), Val::Int(limit as i64)],
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let cid: String = r.get(0)?;
                let pid: String = r.get(1)?;
                c.execute(
                    "UPDATE campaign_outbox SET status = 'sending', claimed_at = $3, attempts = attempts + 1 \
                     WHERE campaign_id = $1 AND person_id = $2 AND status = 'queued'",
                    &[cid.as_str().into(), pid.as_str().into(), Val::Int(now)],
                )?;
                out.push(OutboxItem {
                    campaign_id: cid,
                    person_id: crate::id(pid)?,
                    attempts: r.get::<i64>(2)? + 1,
                });
            }
            Ok(out)
        })
    }

    /// Makes the tokens of each mail and logs each disclosure to the mail route's processor,
    /// in one transaction, before the mails go out.
    pub fn prepare_mails(
        &self,
        items: &[Prepared],
        preference_ttl: jiff::SignedDuration,
    ) -> Result<Vec<MailTokens>> {
        let now = self.now();
        let pref_until = now
            .checked_add(preference_ttl)
            .map_err(|_| StoreError::Corrupt("expiry".into()))?;
        let mut out = Vec::with_capacity(items.len());
        let mut rows = Vec::new();
        for it in items {
            let mut mk = |kind: TokenKind, expires: Option<jiff::Timestamp>| {
                let t = klar_crypto::new_token("", &mut rand::rngs::OsRng);
                rows.push((
                    klar_crypto::hash_token(self.keys.session_secret(), &t),
                    kind,
                    it,
                    expires,
                ));
                t
            };
            let unsubscribe = mk(TokenKind::Unsubscribe, None);
            let preferences = mk(TokenKind::Preferences, Some(pref_until));
            let tracking = it.tracking.then(|| mk(TokenKind::Tracking, None));
            out.push(MailTokens {
                unsubscribe,
                preferences,
                tracking,
            });
        }
        let disclosures: Vec<(String, &Prepared)> = items
            .iter()
            .map(|it| (self.next_id().to_string(), it))
            .collect();
        self.db.write(|c| {
            for (h, kind, it, exp) in &rows {
                c.execute(
                    "INSERT INTO mail_tokens (token_hash, kind, person_id, campaign_id, purpose, channel, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, 'email', $6, $7)",
                    &[
                        Val::Blob(h.clone()),
                        kind.as_str().into(),
                        it.person_id.to_string().into(),
                        it.campaign_id.as_str().into(),
                        it.purpose.as_str().into(),
                        Val::Int(ms(now)),
                        exp.map(ms).into(),
                    ],
                )?;
            }
            for (id, it) in &disclosures {
                let cats = serde_json::to_string(&it.data_categories)
                    .map_err(|_| StoreError::Corrupt("categories".into()))?;
                c.execute(
                    "INSERT INTO disclosures (id, processor_id, person_id, data_categories, purpose, legal_basis, disclosed_at, actor) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
                    &[
                        id.as_str().into(),
                        it.processor_id.as_str().into(),
                        it.person_id.to_string().into(),
                        cats.into(),
                        it.purpose.as_str().into(),
                        it.legal_basis.as_str().into(),
                        Val::Int(ms(now)),
                    ],
                )?;
            }
            Ok(())
        })?;
        for (_, it) in &disclosures {
            self.audit(
                AuditEntry::new(Actor::system(), AuditAction::DisclosureRecord)
                    .person(it.person_id)
                    .object("processor", &it.processor_id)
                    .purpose(&it.purpose),
            );
        }
        Ok(out)
    }

    /// Records how claimed rows ended, and marks campaigns with nothing left as sent.
    pub fn settle_outbox(&self, results: &[(OutboxItem, Settle)]) -> Result<()> {
        let now = ms(self.now());
        self.db.write(|c| {
            for (it, s) in results {
                let (status, reason, next, tracked): (&str, Option<&str>, Option<i64>, bool) = match s {
                    Settle::Sent { tracked } => ("sent", None, None, *tracked),
                    Settle::Refused(code) => ("refused", Some(code.as_str()), None, false),
                    Settle::Retry(at) => ("queued", Some("temporary_failure"), Some(ms(*at)), false),
                    Settle::Failed(code) => ("failed", Some(code.as_str()), None, false),
                };
                c.execute(
                    "UPDATE campaign_outbox SET status = $3, reason_code = $4, \
                     next_attempt_at = COALESCE($5, next_attempt_at), done_at = CASE WHEN $3 = 'queued' THEN NULL ELSE $6 END, \
                     tracked = $7 WHERE campaign_id = $1 AND person_id = $2 AND status = 'sending'",
                    &[
                        it.campaign_id.as_str().into(),
                        it.person_id.to_string().into(),
                        status.into(),
                        reason.into(),
                        next.into(),
                        Val::Int(now),
                        tracked.into(),
                    ],
                )?;
            }
            Ok(())
        })?;
        for (it, s) in results {
            if let Settle::Sent { .. } = s {
                self.audit(
                    AuditEntry::new(Actor::system(), AuditAction::CampaignMailSent)
                        .person(it.person_id)
                        .object("campaign", &it.campaign_id),
                );
            }
        }
        self.finish_campaigns()
    }

    /// Rows left `sending` by a process that stopped: `interrupted`, never sent again.
    /// Called when the (single, on SQLite) outbox worker starts.
    pub fn interrupt_orphaned_outbox(&self) -> Result<u64> {
        let now = ms(self.now());
        let n = self.db.write(|c| {
            c.execute(
                "UPDATE campaign_outbox SET status = 'interrupted', done_at = $1 WHERE status = 'sending'",
                &[Val::Int(now)],
            )
        })?;
        if n > 0 {
            tracing::warn!(
                rows = n,
                "outbox rows interrupted by a stop were not sent again"
            );
            self.finish_campaigns()?;
        }
        Ok(n)
    }

    /// Campaigns that are sending and have nothing queued or in flight become `sent`.
    fn finish_campaigns(&self) -> Result<()> {
        let now = ms(self.now());
        self.db.write(|c| {
            c.execute(
                "UPDATE campaigns SET status = 'sent', send_finished_at = $1 WHERE status = 'sending' \
                 AND NOT EXISTS (SELECT 1 FROM campaign_outbox o WHERE o.campaign_id = campaigns.id \
                 AND o.status IN ('queued', 'sending'))",
                &[Val::Int(now)],
            )
        })?;
        Ok(())
    }

    /// Rows of all campaigns by outbox status (`queued`, `sending`, `sent`, …), for metrics.
    pub fn outbox_counts(&self) -> Result<BTreeMap<String, i64>> {
        self.db.read(|c| {
            c.query(
                "SELECT status, COUNT(*) FROM campaign_outbox GROUP BY status",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect()
        })
    }

    /// When the next queued row is due, if any.
    pub fn next_outbox_due(&self) -> Result<Option<jiff::Timestamp>> {
        self.db.read(|c| {
            c.query_one(
                "SELECT MIN(next_attempt_at) FROM campaign_outbox WHERE status = 'queued'",
                &[],
            )?
            .get::<Option<i64>>(0)?
            .map(from_ms)
            .transpose()
        })
    }

    pub fn campaign_report(&self, id: &str) -> Result<CampaignReport> {
        self.db.read(|c| {
            let mut r = CampaignReport::default();
            for row in c.query(
                "SELECT status, reason_code, COUNT(*), SUM(tracked) FROM campaign_outbox WHERE campaign_id = $1 \
                 GROUP BY status, reason_code",
                &[id.into()],
            )? {
                let status: String = row.get(0)?;
                let n: i64 = row.get(2)?;
                match status.as_str() {
                    "queued" => r.queued += n,
                    "sending" => r.sending += n,
                    "sent" => {
                        r.sent += n;
                        r.tracked += row.get::<Option<i64>>(3)?.unwrap_or(0);
                    }
                    "refused" => {
                        *r.refused
                            .entry(row.get::<Option<String>>(1)?.unwrap_or_default())
                            .or_default() += n
                    }
                    "failed" => r.failed += n,
                    "interrupted" => r.interrupted += n,
                    _ => return Err(StoreError::Corrupt("outbox status".into())),
                }
            }
            r.unsubscribed = c
                .query_one(
                    "SELECT COUNT(*) FROM mail_tokens WHERE campaign_id = $1 AND kind = 'unsubscribe' AND used_at IS NOT NULL",
                    &[id.into()],
                )?
                .get(0)?;
            for (kind, slot) in [("open", &mut r.opened), ("click", &mut r.clicked)] {
                *slot = c
                    .query_one(
                        "SELECT COUNT(DISTINCT person_id) FROM campaign_events WHERE campaign_id = $1 AND kind = $2",
                        &[id.into(), kind.into()],
                    )?
                    .get(0)?;
            }
            Ok(r)
        })
    }

    fn token_row(&self, kind: TokenKind, token: &str) -> Result<Option<TokenRow>> {
        let h = klar_crypto::hash_token(self.keys.session_secret(), token.trim());
        self.db.read(|c| {
            c.query_opt(
                "SELECT person_id, campaign_id, purpose, channel, expires_at, used_at FROM mail_tokens \
                 WHERE token_hash = $1 AND kind = $2",
                &[Val::Blob(h.clone()), kind.as_str().into()],
            )?
            .map(|r| {
                Ok(TokenRow {
                    hash: h.clone(),
                    person_id: crate::id(r.get::<String>(0)?)?,
                    campaign_id: r.get(1)?,
                    purpose: r.get(2)?,
                    channel: r.get(3)?,
                    expires_at: r.get::<Option<i64>>(4)?.map(from_ms).transpose()?,
                    used: r.get::<Option<i64>>(5)?.is_some(),
                })
            })
            .transpose()
        })
    }

    /// Whether `token` is a live unsubscribe token (for the page that shows the button).
    pub fn unsubscribe_token_valid(&self, token: &str) -> Result<bool> {
        Ok(self.token_row(TokenKind::Unsubscribe, token)?.is_some())
    }

    /// The one-click unsubscribe (RFC 8058): withdraws the consent the mail relied on
    /// (source `one_click`), or, where it relied on no consent, records an objection to
    /// the purpose. A used token changes nothing again. `None` for an unknown token.
    pub fn unsubscribe(&self, token: &str) -> Result<Option<Unsubscribed>> {
        let Some(t) = self.token_row(TokenKind::Unsubscribe, token)? else {
            return Ok(None);
        };
        if t.used {
            return Ok(Some(Unsubscribed::AlreadyDone));
        }
        let purpose = t.purpose.clone().unwrap_or_default();
        let channel = t
            .channel
            .as_deref()
            .map(Channel::parse)
            .transpose()
            .map_err(|_| StoreError::Corrupt("token channel".into()))?
            .unwrap_or(Channel::Email);
        let now = self.now();
        // Mark first: two clicks at once record one change.
        let marked = self.db.write(|c| {
            c.execute(
                "UPDATE mail_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
                &[Val::Blob(t.hash.clone()), Val::Int(ms(now))],
            )
        })?;
        if marked == 0 {
            return Ok(Some(Unsubscribed::AlreadyDone));
        }
        let events = self.consent_events(t.person_id)?;
        let has_consent = events
            .iter()
            .rev()
            .find(|e| e.purpose == purpose && e.channel == channel)
            .is_some_and(|e| matches!(e.kind, ConsentEventKind::Grant | ConsentEventKind::Confirm));
        if has_consent {
            let wording = events
                .iter()
                .rev()
                .find(|e| e.purpose == purpose && e.kind == ConsentEventKind::Grant)
                .map(|e| e.wording_version.clone())
                .unwrap_or_default();
            let version = self.current_purpose_version(&purpose)?;
            self.append_consent_event(
                Actor::system(),
                t.person_id,
                version,
                &ConsentEvent {
                    at: now,
                    purpose,
                    channel,
                    kind: ConsentEventKind::Withdraw,
                    source: ConsentSource::OneClick,
                    wording_version: wording,
                    evidence: None,
                },
            )?;
            Ok(Some(Unsubscribed::Withdrawn))
        } else {
            self.record_objection(
                Actor::system(),
                t.person_id,
                &ObjectionScope::Purpose(purpose),
                ConsentSource::OneClick.as_str(),
            )?;
            Ok(Some(Unsubscribed::Objected))
        }
    }

    fn current_purpose_version(&self, key: &str) -> Result<u32> {
        Ok(self
            .purposes()?
            .into_iter()
            .find(|p| p.key == key)
            .map(|p| p.version)
            .unwrap_or(1))
    }

    /// A new link to the person's preference page, valid for `ttl`.
    pub fn issue_preference_token(
        &self,
        pid: PersonId,
        ttl: jiff::SignedDuration,
    ) -> Result<String> {
        let now = self.now();
        let until = now
            .checked_add(ttl)
            .map_err(|_| StoreError::Corrupt("expiry".into()))?;
        let t = klar_crypto::new_token("", &mut rand::rngs::OsRng);
        let h = klar_crypto::hash_token(self.keys.session_secret(), &t);
        self.db.write(|c| {
            c.execute(
                "INSERT INTO mail_tokens (token_hash, kind, person_id, created_at, expires_at) VALUES ($1, 'preferences', $2, $3, $4)",
                &[Val::Blob(h), pid.to_string().into(), Val::Int(ms(now)), Val::Int(ms(until))],
            )?;
            Ok(())
        })?;
        Ok(t)
    }

    /// The person a preference link belongs to, while it is valid. Forged, expired and
    /// erased-person links all answer `None`.
    pub fn preference_person(&self, token: &str) -> Result<Option<PersonId>> {
        let now = self.now();
        Ok(self
            .token_row(TokenKind::Preferences, token)?
            .filter(|t| t.expires_at.is_none_or(|e| now < e))
            .map(|t| t.person_id))
    }

    /// Records an open or a click from a tracked mail. Returns the campaign and, for a
    /// click, nothing else: the caller redirects to the link of the campaign's template.
    pub fn record_tracking(
        &self,
        token: &str,
        kind: &str,
        link: Option<i64>,
    ) -> Result<Option<String>> {
        let Some(t) = self.token_row(TokenKind::Tracking, token)? else {
            return Ok(None);
        };
        let Some(cid) = t.campaign_id.clone() else {
            return Ok(None);
        };
        let id = self.next_id().to_string();
        let now = ms(self.now());
        self.db.write(|c| {
            c.execute(
                "INSERT INTO campaign_events (id, campaign_id, person_id, kind, link, at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[id.as_str().into(), cid.as_str().into(), t.person_id.to_string().into(), kind.into(), link.into(), Val::Int(now)],
            )?;
            Ok(())
        })?;
        Ok(Some(cid))
    }

    /// The campaign a tracking token belongs to, without recording anything.
    pub fn tracking_campaign(&self, token: &str) -> Result<Option<String>> {
        Ok(self
            .token_row(TokenKind::Tracking, token)?
            .and_then(|t| t.campaign_id))
    }

    /// Records a person's own change on the preference page: a grant (pending for email
    /// until confirmed), a withdrawal, or an objection to all direct marketing.
    pub fn preference_event(&self, pid: PersonId, e: &ConsentEvent) -> Result<()> {
        let version = self.current_purpose_version(&e.purpose)?;
        self.append_consent_event(Actor::system(), pid, version, e)
            .map(|_| ())
    }
}

struct TokenRow {
    hash: Vec<u8>,
    person_id: PersonId,
    campaign_id: Option<String>,
    purpose: Option<String>,
    channel: Option<String>,
    expires_at: Option<jiff::Timestamp>,
    used: bool,
}
