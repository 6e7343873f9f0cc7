//! The purposes registry. A new installation starts with the purposes of LAW.md table 1b;
//! every change makes a new version, and old versions stay readable.

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
