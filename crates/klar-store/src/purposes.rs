//! The purposes registry. A new installation starts with the purposes of LAW.md table 1b;
//! every change makes a new version, and old versions stay readable.

use crate::audit::{AuditAction, AuditEntry};
use crate::db::Val;
use crate::error::{Result, StoreError};
use crate::{Store, ms};
use klar_domain::policy::{Purpose, default_purposes};

fn to_json(p: &Purpose) -> Result<String> {
    serde_json::to_string(p)
        .map_err(|e| StoreError::Corrupt(format!("purpose does not encode: {e}")))
}

fn from_json(s: &str) -> Result<Purpose> {
    serde_json::from_str(s)
        .map_err(|_| StoreError::Corrupt("purpose definition does not decode".into()))
}

impl Store {
    /// Installs the default purposes on a new installation (none are overwritten).
    pub(crate) fn ensure_default_purposes(&self) -> Result<()> {
        let now = ms(self.now());
        self.db.write(|c| {
            if c.query_opt("SELECT key FROM purposes LIMIT 1", &[])?.is_some() {
                return Ok(());
            }
            for p in default_purposes() {
                let json = to_json(&p)?;
                c.execute(
                    "INSERT INTO purposes (key, version, definition, updated_at) VALUES ($1, $2, $3, $4)",
                    &[p.key.as_str().into(), Val::Int(i64::from(p.version)), json.as_str().into(), Val::Int(now)],
                )?;
                c.execute(
                    "INSERT INTO purpose_versions (key, version, definition, created_at) VALUES ($1, $2, $3, $4)",
                    &[p.key.as_str().into(), Val::Int(i64::from(p.version)), json.into(), Val::Int(now)],
                )?;
            }
            Ok(())
        })
    }

    /// The purposes in force, by key.
    pub fn purposes(&self) -> Result<Vec<Purpose>> {
        self.db.read(|c| {
            c.query("SELECT definition FROM purposes ORDER BY key", &[])?
                .iter()
                .map(|r| from_json(&r.get::<String>(0)?))
                .collect()
        })
    }

    /// One version of a purpose as it was defined then.
    pub fn purpose_version(&self, key: &str, version: u32) -> Result<Purpose> {
        self.db.read(|c| {
            let r = c.query_one(
                "SELECT definition FROM purpose_versions WHERE key = $1 AND version = $2",
                &[key.into(), Val::Int(i64::from(version))],
            )?;
            from_json(&r.get::<String>(0)?)
        })
    }
}

impl Store {
    /// Adds a new purpose (version 1).
    pub fn create_purpose(&self, actor: crate::Actor, p: &Purpose) -> Result<Purpose> {
        let now = ms(self.now());
        let mut p = p.clone();
        p.version = 1;
        p.validate()
            .map_err(|e| StoreError::Invalid(klar_domain::DomainError::field("purpose", e.0)))?;
        let json = to_json(&p)?;
        self.db.write(|c| {
            if c.query_opt("SELECT key FROM purposes WHERE key = $1", &[p.key.as_str().into()])?.is_some() {
                return Err(StoreError::Invalid(klar_domain::DomainError::field("key", "is already a purpose")));
            }
            c.execute(
                "INSERT INTO purposes (key, version, definition, updated_at, updated_by) VALUES ($1, 1, $2, $3, $4)",
                &[p.key.as_str().into(), json.as_str().into(), Val::Int(now), actor.user_id.map(|u| u.to_string()).into()],
            )?;
            c.execute(
                "INSERT INTO purpose_versions (key, version, definition, created_at, created_by) VALUES ($1, 1, $2, $3, $4)",
                &[p.key.as_str().into(), json.as_str().into(), Val::Int(now), actor.user_id.map(|u| u.to_string()).into()],
            )?;
            Ok(())
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::PurposeCreate)
                .object("purpose", &p.key)
                .purpose(&p.key),
        );
        Ok(p)
    }

    /// Changes a purpose: the closure edits the current definition; the result becomes the
    /// next version. The key and the legal basis never change (a new basis is a new purpose:
    /// a withdrawn consent must never silently turn into legitimate interest).
    pub fn update_purpose(
        &self,
        actor: crate::Actor,
        key: &str,
        edit: impl FnOnce(&mut Purpose) -> std::result::Result<(), klar_domain::DomainError>,
    ) -> Result<Purpose> {
        let now = ms(self.now());
        self.db.write(|c| {
            let cur = from_json(&c.query_one("SELECT definition FROM purposes WHERE key = $1", &[key.into()])?.get::<String>(0)?)?;
            let mut next = cur.clone();
            edit(&mut next)?;
            if next.key != cur.key || next.legal_basis != cur.legal_basis {
                return Err(StoreError::Invalid(klar_domain::DomainError::field(
                    "legal_basis",
                    "cannot change; define a new purpose for another legal basis",
                )));
            }
            if next == cur {
                return Ok(cur);
            }
            next.version = cur.version + 1;
            next.validate().map_err(|e| StoreError::Invalid(klar_domain::DomainError::field("purpose", e.0)))?;
            let json = to_json(&next)?;
            c.execute(
                "UPDATE purposes SET version = $2, definition = $3, updated_at = $4, updated_by = $5 WHERE key = $1",
                &[
                    key.into(),
                    Val::Int(i64::from(next.version)),
                    json.as_str().into(),
                    Val::Int(now),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            c.execute(
                "INSERT INTO purpose_versions (key, version, definition, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
                &[
                    key.into(),
                    Val::Int(i64::from(next.version)),
                    json.into(),
                    Val::Int(now),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            tracing::info!(purpose = key, version = next.version, "purpose changed");
            Ok(next)
        })
        .inspect(|p| {
            self.audit(
                AuditEntry::new(actor, AuditAction::PurposeUpdate)
                    .object("purpose", format!("{}@{}", p.key, p.version))
                    .purpose(&p.key),
            );
        })
    }
}
