//! Installation settings (controller, DPO, imprint) and the figures the record of
//! processing activities reports.

use crate::audit::{AuditAction, AuditEntry};
use crate::db::Val;
use crate::error::{Result, StoreError};
use crate::{Actor, Store, from_ms};
use klar_domain::installation::Installation;
use klar_domain::records::RecordType;
use klar_domain::role::Role;

const INSTALLATION_KEY: &str = "installation";

/// Counts the record of processing activities reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub consumers: u64,
    pub business_contacts: u64,
    /// Active staff accounts per role, in the order of [`Role::ALL`].
    pub staff: Vec<(Role, u64)>,
    pub person_custom_fields: Vec<String>,
    pub audit_entries: u64,
    pub audit_since: Option<jiff::Timestamp>,
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// The installation settings; empty fields until someone fills them in.
    pub fn installation(&self) -> Result<Installation> {
        let raw = self.db.read(|c| {
            c.query_opt(
                "SELECT value FROM settings WHERE key = $1",
                &[INSTALLATION_KEY.into()],
            )?
            .map(|r| r.get::<String>(0))
            .transpose()
        })?;
        match raw {
            None => Ok(Installation::default()),
            Some(s) => serde_json::from_str(&s)
                .map_err(|_| StoreError::Corrupt("installation settings".into())),
        }
    }

    /// Replaces the installation settings (validated first).
    pub fn set_installation(&self, actor: Actor, i: &Installation) -> Result<Installation> {
        let i = i.validated()?;
        let json = serde_json::to_string(&i).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.db.write(|c| {
            c.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = $2",
                &[INSTALLATION_KEY.into(), Val::Text(json)],
            )
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::SettingsUpdate)
                .object("settings", INSTALLATION_KEY),
        );
        Ok(i)
    }

    /// The figures for the record of processing activities, in four indexed queries.
    pub fn figures(&self) -> Result<Figures> {
        self.audit_flush()?;
        let mut f = Figures::default();
        self.db.read(|c| {
            for r in c.query("SELECT kind, COUNT(*) FROM persons GROUP BY kind", &[])? {
                let n = count(r.get(1)?);
                match r.get::<String>(0)?.as_str() {
                    "business" => f.business_contacts += n,
                    _ => f.consumers += n,
                }
            }
            let rows = c.query(
                "SELECT role, COUNT(*) FROM users WHERE active = 1 GROUP BY role",
                &[],
            )?;
            for role in Role::ALL {
                let mut n = 0;
                for r in &rows {
                    if r.get::<String>(0)? == role.as_str() {
                        n = count(r.get(1)?);
                    }
                }
                f.staff.push((role, n));
            }
            let a = c.query_one("SELECT COUNT(*), MIN(at) FROM audit_log", &[])?;
            f.audit_entries = count(a.get(0)?);
            f.audit_since = a.get::<Option<i64>>(1)?.map(from_ms).transpose()?;
            Ok(())
        })?;
        f.person_custom_fields = self
            .custom_fields(RecordType::Person)?
            .into_iter()
            .map(|d| d.label)
            .collect();
        Ok(f)
    }
}

impl Store {
    /// The record of processing activities (Art. 30(1)) as configured right now.
    pub fn ropa(
        &self,
        mail: klar_domain::ropa::MailRoute,
        doi_days: u32,
    ) -> Result<klar_domain::ropa::Ropa> {
        let inst = self.installation()?;
        let purposes = self.purposes()?;
        let f = self.figures()?;
        let facts = klar_domain::ropa::Facts {
            generated_at: self.now(),
            consumers: f.consumers,
            business_contacts: f.business_contacts,
            staff: f.staff,
            person_custom_fields: f.person_custom_fields,
            mail,
            audit_entries: f.audit_entries,
            audit_since: f.audit_since,
            doi_days,
        };
        Ok(klar_domain::ropa::build(&inst, &purposes, &facts))
    }
}
