//! Second factor and login throttling.
//!
//! - TOTP secrets are sealed under the installation key, bound to `user_totp.secret` and the
//!   user's id; the last time step used is stored so no code is accepted twice.
//! - Recovery codes are stored as keyed hashes and used at most once.
//! - Login failures are counted per account and per source address under keyed hashes of the
//!   normalised email and of the address: the table names neither, and an unknown account is
//!   throttled exactly like a known one. After a threshold every further failure doubles the
//!   wait (from 1 s up to 15 min); the count starts over after an hour without failures, and
//!   a complete login clears the count of its account and of its address.

use crate::audit::{AuditAction, AuditActor, AuditEntry};
use crate::db::{Conn, Val};
use crate::error::{Result, StoreError};
use crate::users::normalize_staff_email;
use crate::{Store, ms};
use klar_crypto::totp::{self, Verdict};
use klar_crypto::{Context, hash_token};
use klar_domain::ids::UserId;

/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;
/// Failures of one account before it waits.
pub const ACCOUNT_FREE_FAILURES: i64 = 5;
/// Failures from one source address before it waits (higher: offices share addresses).
pub const ADDRESS_FREE_FAILURES: i64 = 20;
/// The first wait, doubled with every further failure.
pub const FIRST_DELAY_MS: i64 = 1_000;
/// The longest wait.
pub const MAX_DELAY_MS: i64 = 15 * 60 * 1_000;
/// An hour without failures forgets the count.
const FORGET_AFTER_MS: i64 = 3600 * 1_000;

/// The answer to a second-factor code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    Totp,
    RecoveryCode,
    /// The code was right once but has been used already.
    Replayed,
    Wrong,
}

/// Whether an account has an authenticator, and how many recovery codes are left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpStatus {
    pub enabled: bool,
    pub recovery_codes_left: usize,
}

fn secret_ctx(uid: &str) -> Context<'_> {
    Context {
        table: "user_totp",
        column: "secret",
        row_id: uid,
        key_version: 1,
    }
}

/// Recovery codes are compared without dashes, spaces and case.
fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A recovery code: 10 characters from an alphabet without look-alikes (50 bits), shown as
/// `XXXXX-XXXXX`.
fn new_recovery_code(rng: &mut dyn rand::RngCore) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[(rng.next_u32() % 32) as usize]));
    }
    out
}

impl Store {
    fn recovery_hash(&self, code: &str) -> Vec<u8> {
        hash_token(
            self.keys.session_secret(),
            &format!("recovery:{}", normalize_recovery(code)),
        )
    }

    pub fn totp_status(&self, uid: UserId) -> Result<TotpStatus> {
        self.db.read(|c| {
            let enabled = c
                .query_opt(
                    "SELECT user_id FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
                    &[uid.to_string().into()],
                )?
                .is_some();
            let left: i64 = c
                .query_one(
                    "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                    &[uid.to_string().into()],
                )?
                .get(0)?;
            Ok(TotpStatus {
                enabled,
                recovery_codes_left: usize::try_from(left).unwrap_or(0),
            })
        })
    }

    /// The secret to enrol: the pending one if enrolment was started before (so reloading
    /// the page does not invalidate what the app already scanned), else a new one.
    /// Refused when the account already has a confirmed authenticator.
    pub fn totp_begin(&self, uid: UserId) -> Result<Vec<u8>> {
        let now = ms(self.now());
        let u = uid.to_string();
        let fresh = totp::new_secret(&mut rand::rngs::OsRng);
        let sealed =
            self.keys
                .installation_key()
                .seal(&secret_ctx(&u), &fresh, &mut rand::rngs::OsRng)?;
        let stored = self.db.write(|c| {
            match c.query_opt(
                "SELECT secret, confirmed_at FROM user_totp WHERE user_id = $1",
                &[u.as_str().into()],
            )? {
                Some(r) if r.get::<Option<i64>>(1)?.is_some() => Err(StoreError::Conflict(
                    "the account already has an authenticator".into(),
                )),
                Some(r) => Ok(r.get::<Vec<u8>>(0)?),
                None => {
                    c.execute(
                        "INSERT INTO user_totp (user_id, secret, created_at) VALUES ($1, $2, $3)",
                        &[u.as_str().into(), Val::Blob(sealed.clone()), Val::Int(now)],
                    )?;
                    Ok(sealed)
                }
            }
        })?;
        Ok(self
            .keys
            .installation_key()
            .open(&secret_ctx(&u), &stored)?)
    }

    /// Confirms the pending authenticator with a code from it. On success the authenticator
    /// is active, the code's step is used up, and ten new recovery codes are returned (shown
    /// once; only their hashes are kept). `None` when the code is wrong.
    pub fn totp_confirm(&self, uid: UserId, code: &str) -> Result<Option<Vec<String>>> {
        let now = self.now();
        let u = uid.to_string();
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| new_recovery_code(&mut rand::rngs::OsRng))
            .collect();
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| self.recovery_hash(c)).collect();
        let ok = self.db.write(|c| {
            let Some(r) = c.query_opt(
                "SELECT secret FROM user_totp WHERE user_id = $1 AND confirmed_at IS NULL",
                &[u.as_str().into()],
            )?
            else {
                return Ok(false);
            };
            let secret = self
                .keys
                .installation_key()
                .open(&secret_ctx(&u), &r.get::<Vec<u8>>(0)?)?;
            let Verdict::Ok(step) = totp::verify(&secret, code, now.as_second(), None) else {
                return Ok(false);
            };
            c.execute(
                "UPDATE user_totp SET confirmed_at = $2, last_step = $3 WHERE user_id = $1",
                &[u.as_str().into(), Val::Int(ms(now)), Val::Int(step)],
            )?;
            replace_recovery_codes(c, &u, &hashes, ms(now))?;
            Ok(true)
        })?;
        if !ok {
            self.audit(
                AuditEntry::new(AuditActor::User(uid), AuditAction::TotpEnroll).outcome("wrong"),
            );
            return Ok(None);
        }
        self.audit(AuditEntry::new(AuditActor::User(uid), AuditAction::TotpEnroll).outcome("ok"));
        Ok(Some(codes))
    }

    /// Checks a second-factor code: a 6-digit TOTP code (its step, and every earlier one, is
    /// used up) or a recovery code (used up). Atomic, so two requests cannot both use a code.
    pub fn verify_second_factor(&self, uid: UserId, code: &str) -> Result<SecondFactor> {
        let now = self.now();
        let u = uid.to_string();
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            return self.db.write(|c| {
                let Some(r) = c.query_opt(
                    "SELECT secret, last_step FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
                    &[u.as_str().into()],
                )?
                else {
                    return Ok(SecondFactor::Wrong);
                };
                let secret = self
                    .keys
                    .installation_key()
                    .open(&secret_ctx(&u), &r.get::<Vec<u8>>(0)?)?;
                match totp::verify(&secret, &digits, now.as_second(), r.get(1)?) {
                    Verdict::Ok(step) => {
                        let n = c.execute(
                            "UPDATE user_totp SET last_step = $2 WHERE user_id = $1 AND (last_step IS NULL OR last_step < $2)",
                            &[u.as_str().into(), Val::Int(step)],
                        )?;
                        Ok(if n == 1 {
                            SecondFactor::Totp
                        } else {
                            SecondFactor::Replayed
                        })
                    }
                    Verdict::Replayed => Ok(SecondFactor::Replayed),
                    Verdict::Wrong => Ok(SecondFactor::Wrong),
                }
            });
        }
        let h = self.recovery_hash(code);
        self.db.write(|c| {
            let n = c.execute(
                "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                &[u.as_str().into(), Val::Blob(h.clone()), Val::Int(ms(now))],
            )?;
            if n == 1 {
                return Ok(SecondFactor::RecoveryCode);
            }
            let used = c
                .query_opt(
                    "SELECT used_at FROM recovery_codes WHERE user_id = $1 AND code_hash = $2",
                    &[u.as_str().into(), Val::Blob(h.clone())],
                )?
                .is_some();
            Ok(if used {
                SecondFactor::Replayed
            } else {
                SecondFactor::Wrong
            })
        })
    }

    /// Ten new recovery codes for an account with an authenticator; the old ones stop working.
    pub fn new_recovery_codes(&self, uid: UserId) -> Result<Vec<String>> {
        let now = ms(self.now());
        let u = uid.to_string();
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| new_recovery_code(&mut rand::rngs::OsRng))
            .collect();
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| self.recovery_hash(c)).collect();
        self.db.write(|c| {
            if c.query_opt(
                "SELECT user_id FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
                &[u.as_str().into()],
            )?
            .is_none()
            {
                return Err(StoreError::NotFound);
            }
            replace_recovery_codes(c, &u, &hashes, now)
        })?;
        self.audit(AuditEntry::new(
            AuditActor::User(uid),
            AuditAction::RecoveryCodesNew,
        ));
        Ok(codes)
    }

    /// Removes an account's authenticator and recovery codes (a lost device; done by the
    /// operator) and ends its sessions. Returns whether there was one.
    pub fn totp_reset(&self, uid: UserId, actor: AuditActor) -> Result<bool> {
        let u = uid.to_string();
        let n = self.db.write(|c| {
            c.execute(
                "DELETE FROM recovery_codes WHERE user_id = $1",
                &[u.as_str().into()],
            )?;
            c.execute(
                "DELETE FROM sessions WHERE user_id = $1",
                &[u.as_str().into()],
            )?;
            c.execute(
                "DELETE FROM user_totp WHERE user_id = $1",
                &[u.as_str().into()],
            )
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::TotpReset)
                .object("user", uid)
                .outcome(if n > 0 { "ok" } else { "none" }),
        );
        Ok(n > 0)
    }

    fn throttle_keys(&self, email: &str, address: Option<&str>) -> Vec<(Vec<u8>, i64)> {
        let secret = self.keys.session_secret();
        let mut keys = vec![(
            hash_token(
                secret,
                &format!("throttle-account:{}", normalize_staff_email(email)),
            ),
            ACCOUNT_FREE_FAILURES,
        )];
        if let Some(a) = address {
            keys.push((
                hash_token(secret, &format!("throttle-address:{a}")),
                ADDRESS_FREE_FAILURES,
            ));
        }
        keys
    }

    /// Milliseconds to wait before a login for this account from this address is checked
    /// again; `None` when it may be checked now.
    pub fn login_wait(&self, email: &str, address: Option<&str>) -> Result<Option<i64>> {
        let now = ms(self.now());
        let keys = self.throttle_keys(email, address);
        self.db.read(|c| {
            let mut wait = None;
            for (k, _) in &keys {
                if let Some(r) = c.query_opt(
                    "SELECT blocked_until FROM login_throttle WHERE key_hash = $1",
                    &[Val::Blob(k.clone())],
                )? {
                    let until: i64 = r.get(0)?;
                    if until > now {
                        wait = Some(wait.map_or(until - now, |w: i64| w.max(until - now)));
                    }
                }
            }
            Ok(wait)
        })
    }

    /// Counts a failed password or code for the account and the address. Returns the wait
    /// now imposed (milliseconds), if any.
    pub fn login_failed(&self, email: &str, address: Option<&str>) -> Result<Option<i64>> {
        let now = ms(self.now());
        let keys = self.throttle_keys(email, address);
        self.db.write(|c| {
            let mut wait = None;
            for (k, free) in &keys {
                let prev = c
                    .query_opt(
                        "SELECT failures, last_failure_at FROM login_throttle WHERE key_hash = $1",
                        &[Val::Blob(k.clone())],
                    )?
                    .map(|r| Ok::<_, StoreError>((r.get::<i64>(0)?, r.get::<i64>(1)?)))
                    .transpose()?;
                let failures = match prev {
                    Some((n, last)) if now - last < FORGET_AFTER_MS => n + 1,
                    _ => 1,
                };
                let delay = delay_after(failures, *free);
                c.execute(
                    "INSERT INTO login_throttle (key_hash, failures, last_failure_at, blocked_until) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key_hash) DO UPDATE SET failures = $2, last_failure_at = $3, blocked_until = $4",
                    &[Val::Blob(k.clone()), Val::Int(failures), Val::Int(now), Val::Int(now + delay)],
                )?;
                if delay > 0 {
                    wait = Some(wait.map_or(delay, |w: i64| w.max(delay)));
                }
            }
            Ok(wait)
        })
    }

    /// A complete login forgets the failures of its account and of its address (so an
    /// office behind one address is not held up by its colleagues' typos; guessing at other
    /// accounts from there still meets each account's own count).
    pub fn login_succeeded(&self, email: &str, address: Option<&str>) -> Result<()> {
        let keys = self.throttle_keys(email, address);
        self.db.write(|c| {
            for (k, _) in &keys {
                c.execute(
                    "DELETE FROM login_throttle WHERE key_hash = $1",
                    &[Val::Blob(k.clone())],
                )?;
            }
            Ok(())
        })
    }
}

/// The wait after the `failures`-th failure when `free` failures are free: 0 up to `free`,
/// then 1 s, 2 s, 4 s, … up to 15 min.
pub fn delay_after(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(20);
    FIRST_DELAY_MS
        .saturating_mul(1i64 << doublings)
        .min(MAX_DELAY_MS)
}

fn replace_recovery_codes(c: &Conn<'_>, uid: &str, hashes: &[Vec<u8>], now: i64) -> Result<()> {
    c.execute(
        "DELETE FROM recovery_codes WHERE user_id = $1",
        &[uid.into()],
    )?;
    for h in hashes {
        c.execute(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            &[uid.into(), Val::Blob(h.clone()), Val::Int(now)],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_starts_at_the_threshold_and_doubles_up_to_fifteen_minutes() {
        assert_eq!(delay_after(4, 5), 0);
        assert_eq!(delay_after(5, 5), 1_000);
        assert_eq!(delay_after(6, 5), 2_000);
        assert_eq!(delay_after(7, 5), 4_000);
        assert_eq!(delay_after(14, 5), 512_000);
        assert_eq!(delay_after(15, 5), MAX_DELAY_MS);
        assert_eq!(delay_after(1_000, 5), MAX_DELAY_MS);
    }

    #[test]
    fn recovery_codes_are_ten_unambiguous_characters_compared_loosely() {
        let c = new_recovery_code(&mut rand::rngs::OsRng);
        assert_eq!(c.len(), 11);
        assert_eq!(&c[5..6], "-");
        assert!(!c.contains(['0', 'O', '1', 'I']));
        assert_eq!(
            normalize_recovery(&c.to_lowercase().replace('-', " ")),
            c.replace('-', "")
        );
    }
}
