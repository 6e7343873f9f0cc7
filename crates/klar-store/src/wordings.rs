//! Consent wordings: the exact text a person was shown when she consented, stored once per
//! version with its SHA-256, never changed afterwards. A grant names the version; the hash
//! lets anyone check later that the text on file is the text that was shown.

use crate::audit::{AuditAction, AuditEntry};
use crate::db::Val;
use crate::error::{Result, StoreError};
use crate::{Actor, Store, from_ms, ms};
use klar_domain::DomainError;
use sha2::{Digest, Sha256};

/// One stored wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wording {
    pub version: String,
    pub purpose: String,
    /// `de` or `en`.
    pub locale: String,
    pub text: String,
    /// Hex SHA-256 of the UTF-8 text.
    pub sha256: String,
    pub created_at: jiff::Timestamp,
}

/// Hex SHA-256 of a text.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn invalid(field: &str, msg: &str) -> StoreError {
    StoreError::Invalid(DomainError::field(field, msg))
}

/// Checks a version name: 1–60 characters of letters, digits, `.`, `_` and `-`.
pub fn parse_version(s: &str) -> std::result::Result<String, &'static str> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 60 {
        return Err("must be 1 to 60 characters");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err("may contain only letters, digits, '.', '_' and '-'");
    }
    Ok(s.to_owned())
}

const SELECT: &str =
    "SELECT version, purpose, locale, text, sha256, created_at FROM consent_wordings";

fn decode(r: &crate::db::Row) -> Result<Wording> {
    Ok(Wording {
        version: r.get(0)?,
        purpose: r.get(1)?,
        locale: r.get(2)?,
        text: r.get(3)?,
        sha256: r.get(4)?,
        created_at: from_ms(r.get(5)?)?,
    })
}

impl Store {
    /// Stores a wording. Storing the same version again with the same text is a no-op;
    /// with another text it is refused: a version, once stored, never changes.
    pub fn create_wording(
        &self,
        actor: Actor,
        purpose: &str,
        version: &str,
        locale: &str,
        text: &str,
    ) -> Result<Wording> {
        let version = parse_version(version).map_err(|m| invalid("version", m))?;
        if !matches!(locale, "de" | "en") {
            return Err(invalid("locale", "must be de or en"));
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("text", "must not be empty"));
        }
        if text.chars().count() > 10_000 {
            return Err(invalid("text", "is longer than 10000 characters"));
        }
        if !self.purposes()?.iter().any(|p| p.key == purpose) {
            return Err(StoreError::NotFound);
        }
        let hash = sha256_hex(text);
        let now = self.now();
        let created = self.db.write(|c| {
            if let Some(r) = c.query_opt(&format!("{SELECT} WHERE version = $1"), &[version.as_str().into()])? {
                let existing = decode(&r)?;
                if existing.purpose == purpose && existing.sha256 == hash && existing.locale == locale {
                    return Ok(false);
                }
                return Err(StoreError::Conflict(
                    "this wording version is already stored with another text or purpose; a stored version never changes, use a new version".into(),
                ));
            }
            c.execute(
                "INSERT INTO consent_wordings (version, purpose, locale, text, sha256, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    version.as_str().into(),
                    purpose.into(),
                    locale.into(),
                    text.into(),
                    hash.as_str().into(),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok(true)
        })?;
        if created {
            self.audit(
                AuditEntry::new(actor, AuditAction::WordingCreate)
                    .object("wording", &version)
                    .purpose(purpose),
            );
        }
        self.wording(&version)?.ok_or(StoreError::NotFound)
    }

    pub fn wording(&self, version: &str) -> Result<Option<Wording>> {
        self.db.read(|c| {
            c.query_opt(
                &format!("{SELECT} WHERE version = $1"),
                &[version.trim().into()],
            )?
            .map(|r| decode(&r))
            .transpose()
        })
    }

    /// The wordings of a purpose, newest first.
    pub fn wordings(&self, purpose: &str) -> Result<Vec<Wording>> {
        self.db.read(|c| {
            c.query(
                &format!("{SELECT} WHERE purpose = $1 ORDER BY created_at DESC, version DESC"),
                &[purpose.into()],
            )?
            .iter()
            .map(decode)
            .collect()
        })
    }

    /// Every wording, by purpose then newest first (for forms).
    pub fn all_wordings(&self) -> Result<Vec<Wording>> {
        self.db.read(|c| {
            c.query(
                &format!("{SELECT} ORDER BY purpose, created_at DESC, version DESC"),
                &[],
            )?
            .iter()
            .map(decode)
            .collect()
        })
    }

    /// Stores the default wordings of a new installation (idempotent).
    pub(crate) fn ensure_default_wordings(&self) -> Result<()> {
        let purposes = self.purposes()?;
        for (purpose, version, locale, text) in klar_domain::policy::default_wordings() {
            if purposes.iter().any(|p| p.key == purpose) && self.wording(version)?.is_none() {
                self.create_wording(Actor::system(), purpose, version, locale, text)?;
            }
        }
        Ok(())
    }
}
