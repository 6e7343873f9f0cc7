//! Staff accounts, API tokens and web sessions. Tokens and session ids are stored only
//! as keyed hashes; passwords only as Argon2id hashes.

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

/// A logged-in web session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: jiff::Timestamp,
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
        if let Some(u) = &found {
            self.auth_cache.put(h, u.clone(), now + AUTH_CACHE_MS);
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

    /// Starts a web session; returns the session id for the cookie.
    pub fn create_session(
        &self,
        uid: UserId,
        ttl: jiff::SignedDuration,
    ) -> Result<(String, Session)> {
        let now = self.now();
        let mut rng = rand::rngs::OsRng;
        let sid = new_token("", &mut rng);
        let csrf = new_token("", &mut rng);
        let expires = now
            .checked_add(ttl)
            .map_err(|_| StoreError::Corrupt("session expiry".into()))?;
        self.db.write(|c| {
            c.execute("DELETE FROM sessions WHERE expires_at < $1", &[Val::Int(ms(now))])?;
            c.execute(
                "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                &[
                    Val::Blob(hash_token(self.keys.session_secret(), &sid)),
                    uid.to_string().into(),
                    csrf.as_str().into(),
                    Val::Int(ms(now)),
                    Val::Int(ms(expires)),
                ],
            )
        })?;
        let user = self.get_user(uid)?;
        Ok((
            sid,
            Session {
                user,
                csrf_token: csrf,
                expires_at: expires,
            },
        ))
    }

    pub fn session(&self, sid: &str) -> Result<Option<Session>> {
        let now = self.now();
        let h = hash_token(self.keys.session_secret(), sid);
        self.db.read(|c| {
            let r = c.query_opt(
                "SELECT u.id, u.email, u.role, u.locale, u.active, u.created_at, s.csrf_token, s.expires_at FROM sessions s \
                 JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.active = 1",
                &[Val::Blob(h), Val::Int(ms(now))],
            )?;
            r.map(|r| Ok(Session { user: decode(&r)?, csrf_token: r.get(6)?, expires_at: from_ms(r.get(7)?)? }))
                .transpose()
        })
    }

    pub fn delete_session(&self, sid: &str) -> Result<()> {
        let h = hash_token(self.keys.session_secret(), sid);
        self.db
            .write(|c| c.execute("DELETE FROM sessions WHERE id_hash = $1", &[Val::Blob(h)]))?;
        Ok(())
    }
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
