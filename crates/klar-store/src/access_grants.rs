//! Break-glass access (decision 0016): an administrator, who may not read customer data,
//! asks to read ONE person for a limited time and gives a reason; a privacy officer other
//! than himself approves or refuses. An approved grant is in force from its approval until
//! `expires_at`; that is computed from the store's clock on every check, so nothing has to
//! run to end it. The reason is sealed under the installation key (it may name her).

use crate::audit::{AuditAction, AuditEntry};
use crate::db::{Row, Val};
use crate::error::{Result, StoreError};
use crate::{Actor, Store, from_ms, ms};
use klar_crypto::Context;
use klar_domain::DomainError;
use klar_domain::error::Errors;
use klar_domain::ids::{PersonId, UserId};

/// The longest window a grant may ask for.
pub const MAX_MINUTES: i64 = 240;
/// The longest reason, in characters.
pub const MAX_REASON: usize = 1000;

/// Where a grant stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// Waiting for a privacy officer.
    Requested,
    /// Approved and not yet expired: the requester may read the person.
    Approved,
    Refused,
    /// Approved, and its window has passed.
    Expired,
}

impl GrantState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Refused => "refused",
            Self::Expired => "expired",
        }
    }
}

/// A grant as stored, with its state at the time it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    pub id: String,
    pub person_id: PersonId,
    pub requested_by: UserId,
    pub reason: String,
    pub minutes: i64,
    pub requested_at: jiff::Timestamp,
    pub state: GrantState,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<jiff::Timestamp>,
    pub expires_at: Option<jiff::Timestamp>,
}

/// What an administrator asks for.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub person_id: PersonId,
    pub reason: String,
    pub minutes: i64,
}

fn reason_ctx(id: &str) -> Context<'_> {
    Context {
        table: "access_grants",
        column: "reason",
        row_id: id,
        key_version: 1,
    }
}

const SELECT: &str = "SELECT id, person_id, requested_by, reason, minutes, requested_at, status, \
     decided_by, decided_at, expires_at FROM access_grants";

fn opt_id<T: std::str::FromStr>(v: Option<String>) -> Result<Option<T>> {
    v.map(crate::id).transpose()
}

impl Store {
    fn decode_grant(&self, r: &Row, now: jiff::Timestamp) -> Result<AccessGrant> {
        let id: String = r.get(0)?;
        let sealed: Vec<u8> = r.get(3)?;
        let reason = String::from_utf8(
            self.keys
                .installation_key()
                .open(&reason_ctx(&id), &sealed)?,
        )
        .map_err(|_| StoreError::Corrupt("grant reason".into()))?;
        let status: String = r.get(6)?;
        let expires_at = r.get::<Option<i64>>(9)?.map(from_ms).transpose()?;
        let state = match status.as_str() {
            "requested" => GrantState::Requested,
            "refused" => GrantState::Refused,
            "approved" if expires_at.is_some_and(|e| now < e) => GrantState::Approved,
            "approved" => GrantState::Expired,
            _ => return Err(StoreError::Corrupt("grant status".into())),
        };
        Ok(AccessGrant {
            person_id: crate::id(r.get::<String>(1)?)?,
            requested_by: crate::id(r.get::<String>(2)?)?,
            reason,
            minutes: r.get(4)?,
            requested_at: from_ms(r.get(5)?)?,
            state,
            decided_by: opt_id(r.get(7)?)?,
            decided_at: r.get::<Option<i64>>(8)?.map(from_ms).transpose()?,
            expires_at,
            id,
        })
    }

    /// Records an administrator's request to read one person. The person must exist.
    pub fn request_access_grant(&self, requester: UserId, new: &NewGrant) -> Result<AccessGrant> {
        let mut errs = Errors::new();
        let reason = new.reason.trim();
        if reason.is_empty() {
            errs.push(
                "reason",
                "is required: say why you need to read this person",
            );
        } else if reason.chars().count() > MAX_REASON {
            errs.push("reason", format!("is longer than {MAX_REASON} characters"));
        }
        if !(1..=MAX_MINUTES).contains(&new.minutes) {
            errs.push("minutes", format!("must be between 1 and {MAX_MINUTES}"));
        }
        errs.finish().map_err(StoreError::Invalid)?;
        let now = self.now();
        let id = self.next_id().to_string();
        let sid = new.person_id.to_string();
        let sealed = self.keys.installation_key().seal(
            &reason_ctx(&id),
            reason.as_bytes(),
            &mut rand::rngs::OsRng,
        )?;
        self.db.write(|c| {
            if c.query_opt("SELECT id FROM persons WHERE id = $1", &[sid.as_str().into()])?
                .is_none()
            {
                return Err(StoreError::Invalid(DomainError::field(
                    "person_id",
                    "is not a person of this installation",
                )));
            }
            c.execute(
                "INSERT INTO access_grants (id, person_id, requested_by, reason, minutes, requested_at, status) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'requested')",
                &[
                    id.as_str().into(),
                    sid.as_str().into(),
                    requester.to_string().into(),
                    Val::Blob(sealed.clone()),
                    Val::Int(new.minutes),
                    Val::Int(ms(now)),
                ],
            )?;
            Ok(())
        })?;
        self.audit(
            AuditEntry::new(Actor::user(requester), AuditAction::AccessGrantRequest)
                .person(new.person_id)
                .object("access_grant", &id)
                .outcome(&new.minutes.to_string()),
        );
        self.access_grant(&id)
    }

    /// Approves (`approve = true`) or refuses a requested grant. Four eyes: the requester
    /// cannot decide his own request. An approved grant runs from now for its minutes.
    pub fn decide_access_grant(
        &self,
        decider: UserId,
        id: &str,
        approve: bool,
    ) -> Result<AccessGrant> {
        let now = self.now();
        let g = self.access_grant(id)?;
        if g.requested_by == decider {
            return Err(StoreError::Conflict(
                "the requester of a grant cannot decide it himself (four eyes)".into(),
            ));
        }
        let (status, expires) = if approve {
            (
                "approved",
                Val::Int(ms(now) + g.minutes.saturating_mul(60_000)),
            )
        } else {
            ("refused", Val::Null)
        };
        let changed = self.db.write(|c| {
            c.execute(
                "UPDATE access_grants SET status = $1, decided_by = $2, decided_at = $3, expires_at = $4 \
                 WHERE id = $5 AND status = 'requested'",
                &[
                    status.into(),
                    decider.to_string().into(),
                    Val::Int(ms(now)),
                    expires,
                    id.into(),
                ],
            )
        })?;
        if changed == 0 {
            return Err(StoreError::Conflict(
                "this grant has already been decided".into(),
            ));
        }
        self.audit(
            AuditEntry::new(
                Actor::user(decider),
                if approve {
                    AuditAction::AccessGrantApprove
                } else {
                    AuditAction::AccessGrantRefuse
                },
            )
            .person(g.person_id)
            .object("access_grant", id),
        );
        self.access_grant(id)
    }

    pub fn access_grant(&self, id: &str) -> Result<AccessGrant> {
        let now = self.now();
        let row = self.db.read(|c| {
            c.query_opt(&format!("{SELECT} WHERE id = $1"), &[id.into()])?
                .ok_or(StoreError::NotFound)
        })?;
        self.decode_grant(&row, now)
    }

    /// All grants, newest first; only `requester`'s when given.
    pub fn access_grants(&self, requester: Option<UserId>) -> Result<Vec<AccessGrant>> {
        let now = self.now();
        let rows = self.db.read(|c| match requester {
            None => c.query(&format!("{SELECT} ORDER BY id DESC"), &[]),
            Some(u) => c.query(
                &format!("{SELECT} WHERE requested_by = $1 ORDER BY id DESC"),
                &[u.to_string().into()],
            ),
        })?;
        rows.iter().map(|r| self.decode_grant(r, now)).collect()
    }

    /// The id of a grant in force now that lets `user` read `person`, if there is one.
    pub fn grant_in_force(&self, user: UserId, person: PersonId) -> Result<Option<String>> {
        let now = ms(self.now());
        self.db.read(|c| {
            c.query_opt(
                "SELECT id FROM access_grants WHERE requested_by = $1 AND person_id = $2 \
                 AND status = 'approved' AND expires_at > $3 ORDER BY expires_at DESC LIMIT 1",
                &[
                    user.to_string().into(),
                    person.to_string().into(),
                    Val::Int(now),
                ],
            )?
            .map(|r| r.get::<String>(0))
            .transpose()
        })
    }
}
