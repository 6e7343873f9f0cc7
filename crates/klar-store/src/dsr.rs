//! Data-subject requests: entered by staff or by the person on the public page, moved
//! through the states of `klar_domain::dsr`, each step recorded in `dsr_events` and in the
//! audit trail. The requester's address is sealed under the installation key and dropped
//! when the request closes (Art. 5(1)(c): not kept to answer future requests).

use crate::audit::{AuditAction, AuditActor, AuditEntry};
use crate::db::{Conn, Row, Val};
use crate::error::{Result, StoreError};
use crate::{Page, Store, from_ms, ms};
use klar_crypto::{BlindKind, Context};
use klar_domain::DomainError;
use klar_domain::dsr::{DsrAction, DsrKind, DsrStatus, transition};
use klar_domain::email::Email;
use klar_domain::ids::PersonId;

/// How a request reached us.
pub const CHANNELS: [&str; 6] = ["web", "email", "letter", "phone", "in_person", "other"];

#[derive(Debug, Clone)]
pub struct NewDsr {
    pub kind: DsrKind,
    pub person_id: Option<PersonId>,
    pub requester_email: Option<Email>,
    pub channel: String,
    /// For objections: `direct_marketing` or a purpose key.
    pub scope: Option<String>,
    pub received_at: jiff::Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsr {
    pub id: String,
    pub kind: DsrKind,
    pub status: DsrStatus,
    pub person_id: Option<PersonId>,
    /// Whether a requester address is on file (the address itself is sealed).
    pub has_requester: bool,
    pub channel: String,
    pub scope: Option<String>,
    pub received_at: jiff::Timestamp,
    pub due_at: jiff::Timestamp,
    pub extended_due_at: Option<jiff::Timestamp>,
    pub extension_reason: Option<String>,
    pub extension_notified_at: Option<jiff::Timestamp>,
    pub identity_requested_at: Option<jiff::Timestamp>,
    pub identity_verified_at: Option<jiff::Timestamp>,
    pub closed_at: Option<jiff::Timestamp>,
    pub outcome_reason: Option<String>,
    pub created_at: jiff::Timestamp,
}

impl Dsr {
    /// The deadline in force: the extended one once extended.
    pub fn effective_due(&self) -> jiff::Timestamp {
        self.extended_due_at.unwrap_or(self.due_at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsrEvent {
    pub at: jiff::Timestamp,
    pub actor: String,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub note: Option<String>,
}

/// Which requests to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsrListFilter {
    Open,
    Closed,
    All,
}

/// Why a confirmation link does not confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsrTokenRefusal {
    Unknown,
    Used,
    Expired,
}

fn invalid(field: &str, msg: &str) -> StoreError {
    StoreError::Invalid(DomainError::field(field, msg))
}

fn requester_ctx(id: &str) -> Context<'_> {
    Context {
        table: "dsr_requests",
        column: "requester",
        row_id: id,
        key_version: 1,
    }
}

const SELECT: &str = "SELECT id, kind, status, person_id, requester IS NOT NULL, channel, scope, received_at, due_at, \
    extended_due_at, extension_reason, extension_notified_at, identity_requested_at, identity_verified_at, closed_at, \
    outcome_reason, created_at FROM dsr_requests";

fn opt_ts(r: &Row, i: usize) -> Result<Option<jiff::Timestamp>> {
    r.get::<Option<i64>>(i)?.map(from_ms).transpose()
}

fn decode(r: &Row) -> Result<Dsr> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("dsr {what}"));
    Ok(Dsr {
        id: r.get(0)?,
        kind: DsrKind::parse(&r.get::<String>(1)?).map_err(|_| corrupt("kind"))?,
        status: DsrStatus::parse(&r.get::<String>(2)?).map_err(|_| corrupt("status"))?,
        person_id: crate::opt_id(r.get(3)?)?,
        has_requester: r.get(4)?,
        channel: r.get(5)?,
        scope: r.get(6)?,
        received_at: from_ms(r.get(7)?)?,
        due_at: from_ms(r.get(8)?)?,
        extended_due_at: opt_ts(r, 9)?,
        extension_reason: r.get(10)?,
        extension_notified_at: opt_ts(r, 11)?,
        identity_requested_at: opt_ts(r, 12)?,
        identity_verified_at: opt_ts(r, 13)?,
        closed_at: opt_ts(r, 14)?,
        outcome_reason: r.get(15)?,
        created_at: from_ms(r.get(16)?)?,
    })
}

fn load(c: &Conn<'_>, id: &str) -> Result<Dsr> {
    let r = c
        .query_opt(&format!("{SELECT} WHERE id = $1"), &[id.into()])?
        .ok_or(StoreError::NotFound)?;
    decode(&r)
}

impl Store {
    /// Logs a request. Its deadline runs from `received_at` (LAW.md table 4a: the clock runs
    /// from receipt, also while the identity is checked).
    pub fn create_dsr(&self, actor: AuditActor, new: &NewDsr) -> Result<Dsr> {
        if !CHANNELS.contains(&new.channel.as_str()) {
            return Err(invalid(
                "channel",
                "must be web, email, letter, phone, in_person or other",
            ));
        }
        let now = self.now();
        if new.received_at > now {
            return Err(invalid("received_at", "must not be in the future"));
        }
        let id = self.next_id().to_string();
        let (sealed, hash) = match &new.requester_email {
            None => (Val::Null, Val::Null),
            Some(e) => (
                Val::Blob(self.keys.installation_key().seal(
                    &requester_ctx(&id),
                    e.as_str().as_bytes(),
                    &mut rand::rngs::OsRng,
                )?),
                Val::Blob(self.keys.blind().compute(BlindKind::Email, &e.normalized())),
            ),
        };
        let due = klar_domain::dsr::due_at(new.received_at);
        let actor_s = actor.as_string();
        self.db.write(|c| {
            if let Some(pid) = new.person_id
                && c.query_opt("SELECT id FROM persons WHERE id = $1", &[pid.to_string().into()])?.is_none()
            {
                return Err(invalid("person_id", "is not a person of this installation"));
            }
            c.execute(
                "INSERT INTO dsr_requests (id, kind, status, person_id, requester, requester_hash, channel, scope, received_at, due_at, \
                 created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
                &[
                    id.as_str().into(),
                    new.kind.as_str().into(),
                    DsrStatus::Received.as_str().into(),
                    new.person_id.map(|p| p.to_string()).into(),
                    sealed,
                    hash,
                    new.channel.as_str().into(),
                    new.scope.clone().into(),
                    Val::Int(ms(new.received_at)),
                    Val::Int(ms(due)),
                    actor_s.as_str().into(),
                    Val::Int(ms(now)),
                ],
            )?;
            insert_event(c, &self.next_id().to_string(), &id, now, &actor_s, "create", DsrStatus::Received, DsrStatus::Received, None)?;
            Ok(())
        })?;
        let mut e = AuditEntry::new(actor, AuditAction::DsrCreate)
            .object("dsr", &id)
            .outcome(new.kind.as_str());
        e.person_id = new.person_id;
        self.audit(e);
        self.dsr(&id)
    }

    pub fn dsr(&self, id: &str) -> Result<Dsr> {
        self.db.read(|c| load(c, id))
    }

    pub fn dsr_events(&self, id: &str) -> Result<Vec<DsrEvent>> {
        self.db.read(|c| {
            c.query(
                "SELECT at, actor, action, from_status, to_status, note FROM dsr_events WHERE dsr_id = $1 ORDER BY at, id",
                &[id.into()],
            )?
            .iter()
            .map(|r| {
                Ok(DsrEvent {
                    at: from_ms(r.get(0)?)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    from_status: r.get(3)?,
                    to_status: r.get(4)?,
                    note: r.get(5)?,
                })
            })
            .collect()
        })
    }

    /// Requests, open ones by the deadline in force (soonest first), others newest first.
    pub fn list_dsr(
        &self,
        f: DsrListFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Dsr>> {
        let open: Vec<Val> = DsrStatus::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(|s| Val::from(s.as_str()))
            .collect();
        let offset: usize = match cursor {
            None => 0,
            Some(c) => crate::cursor::decode(c)
                .ok_or_else(|| invalid("cursor", "is not a cursor this server issued"))?,
        };
        let (cond, order, mut params) = match f {
            DsrListFilter::Open => (
                "status IN ($1, $2, $3, $4)",
                "COALESCE(extended_due_at, due_at), id",
                open,
            ),
            DsrListFilter::Closed => (
                "status NOT IN ($1, $2, $3, $4)",
                "received_at DESC, id DESC",
                open,
            ),
            DsrListFilter::All => ("1 = 1", "received_at DESC, id DESC", Vec::new()),
        };
        params.push(Val::Int(limit as i64 + 1));
        params.push(Val::Int(offset as i64));
        let (l, o) = (params.len() - 1, params.len());
        let sql = format!("{SELECT} WHERE {cond} ORDER BY {order} LIMIT ${l} OFFSET ${o}");
        self.db.read(|c| {
            let rows = c.query(&sql, &params)?;
            let more = rows.len() > limit;
            let items = rows
                .iter()
                .take(limit)
                .map(decode)
                .collect::<Result<Vec<_>>>()?;
            let next_cursor = more.then(|| crate::cursor::encode(&(offset + limit).to_string()));
            Ok(Page { items, next_cursor })
        })
    }

    /// Takes one step of the state machine. `note` is the reason for a refusal or a partial
    /// completion (required then) and an optional remark otherwise; it must hold no personal
    /// data. Closing a request drops the requester's address.
    pub fn step_dsr(
        &self,
        actor: AuditActor,
        id: &str,
        action: DsrAction,
        note: Option<&str>,
    ) -> Result<Dsr> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if action.needs_reason() && note.is_none_or(|n| n.chars().count() < 10) {
            return Err(invalid(
                "reason",
                "must give the reason the person will be told (at least 10 characters)",
            ));
        }
        let now = self.now();
        let actor_s = actor.as_string();
        let (from, to, pid) = self.db.write(|c| {
            let cur = load(c, id)?;
            let to = transition(cur.status, action).map_err(|e| invalid("action", &e.0))?;
            let closes = !to.is_open();
            let stamp = |col: &str| -> Result<()> {
                c.execute(&format!("UPDATE dsr_requests SET {col} = $2 WHERE id = $1"), &[id.into(), Val::Int(ms(now))])?;
                Ok(())
            };
            match action {
                DsrAction::RequestIdentity => stamp("identity_requested_at")?,
                DsrAction::Verify => stamp("identity_verified_at")?,
                _ => {}
            }
            if closes {
                c.execute(
                    "UPDATE dsr_requests SET closed_at = $2, outcome_reason = $3, requester = NULL, requester_hash = NULL WHERE id = $1",
                    &[id.into(), Val::Int(ms(now)), note.map(str::to_owned).into()],
                )?;
            }
            c.execute(
                "UPDATE dsr_requests SET status = $2, updated_at = $3 WHERE id = $1",
                &[id.into(), to.as_str().into(), Val::Int(ms(now))],
            )?;
            insert_event(c, &self.next_id().to_string(), id, now, &actor_s, action.as_str(), cur.status, to, note)?;
            Ok((cur.status, to, cur.person_id))
        })?;
        let mut e = AuditEntry::new(actor, AuditAction::DsrStep)
            .object("dsr", id)
            .outcome(to.as_str());
        e.person_id = pid;
        self.audit(e);
        tracing::info!(
            dsr = id,
            from = from.as_str(),
            to = to.as_str(),
            "data-subject request step"
        );
        self.dsr(id)
    }

    /// Extends the deadline once by two months (Art. 12(3)); see `klar_domain::dsr::extend`.
    pub fn extend_dsr(
        &self,
        actor: AuditActor,
        id: &str,
        reason: &str,
        notified_at: jiff::Timestamp,
    ) -> Result<Dsr> {
        let now = self.now();
        let actor_s = actor.as_string();
        let pid = self.db.write(|c| {
            let cur = load(c, id)?;
            if !cur.status.is_open() {
                return Err(invalid("extension", "the request is closed"));
            }
            let due = klar_domain::dsr::extend(cur.received_at, cur.extended_due_at.is_some(), reason, notified_at, now)
                .map_err(|(field, e)| invalid(field, &e.0))?;
            c.execute(
                "UPDATE dsr_requests SET extended_due_at = $2, extension_reason = $3, extension_notified_at = $4, updated_at = $5 WHERE id = $1",
                &[id.into(), Val::Int(ms(due)), reason.trim().into(), Val::Int(ms(notified_at)), Val::Int(ms(now))],
            )?;
            insert_event(c, &self.next_id().to_string(), id, now, &actor_s, "extend", cur.status, cur.status, Some(reason.trim()))?;
            Ok(cur.person_id)
        })?;
        let mut e = AuditEntry::new(actor, AuditAction::DsrExtend).object("dsr", id);
        e.person_id = pid;
        self.audit(e);
        self.dsr(id)
    }

    /// Links a request to the person it concerns (once staff found her).
    pub fn link_dsr_person(&self, actor: AuditActor, id: &str, pid: PersonId) -> Result<Dsr> {
        let now = self.now();
        let actor_s = actor.as_string();
        self.db.write(|c| {
            let cur = load(c, id)?;
            if !cur.status.is_open() {
                return Err(invalid("person_id", "the request is closed"));
            }
            if c.query_opt(
                "SELECT id FROM persons WHERE id = $1",
                &[pid.to_string().into()],
            )?
            .is_none()
            {
                return Err(invalid("person_id", "is not a person of this installation"));
            }
            c.execute(
                "UPDATE dsr_requests SET person_id = $2, updated_at = $3 WHERE id = $1",
                &[id.into(), pid.to_string().into(), Val::Int(ms(now))],
            )?;
            insert_event(
                c,
                &self.next_id().to_string(),
                id,
                now,
                &actor_s,
                "link_person",
                cur.status,
                cur.status,
                None,
            )?;
            Ok(())
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::DsrStep)
                .object("dsr", id)
                .person(pid)
                .outcome("linked"),
        );
        self.dsr(id)
    }

    /// The requester's address, decrypted (to send the confirmation link or the answer).
    pub fn dsr_requester(&self, id: &str) -> Result<Option<String>> {
        let sealed = self.db.read(|c| {
            c.query_opt(
                "SELECT requester FROM dsr_requests WHERE id = $1",
                &[id.into()],
            )?
            .ok_or(StoreError::NotFound)?
            .get::<Option<Vec<u8>>>(0)
        })?;
        sealed
            .map(|b| {
                let plain = self.keys.installation_key().open(&requester_ctx(id), &b)?;
                String::from_utf8(plain).map_err(|_| StoreError::Corrupt("dsr requester".into()))
            })
            .transpose()
    }

    /// Creates a confirmation link token for a public request (single use, `valid` long).
    pub fn create_dsr_token(&self, id: &str, valid: jiff::SignedDuration) -> Result<String> {
        let token = klar_crypto::new_token("", &mut rand::rngs::OsRng);
        let h = klar_crypto::hash_token(self.keys.session_secret(), &token);
        let expires = self
            .now()
            .checked_add(valid)
            .map_err(|_| StoreError::Corrupt("expiry".into()))?;
        self.db.write(|c| {
            c.execute(
                "INSERT INTO dsr_tokens (token_hash, dsr_id, expires_at) VALUES ($1, $2, $3)",
                &[Val::Blob(h), id.into(), Val::Int(ms(expires))],
            )
        })?;
        Ok(token)
    }

    /// Looks a token up without using it (the confirmation page shows what it confirms).
    pub fn peek_dsr_token(&self, token: &str) -> Result<std::result::Result<Dsr, DsrTokenRefusal>> {
        let h = klar_crypto::hash_token(self.keys.session_secret(), token);
        let now = ms(self.now());
        let found = self.db.read(|c| token_dsr(c, &h, now))?;
        match found {
            Ok(id) => Ok(Ok(self.dsr(&id)?)),
            Err(r) => Ok(Err(r)),
        }
    }

    /// Uses a confirmation token once: the request's identity step is verified.
    pub fn confirm_dsr_token(
        &self,
        token: &str,
    ) -> Result<std::result::Result<Dsr, DsrTokenRefusal>> {
        let h = klar_crypto::hash_token(self.keys.session_secret(), token);
        let now = ms(self.now());
        let found = self.db.write(|c| {
            let id = match token_dsr(c, &h, now)? {
                Ok(id) => id,
                Err(r) => return Ok(Err(r)),
            };
            c.execute(
                "UPDATE dsr_tokens SET used_at = $2 WHERE token_hash = $1",
                &[Val::Blob(h.clone()), Val::Int(now)],
            )?;
            Ok(Ok(id))
        })?;
        match found {
            Err(r) => Ok(Err(r)),
            Ok(id) => {
                let cur = self.dsr(&id)?;
                if cur.status == DsrStatus::IdentityPending || cur.status == DsrStatus::Received {
                    Ok(Ok(self.step_dsr(
                        AuditActor::DataSubject,
                        &id,
                        DsrAction::Verify,
                        Some("confirmation link"),
                    )?))
                } else {
                    Ok(Ok(cur))
                }
            }
        }
    }
}

/// The request a confirmation token belongs to, if the token is still usable.
fn token_dsr(
    c: &Conn<'_>,
    h: &[u8],
    now: i64,
) -> Result<std::result::Result<String, DsrTokenRefusal>> {
    let Some(r) = c.query_opt(
        "SELECT dsr_id, expires_at, used_at FROM dsr_tokens WHERE token_hash = $1",
        &[Val::Blob(h.to_vec())],
    )?
    else {
        return Ok(Err(DsrTokenRefusal::Unknown));
    };
    if r.get::<Option<i64>>(2)?.is_some() {
        return Ok(Err(DsrTokenRefusal::Used));
    }
    if r.get::<i64>(1)? <= now {
        return Ok(Err(DsrTokenRefusal::Expired));
    }
    Ok(Ok(r.get(0)?))
}

#[allow(clippy::too_many_arguments)]
fn insert_event(
    c: &Conn<'_>,
    event_id: &str,
    dsr: &str,
    at: jiff::Timestamp,
    actor: &str,
    action: &str,
    from: DsrStatus,
    to: DsrStatus,
    note: Option<&str>,
) -> Result<()> {
    c.execute(
        "INSERT INTO dsr_events (id, dsr_id, at, actor, action, from_status, to_status, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            event_id.into(),
            dsr.into(),
            Val::Int(ms(at)),
            actor.into(),
            action.into(),
            from.as_str().into(),
            to.as_str().into(),
            note.map(str::to_owned).into(),
        ],
    )?;
    Ok(())
}
