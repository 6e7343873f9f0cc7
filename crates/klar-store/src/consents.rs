//! The consent ledger: append-only; nothing here updates or deletes an event.

use crate::audit::{AuditAction, AuditActor, AuditEntry};
use crate::db::Val;
use crate::error::{Result, StoreError};
use crate::{Actor, Store, from_ms, ms};
use klar_crypto::Context;
use klar_domain::ids::PersonId;
use klar_domain::policy::{Channel, ConsentEvent, ConsentEventKind, ConsentSource};

pub(crate) fn ctx(id: &str) -> Context<'_> {
    Context {
        table: "consent_events",
        column: "evidence",
        row_id: id,
        key_version: 1,
    }
}

impl Store {
    /// Appends one event to the person's consent ledger. `purpose_version` is the version
    /// of the purpose the person was told about.
    pub fn append_consent_event(
        &self,
        actor: Actor,
        pid: PersonId,
        purpose_version: u32,
        e: &ConsentEvent,
    ) -> Result<String> {
        let id = self.next_id().to_string();
        self.db
            .write(|c| self.insert_event(c, &id, pid, purpose_version, e, actor))?;
        self.event_recorded(actor, pid, &id, e);
        Ok(id)
    }

    /// Writes one event inside the caller's transaction; `NotFound` when the person (and
    /// so her key) is gone.
    fn insert_event(
        &self,
        c: &crate::db::Conn<'_>,
        id: &str,
        pid: PersonId,
        purpose_version: u32,
        e: &ConsentEvent,
        actor: Actor,
    ) -> Result<()> {
        let sid = pid.to_string();
        let key = c
            .query_opt(
                "SELECT wrapped_key, kek_generation FROM person_keys WHERE person_id = $1",
                &[sid.as_str().into()],
            )?
            .ok_or(StoreError::NotFound)?;
        let evidence = match &e.evidence {
            None => Val::Null,
            Some(text) => {
                let dek = self
                    .keks
                    .unwrap(&crate::keys::wrapped_at(&key, 0, 1)?, &sid)?;
                Val::Blob(dek.seal(&ctx(id), text.as_bytes(), &mut rand::rngs::OsRng)?)
            }
        };
        c.execute(
            "INSERT INTO consent_events (id, person_id, purpose, purpose_version, channel, kind, source, wording_version, evidence, actor, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                id.into(),
                sid.as_str().into(),
                e.purpose.as_str().into(),
                Val::Int(i64::from(purpose_version)),
                e.channel.as_str().into(),
                e.kind.as_str().into(),
                e.source.as_str().into(),
                e.wording_version.as_str().into(),
                evidence,
                actor.user_id.map(|u| u.to_string()).into(),
                Val::Int(ms(e.at)),
            ],
        )?;
        Ok(())
    }

    /// Logs (ids only) and audits an event once its transaction committed.
    fn event_recorded(&self, actor: Actor, pid: PersonId, id: &str, e: &ConsentEvent) {
        tracing::info!(person_id = %pid, purpose = e.purpose.as_str(), channel = e.channel.as_str(), kind = e.kind.as_str(), "consent event");
        let who = match e.source {
            s if s.is_the_person() && actor.user_id.is_none() => AuditActor::DataSubject,
            _ => AuditActor::from(actor),
        };
        let action = match e.kind {
            ConsentEventKind::Grant => AuditAction::ConsentGrant,
            ConsentEventKind::Confirm => AuditAction::ConsentConfirm,
            ConsentEventKind::Withdraw => AuditAction::ConsentWithdraw,
            ConsentEventKind::Expire => AuditAction::ConsentExpire,
        };
        self.audit(
            AuditEntry::new(who, action)
                .person(pid)
                .object("consent", id)
                .purpose(&e.purpose)
                .channel(e.channel)
                .outcome(e.source.as_str()),
        );
    }

    /// The person's consent ledger, oldest first, evidence decrypted.
    pub fn consent_events(&self, pid: PersonId) -> Result<Vec<ConsentEvent>> {
        let sid = pid.to_string();
        self.db.read(|c| {
            let rows = c.query(
                "SELECT e.id, e.purpose, e.channel, e.kind, e.source, e.wording_version, e.evidence, e.at, k.wrapped_key, k.kek_generation \
                 FROM consent_events e JOIN person_keys k ON k.person_id = e.person_id WHERE e.person_id = $1 ORDER BY e.at, e.id",
                &[sid.as_str().into()],
            )?;
            let mut dek = None;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let id: String = r.get(0)?;
                let evidence = match r.get::<Option<Vec<u8>>>(6)? {
                    None => None,
                    Some(sealed) => {
                        if dek.is_none() {
                            dek = Some(self.keks.unwrap(&crate::keys::wrapped_at(r, 8, 9)?, &sid)?);
                        }
                        let k = dek.as_ref().ok_or(StoreError::Corrupt("key".into()))?;
                        Some(String::from_utf8(k.open(&ctx(&id), &sealed)?).map_err(|_| StoreError::Corrupt("evidence".into()))?)
                    }
                };
                let bad = |what: &str| StoreError::Corrupt(format!("consent event {what}"));
                out.push(ConsentEvent {
                    at: from_ms(r.get(7)?)?,
                    purpose: r.get(1)?,
                    channel: Channel::parse(&r.get::<String>(2)?).map_err(|_| bad("channel"))?,
                    kind: ConsentEventKind::parse(&r.get::<String>(3)?).map_err(|_| bad("kind"))?,
                    source: ConsentSource::parse_recorded(&r.get::<String>(4)?).map_err(|_| bad("source"))?,
                    wording_version: r.get(5)?,
                    evidence,
                });
            }
            Ok(out)
        })
    }
}

/// A pending double opt-in, found by its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoiRequest {
    pub person_id: PersonId,
    pub purpose: String,
    pub channel: Channel,
    pub wording_version: String,
}

/// Why a confirmation link does not confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoiRefusal {
    Unknown,
    Used,
    Expired,
}

impl Store {
    /// Records a double opt-in request for an email grant; returns the token for the link.
    pub fn create_doi(
        &self,
        pid: PersonId,
        purpose: &str,
        wording_version: &str,
        valid: jiff::SignedDuration,
    ) -> Result<String> {
        let now = self.now();
        let token = klar_crypto::new_token("", &mut rand::rngs::OsRng);
        let h = klar_crypto::hash_token(self.keys.session_secret(), &token);
        let expires = now
            .checked_add(valid)
            .map_err(|_| StoreError::Corrupt("expiry".into()))?;
        self.db.write(|c| {
            c.execute(
                "INSERT INTO doi_requests (token_hash, person_id, purpose, channel, wording_version, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    Val::Blob(h),
                    pid.to_string().into(),
                    purpose.into(),
                    Channel::Email.as_str().into(),
                    wording_version.into(),
                    Val::Int(ms(now)),
                    Val::Int(ms(expires)),
                ],
            )
        })?;
        Ok(token)
    }

    /// Looks a token up without using it (the confirmation page shows what it confirms).
    pub fn peek_doi(&self, token: &str) -> Result<std::result::Result<DoiRequest, DoiRefusal>> {
        let h = klar_crypto::hash_token(self.keys.session_secret(), token);
        let now = ms(self.now());
        self.db.read(|c| doi_row(c, &h, now))
    }

    /// Uses a token once: marks it used and appends the person's confirmation to the ledger,
    /// in one transaction.
    /// `evidence` describes the click (truncated client network, user agent); it is sealed
    /// under the person's key.
    pub fn confirm_doi(
        &self,
        token: &str,
        evidence: &str,
    ) -> Result<std::result::Result<DoiRequest, DoiRefusal>> {
        let h = klar_crypto::hash_token(self.keys.session_secret(), token);
        let now = self.now();
        let purposes = self.purposes()?;
        let id = self.next_id().to_string();
        let found = self.db.write(|c| {
            let req = match doi_row(c, &h, ms(now))? {
                Ok(req) => req,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let n = c.execute(
                "UPDATE doi_requests SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
                &[Val::Blob(h.clone()), Val::Int(ms(now))],
            )?;
            if n == 0 {
                return Ok(Err(DoiRefusal::Used));
            }
            let event = confirmation(&req, now, evidence);
            let version = purposes
                .iter()
                .find(|p| p.key == req.purpose)
                .map_or(1, |p| p.version);
            // Marking the link used and recording the confirmation commit together.
            self.insert_event(c, &id, req.person_id, version, &event, Actor::system())?;
            Ok(Ok(req))
        })?;
        if let Ok(req) = &found {
            self.event_recorded(
                Actor::system(),
                req.person_id,
                &id,
                &confirmation(req, now, evidence),
            );
        }
        Ok(found)
    }
}

fn confirmation(req: &DoiRequest, at: jiff::Timestamp, evidence: &str) -> ConsentEvent {
    ConsentEvent {
        at,
        purpose: req.purpose.clone(),
        channel: req.channel,
        kind: ConsentEventKind::Confirm,
        source: ConsentSource::Person,
        wording_version: req.wording_version.clone(),
        evidence: Some(evidence.to_owned()),
    }
}

fn doi_row(
    c: &crate::db::Conn<'_>,
    h: &[u8],
    now: i64,
) -> Result<std::result::Result<DoiRequest, DoiRefusal>> {
    let Some(r) = c.query_opt(
        "SELECT person_id, purpose, channel, wording_version, expires_at, used_at FROM doi_requests WHERE token_hash = $1",
        &[Val::Blob(h.to_vec())],
    )?
    else {
        return Ok(Err(DoiRefusal::Unknown));
    };
    if r.get::<Option<i64>>(5)?.is_some() {
        return Ok(Err(DoiRefusal::Used));
    }
    if r.get::<i64>(4)? <= now {
        return Ok(Err(DoiRefusal::Expired));
    }
    Ok(Ok(DoiRequest {
        person_id: crate::id(r.get::<String>(0)?)?,
        purpose: r.get(1)?,
        channel: Channel::parse(&r.get::<String>(2)?)
            .map_err(|_| StoreError::Corrupt("doi channel".into()))?,
        wording_version: r.get(3)?,
    }))
}

/// A double opt-in request past its expiry, neither used nor lapsed yet.
struct DueDoi {
    token_hash: Vec<u8>,
    person_id: PersonId,
    purpose: String,
    channel: Channel,
    wording_version: String,
    created_at: i64,
    expires_at: i64,
}

impl Store {
    /// The lapse job: marks every double opt-in request that expired unconfirmed as lapsed
    /// and, where its grant was still the pending one, appends an `expire` event (source
    /// `system`, the request's wording version) so that the ledger itself shows the lapse.
    ///
    /// The event is dated at the request's expiry, not at the run, so a new grant made
    /// after the lapse but before the job ran stays pending. No event is written for a
    /// request whose grant was superseded by a newer one, withdrawn, or a renewal of a
    /// consent that is still given: expiring the pair would end a consent that did not
    /// lapse. Marking and appending happen in one transaction; running it again appends
    /// nothing. Returns the number of `expire` events appended.
    pub fn lapse_unconfirmed_doi(&self) -> Result<usize> {
        use klar_domain::policy::{ConsentConfig, ConsentState, consent_state};
        let now = ms(self.now());
        let due = self.db.read(|c| {
            c.query(
                "SELECT token_hash, person_id, purpose, channel, wording_version, created_at, expires_at \
                 FROM doi_requests WHERE expires_at <= $1 AND used_at IS NULL AND lapsed_at IS NULL \
                 ORDER BY expires_at",
                &[Val::Int(now)],
            )?
            .iter()
            .map(|r| {
                Ok(DueDoi {
                    token_hash: r.get(0)?,
                    person_id: crate::id(r.get::<String>(1)?)?,
                    purpose: r.get(2)?,
                    channel: Channel::parse(&r.get::<String>(3)?)
                        .map_err(|_| StoreError::Corrupt("doi channel".into()))?,
                    wording_version: r.get(4)?,
                    created_at: r.get(5)?,
                    expires_at: r.get(6)?,
                })
            })
            .collect::<Result<Vec<_>>>()
        })?;
        if due.is_empty() {
            return Ok(0);
        }
        let purposes = self.purposes()?;
        let mut appended = 0;
        for d in due {
            // Judge the pair as it stood just before the request expired, with the window
            // the request was created with (the configured one may have changed since).
            let config = ConsentConfig {
                doi_window: jiff::SignedDuration::from_millis(d.expires_at - d.created_at),
            };
            let events = self.consent_events(d.person_id)?;
            let still_pending = matches!(
                consent_state(&events, &d.purpose, d.channel, from_ms(d.expires_at - 1)?, &config),
                ConsentState::Pending { granted_at } if ms(granted_at) <= d.created_at
            );
            let version = purposes
                .iter()
                .find(|p| p.key == d.purpose)
                .map_or(1, |p| p.version);
            let id = self.next_id().to_string();
            let event = ConsentEvent {
                at: from_ms(d.expires_at)?,
                purpose: d.purpose.clone(),
                channel: d.channel,
                kind: ConsentEventKind::Expire,
                source: ConsentSource::System,
                wording_version: d.wording_version.clone(),
                evidence: Some("double opt-in not confirmed before its expiry".into()),
            };
            let wrote = self.db.write(|c| {
                let claimed = c.execute(
                    "UPDATE doi_requests SET lapsed_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND lapsed_at IS NULL",
                    &[Val::Blob(d.token_hash.clone()), Val::Int(now)],
                )?;
                if claimed == 0 || !still_pending {
                    return Ok(false);
                }
                // An erased person has no key any more: nothing to record for her.
                match self.insert_event(c, &id, d.person_id, version, &event, Actor::system()) {
                    Ok(()) => {}
                    Err(StoreError::NotFound) => return Ok(false),
                    Err(e) => return Err(e),
                }
                Ok(true)
            })?;
            if wrote {
                self.event_recorded(Actor::system(), d.person_id, &id, &event);
                appended += 1;
            }
        }
        Ok(appended)
    }
}
