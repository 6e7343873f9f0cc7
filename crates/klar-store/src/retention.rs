//! Retention (LAW.md B.5): the facts each person's retention rests on, legal holds, and the
//! retention run that erases persons no purpose justifies any more and restricts those kept
//! only for a statutory duty or proof. The rules themselves are pure
//! ([`klar_domain::retention::evaluate`]); this module gathers facts and acts.

use crate::audit::{AuditAction, AuditActor, AuditEntry};
use crate::db::Val;
use crate::error::{Result, StoreError};
use crate::{Actor, Store, from_ms, ms};
use jiff::Timestamp;
use klar_domain::error::Errors;
use klar_domain::ids::PersonId;
use klar_domain::policy::{Channel, ConsentEvent, ConsentEventKind, ConsentSource};
use klar_domain::retention::{
    Decision, PersonRetention, RESTRICTION_PREFIX, RetentionConfig, RetentionFacts, evaluate,
    restriction_reason,
};
use std::collections::HashMap;

/// A legal hold in force: why, who placed it, since when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LegalHold {
    pub id: String,
    pub reason: String,
    pub author: Option<String>,
    pub since: Timestamp,
}

/// One person in a retention run's report: id, decision, its legal reasons (no names).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunEntry {
    pub person_id: PersonId,
    /// `erase`, `restrict`, `legal_hold`, or `spared_restricted` (an Art. 18 restriction the
    /// person asked for is never overridden by an automatic erasure).
    pub decision: String,
    /// The end of the duty a restriction serves.
    pub until: Option<Timestamp>,
    /// The legal reason in English (the report is an operator's record).
    pub reason: String,
}

/// A person whose data will be erased within the warning window unless something changes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Upcoming {
    pub person_id: PersonId,
    pub erase_after: Timestamp,
    pub legal_hold: bool,
}

/// What one retention run did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    pub as_of: Timestamp,
    pub dry_run: bool,
    pub entries: Vec<RunEntry>,
    /// Business letters of erased persons whose period ended (deleted, or to delete).
    pub expired_letters: usize,
    pub upcoming: Vec<Upcoming>,
}

/// The warning window before an automatic erasure (LAW.md 5b: "e.g. 90 days").
pub const WARN_DAYS: i64 = 90;

impl Store {
    /// Places a legal hold on a person; the reason is required.
    pub fn place_legal_hold(&self, actor: Actor, pid: PersonId, reason: &str) -> Result<LegalHold> {
        let reason = reason.trim();
        if reason.is_empty() {
            let mut e = Errors::new();
            e.push("reason", "a legal hold needs a reason");
            e.finish()?;
        }
        let now = self.now();
        let id = self.next_id().to_string();
        let sid = pid.to_string();
        self.db.write(|c| {
            if c.query_opt("SELECT id FROM persons WHERE id = $1", &[sid.as_str().into()])?
                .is_none()
            {
                return Err(StoreError::NotFound);
            }
            if c.query_opt(
                "SELECT id FROM legal_holds WHERE person_id = $1 AND released_at IS NULL",
                &[sid.as_str().into()],
            )?
            .is_some()
            {
                return Err(StoreError::Conflict("a legal hold is already in force".into()));
            }
            c.execute(
                "INSERT INTO legal_holds (id, person_id, reason, author, since) VALUES ($1, $2, $3, $4, $5)",
                &[
                    id.as_str().into(),
                    sid.as_str().into(),
                    reason.into(),
                    actor.user_id.map(|u| u.to_string()).into(),
                    Val::Int(ms(now)),
                ],
            )?;
            Ok(())
        })?;
        tracing::info!(person_id = %pid, "legal hold placed");
        self.audit(
            AuditEntry::new(actor, AuditAction::LegalHoldOn)
                .person(pid)
                .object("legal_hold", &id),
        );
        self.legal_hold(pid)?.ok_or(StoreError::NotFound)
    }

    /// Releases the legal hold in force, with a reason; `NotFound` when there is none.
    pub fn release_legal_hold(&self, actor: Actor, pid: PersonId, reason: &str) -> Result<()> {
        let reason = reason.trim();
        if reason.is_empty() {
            let mut e = Errors::new();
            e.push("reason", "releasing a legal hold needs a reason");
            e.finish()?;
        }
        let now = self.now();
        let id = self.legal_hold(pid)?.ok_or(StoreError::NotFound)?.id;
        self.db.write(|c| {
            c.execute(
                "UPDATE legal_holds SET released_at = $2, released_by = $3, release_reason = $4 WHERE id = $1",
                &[
                    id.as_str().into(),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                    reason.into(),
                ],
            )
        })?;
        tracing::info!(person_id = %pid, "legal hold released");
        self.audit(
            AuditEntry::new(actor, AuditAction::LegalHoldOff)
                .person(pid)
                .object("legal_hold", &id),
        );
        Ok(())
    }

    /// The legal hold in force on a person, if any.
    pub fn legal_hold(&self, pid: PersonId) -> Result<Option<LegalHold>> {
        self.db.read(|c| {
            c.query_opt(
                "SELECT id, reason, author, since FROM legal_holds WHERE person_id = $1 AND released_at IS NULL",
                &[pid.to_string().into()],
            )?
            .map(|r| {
                Ok(LegalHold {
                    id: r.get(0)?,
                    reason: r.get(1)?,
                    author: r.get(2)?,
                    since: from_ms(r.get(3)?)?,
                })
            })
            .transpose()
        })
    }

    /// One person's retention at `at`.
    pub fn retention_of(
        &self,
        pid: PersonId,
        at: Timestamp,
        cfg: &RetentionConfig,
    ) -> Result<PersonRetention> {
        let facts = self.retention_facts(Some(pid))?;
        let (_, f) = facts
            .into_iter()
            .find(|(id, _)| *id == pid)
            .ok_or(StoreError::NotFound)?;
        Ok(evaluate(&f.facts, at, cfg))
    }

    /// The earliest instant this installation holds data from (its first migration).
    pub fn first_data_at(&self) -> Result<Timestamp> {
        self.db.read(|c| {
            let r = c.query_opt("SELECT MIN(applied_at) FROM klar_migrations", &[])?;
            let v: Option<i64> = match r {
                Some(r) => r.get(0)?,
                None => None,
            };
            v.map_or_else(|| Ok(self.now()), from_ms)
        })
    }

    /// Applies the retention rules at `as_of` (or, with `dry_run`, only reports what it
    /// would do). Refuses an `as_of` before the installation's first data.
    pub fn run_retention(
        &self,
        actor: Actor,
        as_of: Timestamp,
        cfg: &RetentionConfig,
        dry_run: bool,
    ) -> Result<RunReport> {
        self.retention_pass(actor, as_of, cfg, dry_run, true)
    }

    /// The run; `record` writes the run's own audit entry (a preview for the warning list
    /// changes nothing and is not a run).
    fn retention_pass(
        &self,
        actor: Actor,
        as_of: Timestamp,
        cfg: &RetentionConfig,
        dry_run: bool,
        record: bool,
    ) -> Result<RunReport> {
        let first = self.first_data_at()?;
        if as_of < first {
            let mut e = Errors::new();
            e.push(
                "as_of",
                format!(
                    "lies before this installation's first data ({}); retention cannot be evaluated then",
                    first.to_zoned(jiff::tz::TimeZone::UTC).date()
                ),
            );
            e.finish()?;
        }
        let warn_until = as_of
            .checked_add(jiff::SignedDuration::from_hours(WARN_DAYS * 24))
            .unwrap_or(as_of);
        let mut entries = Vec::new();
        let mut upcoming = Vec::new();
        for (pid, g) in self.retention_facts(None)? {
            let r = evaluate(&g.facts, as_of, cfg);
            if let Some(end) = r.erase_after
                && end > as_of
                && end <= warn_until
            {
                upcoming.push(Upcoming {
                    person_id: pid,
                    erase_after: end,
                    legal_hold: g.facts.legal_hold,
                });
            }
            let reason_of = |keep_only: bool| -> String {
                let active: Vec<String> = r
                    .grounds
                    .iter()
                    .filter(|x| x.active_at(as_of) && (!keep_only || x.class.keep_only()))
                    .map(|x| x.reason.en.clone())
                    .collect();
                active.join("; ")
            };
            let art18 = g
                .restriction
                .as_deref()
                .is_some_and(|s| !s.starts_with(RESTRICTION_PREFIX));
            let entry = match r.decision {
                Decision::Keep => {
                    // Kept for a purpose again (e.g. a new deal): a retention restriction goes.
                    if g.restriction
                        .as_deref()
                        .is_some_and(|s| s.starts_with(RESTRICTION_PREFIX))
                    {
                        if !dry_run {
                            self.lift_restriction(actor, pid)?;
                        }
                        Some(RunEntry {
                            person_id: pid,
                            decision: "unrestrict".into(),
                            until: None,
                            reason: reason_of(false),
                        })
                    } else {
                        None
                    }
                }
                Decision::Hold => (r
                    .grounds
                    .iter()
                    .all(|x| !x.active_at(as_of) || x.class.keep_only()))
                .then(|| RunEntry {
                    person_id: pid,
                    decision: "legal_hold".into(),
                    until: None,
                    reason: "A legal hold stops automatic deletion (Art. 17(3)(e) GDPR)".into(),
                }),
                Decision::Restrict { until } => {
                    let reason = restriction_reason(until);
                    if art18 {
                        Some(RunEntry {
                            person_id: pid,
                            decision: "spared_restricted".into(),
                            until: Some(until),
                            reason: "Restricted at the person's request (Art. 18 GDPR); not changed by retention".into(),
                        })
                    } else if g.restriction.as_deref() == Some(reason.as_str()) {
                        None
                    } else {
                        if !dry_run {
                            self.restrict(actor, pid, &reason)?;
                        }
                        Some(RunEntry {
                            person_id: pid,
                            decision: "restrict".into(),
                            until: Some(until),
                            reason: format!("Only kept for: {}", reason_of(true)),
                        })
                    }
                }
                Decision::Erase => {
                    if art18 {
                        Some(RunEntry {
                            person_id: pid,
                            decision: "spared_restricted".into(),
                            until: None,
                            reason: "Restricted at the person's request (Art. 18 GDPR); not erased automatically".into(),
                        })
                    } else {
                        if !dry_run {
                            match self.erase_person(actor, pid) {
                                Ok(_) | Err(StoreError::Erased) => {}
                                Err(e) => return Err(e),
                            }
                        }
                        Some(RunEntry {
                            person_id: pid,
                            decision: "erase".into(),
                            until: None,
                            reason: "No purpose or duty justifies keeping the data any more (Art. 5(1)(e), 17(1)(a) GDPR)".into(),
                        })
                    }
                }
            };
            if let Some(e) = entry {
                entries.push(e);
            }
        }
        let expired_letters = self.expired_letters(as_of, dry_run)?;
        if !dry_run {
            let who = AuditActor::from(actor);
            self.audit_all(entries.iter().map(|e| {
                AuditEntry::new(who, AuditAction::RetentionDecision)
                    .person(e.person_id)
                    .outcome(&e.decision)
                    .rule_b5()
            }));
        }
        if record {
            self.audit(
                AuditEntry::new(actor, AuditAction::RetentionRun)
                    .outcome(if dry_run { "dry_run" } else { "applied" })
                    .rule_b5(),
            );
        }
        tracing::info!(
            affected = entries.len(),
            expired_letters,
            dry_run,
            "retention run"
        );
        Ok(RunReport {
            as_of,
            dry_run,
            entries,
            expired_letters,
            upcoming,
        })
    }

    /// Persons whose erasure falls within the warning window from `at`.
    pub fn retention_upcoming(
        &self,
        at: Timestamp,
        cfg: &RetentionConfig,
    ) -> Result<Vec<Upcoming>> {
        Ok(self
            .retention_pass(Actor::system(), at, cfg, true, false)?
            .upcoming)
    }

    /// Counts (and unless `dry_run`, deletes) the retained business letters of erased
    /// persons whose period ended before `at` (migration 12).
    fn expired_letters(&self, at: Timestamp, dry_run: bool) -> Result<usize> {
        self.db.write(|c| {
            let params = [Val::Int(ms(at))];
            let n: i64 = c
                .query_opt(
                    "SELECT COUNT(*) FROM activities WHERE person_id IS NULL AND retained_until IS NOT NULL AND retained_until < $1",
                    &params,
                )?
                .map(|r| r.get(0))
                .transpose()?
                .unwrap_or(0);
            if !dry_run && n > 0 {
                c.execute(
                    "DELETE FROM activities WHERE person_id IS NULL AND retained_until IS NOT NULL AND retained_until < $1",
                    &params,
                )?;
            }
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    /// The retention facts of one person (`Some`) or of everyone, each table read once.
    fn retention_facts(&self, only: Option<PersonId>) -> Result<Vec<(PersonId, Gathered)>> {
        let filter = only.map(|p| p.to_string());
        let (cond, params): (&str, Vec<Val>) = match &filter {
            Some(id) => ("= $1", vec![id.as_str().into()]),
            None => ("IS NOT NULL", vec![]),
        };
        self.db.read(|c| {
            let mut by: HashMap<String, Gathered> = HashMap::new();
            let mut order = Vec::new();
            for r in c.query(
                &format!("SELECT id, created_at, updated_at FROM persons WHERE id {cond} ORDER BY id"),
                &params,
            )? {
                let id: String = r.get(0)?;
                let g = by.entry(id.clone()).or_default();
                g.facts.created_at = Some(from_ms(r.get(1)?)?);
                g.facts.last_activity = Some(from_ms(r.get(2)?)?);
                order.push(id);
            }
            for r in c.query(
                &format!("SELECT person_id, kind, purpose, occurred_at FROM activities WHERE person_id {cond}"),
                &params,
            )? {
                let id: String = r.get(0)?;
                let Some(g) = by.get_mut(&id) else { continue };
                let at = from_ms(r.get(3)?)?;
                g.facts.last_activity = g.facts.last_activity.max(Some(at));
                let kind: String = r.get(1)?;
                let purpose: Option<String> = r.get(2)?;
                if kind == "call" && purpose.as_deref() == Some("phone_marketing") {
                    g.facts.phone_uses.push(at);
                }
            }
            for r in c.query(
                &format!("SELECT person_id, status, closed_at FROM deals WHERE person_id {cond}"),
                &params,
            )? {
                let id: Option<String> = r.get(0)?;
                let Some(g) = id.and_then(|i| by.get_mut(&i)) else { continue };
                let status: String = r.get(1)?;
                let closed: Option<i64> = r.get(2)?;
                match (status.as_str(), closed) {
                    ("won", Some(t)) => g.facts.won_deals.push(from_ms(t)?),
                    ("open", _) => g.facts.open_deal = true,
                    _ => {}
                }
            }
            for r in c.query(
                &format!(
                    "SELECT a.person_id, a.occurred_at FROM activities a JOIN deals d ON d.id = a.deal_id \
                     WHERE a.person_id {} AND a.kind = 'email' AND d.status = 'won'",
                    cond
                ),
                &params,
            )? {
                let id: String = r.get(0)?;
                if let Some(g) = by.get_mut(&id) {
                    g.facts.deal_letters.push(from_ms(r.get(1)?)?);
                }
            }
            for r in c.query(
                &format!(
                    "SELECT person_id, purpose, channel, kind, source, wording_version, CASE WHEN evidence IS NULL THEN 0 ELSE 1 END, at \
                     FROM consent_events WHERE person_id {cond}"
                ),
                &params,
            )? {
                let id: String = r.get(0)?;
                let Some(g) = by.get_mut(&id) else { continue };
                let bad = |what: &str| StoreError::Corrupt(format!("consent event {what}"));
                let channel = Channel::parse(&r.get::<String>(2)?).map_err(|_| bad("channel"))?;
                let kind = ConsentEventKind::parse(&r.get::<String>(3)?).map_err(|_| bad("kind"))?;
                let source =
                    ConsentSource::parse_recorded(&r.get::<String>(4)?).map_err(|_| bad("source"))?;
                let has_evidence: i64 = r.get(6)?;
                g.facts.consents.push(ConsentEvent {
                    at: from_ms(r.get(7)?)?,
                    purpose: r.get(1)?,
                    channel,
                    kind,
                    source,
                    wording_version: r.get(5)?,
                    // Only its presence matters here; the text stays sealed.
                    evidence: (has_evidence != 0).then(|| "sealed".to_owned()),
                });
            }
            for r in c.query(
                &format!("SELECT person_id FROM legal_holds WHERE released_at IS NULL AND person_id {cond}"),
                &params,
            )? {
                let id: String = r.get(0)?;
                if let Some(g) = by.get_mut(&id) {
                    g.facts.legal_hold = true;
                }
            }
            for r in c.query(
                &format!("SELECT person_id, reason FROM restrictions WHERE person_id {cond}"),
                &params,
            )? {
                let id: String = r.get(0)?;
                if let Some(g) = by.get_mut(&id) {
                    g.restriction = Some(r.get(1)?);
                }
            }
            order
                .into_iter()
                .filter_map(|id| by.remove(&id).map(|g| (id, g)))
                .map(|(id, g)| {
                    id.parse::<PersonId>()
                        .map(|p| (p, g))
                        .map_err(|_| StoreError::Corrupt("malformed person id".into()))
                })
                .collect()
        })
    }
}

/// What the store gathered about one person.
#[derive(Debug, Default)]
struct Gathered {
    facts: RetentionFacts,
    restriction: Option<String>,
}

trait RuleB5 {
    fn rule_b5(self) -> Self;
}

impl RuleB5 for AuditEntry {
    fn rule_b5(mut self) -> Self {
        self.rule = Some("B.5".to_owned());
        self
    }
}

/// A person who must still be given the Art. 14 information.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Art14Due {
    pub person_id: PersonId,
    pub due_at: Timestamp,
    pub overdue: bool,
}

impl Store {
    /// Records that the person was given the Art. 14 information (idempotent).
    pub fn record_art14_notice(&self, actor: Actor, pid: PersonId) -> Result<()> {
        let now = self.now();
        let sid = pid.to_string();
        self.db.write(|c| {
            if c.query_opt(
                "SELECT id FROM persons WHERE id = $1",
                &[sid.as_str().into()],
            )?
            .is_none()
            {
                return Err(StoreError::NotFound);
            }
            c.execute(
                "INSERT INTO art14_notices (person_id, informed_at, actor) VALUES ($1, $2, $3) \
                 ON CONFLICT (person_id) DO NOTHING",
                &[
                    sid.as_str().into(),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok(())
        })?;
        self.audit(AuditEntry::new(actor, AuditAction::Art14Notice).person(pid));
        Ok(())
    }

    /// Persons whose data came from elsewhere and who were not yet informed (Art. 14),
    /// soonest due first.
    pub fn art14_due(&self, at: Timestamp) -> Result<Vec<Art14Due>> {
        use klar_domain::art14::{collected_elsewhere, notice_due};
        self.db.read(|c| {
            let mut first_contact: HashMap<String, Timestamp> = HashMap::new();
            for r in c.query(
                "SELECT person_id, MIN(occurred_at) FROM activities \
                 WHERE person_id IS NOT NULL AND kind IN ('call', 'email', 'meeting') GROUP BY person_id",
                &[],
            )? {
                first_contact.insert(r.get(0)?, from_ms(r.get(1)?)?);
            }
            let mut out = Vec::new();
            for r in c.query(
                "SELECT p.id, p.source, p.created_at FROM persons p \
                 WHERE p.source IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM art14_notices n WHERE n.person_id = p.id)",
                &[],
            )? {
                let source: Option<String> = r.get(1)?;
                if !collected_elsewhere(source.as_deref()) {
                    continue;
                }
                let id: String = r.get(0)?;
                let due_at = notice_due(from_ms(r.get(2)?)?, first_contact.get(&id).copied());
                out.push(Art14Due {
                    person_id: id
                        .parse()
                        .map_err(|_| StoreError::Corrupt("malformed person id".into()))?,
                    due_at,
                    overdue: due_at < at,
                });
            }
            out.sort_by_key(|d| d.due_at);
            Ok(out)
        })
    }
}
