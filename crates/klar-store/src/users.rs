//! Staff accounts, API tokens and web sessions. Tokens and session ids are stored only
//! as keyed hashes; passwords only as Argon2id hashes.

use crate::audit::{AuditAction, AuditActor, AuditEntry};
use crate::db::{Row, Val};
use crate::error::{Result, StoreError};
use crate::{Store, from_ms, id, ms};
use klar_crypto::{constant_time_eq, hash_token, new_token};
use klar_domain::ids::{TokenId, UserId};
use klar_domain::role::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub locale: Option<String>,
    pub active: bool,
    pub created_at: jiff::Timestamp,
}

/// A web session (see [`SessionStage`]: only a complete one is logged in).
#[derive(Debug, Clone)]
pub struct Session {
    /// The public id, shown in the list of sessions (the cookie's secret is never stored).
    pub id: String,
    pub user: User,
    pub csrf_token: String,
    pub stage: SessionStage,
    pub created_at: jiff::Timestamp,
    pub last_seen_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    /// Whether the account has confirmed a TOTP authenticator.
    pub totp_enabled: bool,
}

const SELECT: &str = "SELECT id, email, role, locale, active, created_at FROM users";

/// Staff emails are compared in lower case.
pub fn normalize_staff_email(e: &str) -> String {
    e.trim().to_lowercase()
}

impl Store {
    /// Creates a staff account. `password_hash` is an Argon2id PHC string (hashing is done by
    /// the caller, off the async runtime).
    pub fn create_user(&self, email: &str, role: Role, password_hash: &str) -> Result<User> {
        let now = self.now();
        let uid = UserId::from_uuid(self.next_id());
        let email = normalize_staff_email(email);
        self.db.write(|c| {
            if c.query_opt("SELECT id FROM users WHERE email = $1", &[email.as_str().into()])?.is_some() {
                return Err(StoreError::Conflict("a staff account with this email exists".into()));
            }
            c.execute(
                "INSERT INTO users (id, email, role, password_hash, active, created_at) VALUES ($1, $2, $3, $4, 1, $5)",
                &[uid.to_string().into(), email.as_str().into(), role.as_str().into(), password_hash.into(), Val::Int(ms(now))],
            )?;
            Ok(())
        })?;
        self.get_user(uid)
    }

    pub fn get_user(&self, uid: UserId) -> Result<User> {
        self.db.read(|c| {
            decode(&c.query_one(
                &format!("{SELECT} WHERE id = $1"),
                &[uid.to_string().into()],
            )?)
        })
    }

    pub fn user_by_email(&self, email: &str) -> Result<User> {
        let email = normalize_staff_email(email);
        self.db
            .read(|c| decode(&c.query_one(&format!("{SELECT} WHERE email = $1"), &[email.into()])?))
    }

    pub fn list_users(&self) -> Result<Vec<User>> {
        self.db.read(|c| {
            c.query(&format!("{SELECT} ORDER BY email"), &[])?
                .iter()
                .map(decode)
                .collect()
        })
    }

    /// The password hash of an active account, for login.
    pub fn password_hash(&self, email: &str) -> Result<Option<(User, String)>> {
        let email = normalize_staff_email(email);
        self.db.read(|c| {
            let Some(r) = c.query_opt(
                "SELECT id, email, role, locale, active, created_at, password_hash FROM users WHERE email = $1 AND active = 1",
                &[email.into()],
            )?
            else {
                return Ok(None);
            };
            let hash: Option<String> = r.get(6)?;
            hash.map(|h| (decode(&r), h)).map(|(u, h)| u.map(|u| (u, h))).transpose()
        })
    }

    pub fn set_user_locale(&self, uid: UserId, locale: Option<&str>) -> Result<()> {
        self.db.write(|c| {
            c.execute(
                "UPDATE users SET locale = $2 WHERE id = $1",
                &[uid.to_string().into(), locale.map(str::to_string).into()],
            )
        })?;
        Ok(())
    }

    /// Creates an API token and returns it; only its keyed hash is stored.
    pub fn create_token(&self, uid: UserId) -> Result<String> {
        let now = self.now();
        let mut rng = rand::rngs::OsRng;
        let token = new_token("klar_", &mut rng);
        let h = hash_token(self.keys.session_secret(), &token);
        let tid = TokenId::from_uuid(self.next_id());
        self.db.write(|c| {
            c.execute(
                "INSERT INTO api_tokens (id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4)",
                &[tid.to_string().into(), uid.to_string().into(), Val::Blob(h), Val::Int(ms(now))],
            )
        })?;
        Ok(token)
    }

    /// The active user an API token belongs to. Answers are cached for
    /// [`AUTH_CACHE_MS`]; revoking a token or disabling an account clears the cache.
    pub fn user_by_token(&self, token: &str) -> Result<Option<User>> {
        let h = hash_token(self.keys.session_secret(), token);
        let now = ms(self.now());
        if let Some(u) = self.auth_cache.get(&h, now) {
            return Ok(Some(u));
        }
        let found = self.user_by_token_hash(&h)?;
        match &found {
            Some(u) => self.auth_cache.put(h, u.clone(), now + AUTH_CACHE_MS),
            None => {
                // A token that was issued but is revoked, or whose account is disabled, is a
                // security event worth recording (by account id; garbage tokens are not).
                let owner = self.db.read(|c| {
                    c.query_opt(
                        "SELECT user_id FROM api_tokens WHERE token_hash = $1",
                        &[Val::Blob(h.clone())],
                    )?
                    .map(|r| id::<UserId>(r.get(0)?))
                    .transpose()
                })?;
                if let Some(uid) = owner {
                    self.audit(
                        AuditEntry::new(AuditActor::User(uid), AuditAction::AuthRefused)
                            .outcome("token_revoked"),
                    );
                }
            }
        }
        Ok(found)
    }

    fn user_by_token_hash(&self, h: &[u8]) -> Result<Option<User>> {
        let h = h.to_vec();
        self.db.read(|c| {
            let r = c.query_opt(
                "SELECT u.id, u.email, u.role, u.locale, u.active, u.created_at, t.token_hash FROM api_tokens t \
                 JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active = 1",
                &[Val::Blob(h.clone())],
            )?;
            match r {
                // The index lookup found it; compare once more in constant time.
                Some(r) if constant_time_eq(&r.get::<Vec<u8>>(6)?, &h) => Ok(Some(decode(&r)?)),
                _ => Ok(None),
            }
        })
    }

    /// Disables an account: its sessions end and its tokens stop working at once.
    pub fn disable_user(&self, uid: UserId) -> Result<()> {
        let now = ms(self.now());
        self.db.write(|c| {
            let n = c.execute(
                "UPDATE users SET active = 0 WHERE id = $1",
                &[uid.to_string().into()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            c.execute(
                "DELETE FROM sessions WHERE user_id = $1",
                &[uid.to_string().into()],
            )?;
            c.execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                &[uid.to_string().into(), Val::Int(now)],
            )?;
            Ok(())
        })?;
        self.auth_cache.clear();
        Ok(())
    }

    /// Gives an account another role; its sessions end so the new rights apply at once.
    pub fn set_user_role(&self, uid: UserId, role: Role) -> Result<User> {
        self.db.write(|c| {
            let n = c.execute(
                "UPDATE users SET role = $2 WHERE id = $1",
                &[uid.to_string().into(), role.as_str().into()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            c.execute(
                "DELETE FROM sessions WHERE user_id = $1",
                &[uid.to_string().into()],
            )?;
            Ok(())
        })?;
        self.auth_cache.clear();
        self.get_user(uid)
    }

    /// Enables a disabled account again (its old tokens stay revoked).
    pub fn enable_user(&self, uid: UserId) -> Result<User> {
        let n = self.db.write(|c| {
            c.execute(
                "UPDATE users SET active = 1 WHERE id = $1",
                &[uid.to_string().into()],
            )
        })?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_user(uid)
    }

    /// Replaces an account's password hash; other sessions of the account end.
    pub fn set_password_hash(
        &self,
        uid: UserId,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<()> {
        let keep = keep_session.map(|s| hash_token(self.keys.session_secret(), s));
        self.db.write(|c| {
            let n = c.execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[uid.to_string().into(), password_hash.into()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            match &keep {
                Some(h) => c.execute(
                    "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2",
                    &[uid.to_string().into(), Val::Blob(h.clone())],
                )?,
                None => c.execute(
                    "DELETE FROM sessions WHERE user_id = $1",
                    &[uid.to_string().into()],
                )?,
            };
            Ok(())
        })
    }

    /// The current password hash of an account (active or not).
    pub fn password_hash_of(&self, uid: UserId) -> Result<Option<String>> {
        self.db.read(|c| {
            c.query_one(
                "SELECT password_hash FROM users WHERE id = $1",
                &[uid.to_string().into()],
            )?
            .get(0)
        })
    }

    /// Revokes every API token of an account; returns how many were active.
    pub fn revoke_tokens(&self, uid: UserId) -> Result<u64> {
        let now = ms(self.now());
        let n = self.db.write(|c| {
            c.execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                &[uid.to_string().into(), Val::Int(now)],
            )
        })?;
        self.auth_cache.clear();
        Ok(n)
    }

    /// Starts a web session at `stage`; returns the secret session id for the cookie. The
    /// session ends `max` after it began (absolute timeout), whatever happens in between.
    pub fn create_session(
        &self,
        uid: UserId,
        stage: SessionStage,
        max: jiff::SignedDuration,
        origin: &SessionOrigin,
    ) -> Result<(String, Session)> {
        let now = self.now();
        let expires = now
            .checked_add(max)
            .map_err(|_| StoreError::Corrupt("session expiry".into()))?;
        self.insert_session(uid, stage, now, expires, origin)
    }

    fn insert_session(
        &self,
        uid: UserId,
        stage: SessionStage,
        created: jiff::Timestamp,
        expires: jiff::Timestamp,
        origin: &SessionOrigin,
    ) -> Result<(String, Session)> {
        let now = self.now();
        let mut rng = rand::rngs::OsRng;
        let sid = new_token("", &mut rng);
        let csrf = new_token("", &mut rng);
        let public_id = self.next_id().to_string();
        self.db.write(|c| {
            c.execute("DELETE FROM sessions WHERE expires_at < $1", &[Val::Int(ms(now))])?;
            c.execute(
                "INSERT INTO sessions (id, id_hash, user_id, csrf_token, stage, created_at, last_seen_at, expires_at, client_net, user_agent) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    public_id.as_str().into(),
                    Val::Blob(hash_token(self.keys.session_secret(), &sid)),
                    uid.to_string().into(),
                    csrf.as_str().into(),
                    stage.as_str().into(),
                    Val::Int(ms(created)),
                    Val::Int(ms(now)),
                    Val::Int(ms(expires)),
                    origin.client_net.clone().into(),
                    origin.user_agent.clone().into(),
                ],
            )
        })?;
        match self.session(&sid, jiff::SignedDuration::MAX)? {
            SessionLookup::Active(s) => Ok((sid, s)),
            _ => Err(StoreError::Corrupt("a new session is not there".into())),
        }
    }

    /// The session behind a cookie. A session unused for `idle` or older than its absolute
    /// lifetime ends here (deleted, and recorded in the audit trail); a used one has its last
    /// request time refreshed (at most once a minute, to spare the writer).
    pub fn session(&self, sid: &str, idle: jiff::SignedDuration) -> Result<SessionLookup> {
        let now = self.now();
        let h = hash_token(self.keys.session_secret(), sid);
        let found = self.db.read(|c| {
            let r = c.query_opt(
                "SELECT u.id, u.email, u.role, u.locale, u.active, u.created_at, s.csrf_token, s.expires_at, s.id, s.stage, \
                 s.created_at, s.last_seen_at, (SELECT COUNT(*) FROM user_totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL) \
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND u.active = 1",
                &[Val::Blob(h.clone())],
            )?;
            r.map(|r| {
                Ok(Session {
                    user: decode(&r)?,
                    csrf_token: r.get(6)?,
                    expires_at: from_ms(r.get(7)?)?,
                    id: r.get(8)?,
                    stage: SessionStage::parse(&r.get::<String>(9)?)?,
                    created_at: from_ms(r.get(10)?)?,
                    last_seen_at: from_ms(r.get(11)?)?,
                    totp_enabled: r.get::<i64>(12)? > 0,
                })
            })
            .transpose()
        })?;
        let Some(s) = found else {
            return Ok(SessionLookup::Unknown);
        };
        let idle_end = s.last_seen_at.checked_add(idle).unwrap_or(s.expires_at);
        let reason = if now >= s.expires_at {
            Some("absolute")
        } else if now >= idle_end {
            Some("idle")
        } else {
            None
        };
        if let Some(reason) = reason {
            self.db
                .write(|c| c.execute("DELETE FROM sessions WHERE id_hash = $1", &[Val::Blob(h)]))?;
            self.audit(
                AuditEntry::new(AuditActor::User(s.user.id), AuditAction::SessionExpired)
                    .object("session", &s.id)
                    .outcome(reason),
            );
            return Ok(SessionLookup::Expired { user_id: s.user.id });
        }
        if ms(now) - ms(s.last_seen_at) >= TOUCH_EVERY_MS {
            self.db.write(|c| {
                c.execute(
                    "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1",
                    &[Val::Blob(h), Val::Int(ms(now))],
                )
            })?;
        }
        Ok(SessionLookup::Active(s))
    }

    /// The second factor was given: the half-logged-in session is replaced by a complete one
    /// under a new id (the old cookie stops working); the absolute lifetime still counts from
    /// the password step.
    pub fn complete_session(&self, sid: &str, origin: &SessionOrigin) -> Result<(String, Session)> {
        let h = hash_token(self.keys.session_secret(), sid);
        let row = self.db.write(|c| {
            let r = c.query_opt(
                "SELECT user_id, created_at, expires_at FROM sessions WHERE id_hash = $1",
                &[Val::Blob(h.clone())],
            )?;
            c.execute(
                "DELETE FROM sessions WHERE id_hash = $1",
                &[Val::Blob(h.clone())],
            )?;
            r.map(|r| {
                Ok((
                    id::<UserId>(r.get(0)?)?,
                    from_ms(r.get(1)?)?,
                    from_ms(r.get(2)?)?,
                ))
            })
            .transpose()
        })?;
        let (uid, created, expires) = row.ok_or(StoreError::NotFound)?;
        self.insert_session(uid, SessionStage::Complete, created, expires, origin)
    }

    /// An account's sessions that have not ended, newest first.
    pub fn list_sessions(&self, uid: UserId) -> Result<Vec<SessionInfo>> {
        let now = ms(self.now());
        self.db.read(|c| {
            c.query(
                "SELECT id, stage, created_at, last_seen_at, expires_at, client_net, user_agent FROM sessions \
                 WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC",
                &[uid.to_string().into(), Val::Int(now)],
            )?
            .iter()
            .map(|r| {
                Ok(SessionInfo {
                    id: r.get(0)?,
                    stage: SessionStage::parse(&r.get::<String>(1)?)?,
                    created_at: from_ms(r.get(2)?)?,
                    last_seen_at: from_ms(r.get(3)?)?,
                    expires_at: from_ms(r.get(4)?)?,
                    client_net: r.get(5)?,
                    user_agent: r.get(6)?,
                })
            })
            .collect()
        })
    }

    /// Ends one of an account's sessions by its public id; false when it has no such session.
    pub fn revoke_session(&self, uid: UserId, session_id: &str) -> Result<bool> {
        let n = self.db.write(|c| {
            c.execute(
                "DELETE FROM sessions WHERE user_id = $1 AND id = $2",
                &[uid.to_string().into(), session_id.into()],
            )
        })?;
        if n > 0 {
            self.audit(
                AuditEntry::new(AuditActor::User(uid), AuditAction::SessionRevoke)
                    .object("session", session_id)
                    .outcome("one"),
            );
        }
        Ok(n > 0)
    }

    /// Ends every session of an account ("log out everywhere"); returns how many.
    pub fn revoke_all_sessions(&self, uid: UserId) -> Result<u64> {
        let n = self.db.write(|c| {
            c.execute(
                "DELETE FROM sessions WHERE user_id = $1",
                &[uid.to_string().into()],
            )
        })?;
        self.audit(
            AuditEntry::new(AuditActor::User(uid), AuditAction::SessionRevoke)
                .object("user", uid)
                .outcome("all"),
        );
        Ok(n)
    }

    pub fn delete_session(&self, sid: &str) -> Result<()> {
        let h = hash_token(self.keys.session_secret(), sid);
        self.db
            .write(|c| c.execute("DELETE FROM sessions WHERE id_hash = $1", &[Val::Blob(h)]))?;
        Ok(())
    }
}

/// How often a session's last request time is written at most.
const TOUCH_EVERY_MS: i64 = 60_000;

/// How far a web session has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// The password was right; the second factor is still missing. Grants nothing but the
    /// code page and logout.
    Password,
    /// Logged in.
    Complete,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Complete => "complete",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "password" => Ok(Self::Password),
            "complete" => Ok(Self::Complete),
            _ => Err(StoreError::Corrupt("session stage".into())),
        }
    }
}

/// Where a session was started from, as shown on the user's session list: a truncated
/// address and a truncated user agent.
#[derive(Debug, Clone, Default)]
pub struct SessionOrigin {
    pub client_net: Option<String>,
    pub user_agent: Option<String>,
}

/// The answer for a session cookie.
#[derive(Debug, Clone)]
pub enum SessionLookup {
    Active(Session),
    /// It ran out (idle or absolute) and has just been ended.
    Expired {
        user_id: UserId,
    },
    /// No such session (never issued, logged out, revoked, or the account is disabled).
    Unknown,
}

/// A session as its owner sees it in the list of his sessions.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: String,
    pub stage: SessionStage,
    pub created_at: jiff::Timestamp,
    pub last_seen_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    pub client_net: Option<String>,
    pub user_agent: Option<String>,
}

/// How long a verified API token is trusted without asking the database again.
pub const AUTH_CACHE_MS: i64 = 2_000;
const AUTH_CACHE_MAX: usize = 10_000;

/// Verified tokens (by keyed hash) and their users; only positive answers are kept.
#[derive(Debug, Default)]
pub struct AuthCache {
    map: std::sync::Mutex<std::collections::HashMap<Vec<u8>, (User, i64)>>,
}

impl AuthCache {
    fn get(&self, h: &[u8], now: i64) -> Option<User> {
        let map = self.map.lock().ok()?;
        map.get(h)
            .filter(|(_, until)| *until > now)
            .map(|(u, _)| u.clone())
    }

    fn put(&self, h: Vec<u8>, u: User, until: i64) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= AUTH_CACHE_MAX {
                map.retain(|_, (_, t)| *t > until - AUTH_CACHE_MS);
                if map.len() >= AUTH_CACHE_MAX {
                    map.clear();
                }
            }
            map.insert(h, (u, until));
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
    }
}

fn decode(r: &Row) -> Result<User> {
    Ok(User {
        id: id(r.get::<String>(0)?)?,
        email: r.get(1)?,
        role: Role::parse(&r.get::<String>(2)?).map_err(|_| StoreError::Corrupt("role".into()))?,
        locale: r.get(3)?,
        active: r.get(4)?,
        created_at: from_ms(r.get(5)?)?,
    })
}
