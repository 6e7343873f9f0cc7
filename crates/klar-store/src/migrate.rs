//! Forward-only migrations, one history for every engine. A migration is never edited
//! once it has shipped; changes go into a new one.

use crate::db::{Conn, Db, Val, dialect_sql};
use crate::error::Result;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "m20261129_000001_foundation",
        sql: include_str!("../migrations/m20261129_000001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "m20261129_000002_purposes",
        sql: include_str!("../migrations/m20261129_000002_purposes.sql"),
    },
    Migration {
        version: 3,
        name: "m20261129_000003_objections_restriction",
        sql: include_str!("../migrations/m20261129_000003_objections_restriction.sql"),
    },
    Migration {
        version: 4,
        name: "m20261129_000004_consent_ledger",
        sql: include_str!("../migrations/m20261129_000004_consent_ledger.sql"),
    },
    Migration {
        version: 5,
        name: "m20261129_000005_double_opt_in",
        sql: include_str!("../migrations/m20261129_000005_double_opt_in.sql"),
    },
    Migration {
        version: 6,
        name: "m20261130_000006_audit",
        sql: include_str!("../migrations/m20261130_000006_audit.sql"),
    },
    Migration {
        version: 7,
        name: "m20261130_000007_doi_lapse",
        sql: include_str!("../migrations/m20261130_000007_doi_lapse.sql"),
    },
    Migration {
        version: 8,
        name: "m20261130_000008_grounds_and_wordings",
        sql: include_str!("../migrations/m20261130_000008_grounds_and_wordings.sql"),
    },
    Migration {
        version: 9,
        name: "m20261130_000009_dsr",
        sql: include_str!("../migrations/m20261130_000009_dsr.sql"),
    },
    Migration {
        version: 10,
        name: "m20261130_000010_processors_disclosures",
        sql: include_str!("../migrations/m20261130_000010_processors_disclosures.sql"),
    },
    Migration {
        version: 11,
        name: "m20261130_000011_erasure_journal",
        sql: include_str!("../migrations/m20261130_000011_erasure_journal.sql"),
    },
    Migration {
        version: 12,
        name: "m20261130_000012_retained_letters",
        sql: include_str!("../migrations/m20261130_000012_retained_letters.sql"),
    },
    Migration {
        version: 13,
        name: "m20261130_000013_audit_chain",
        sql: include_str!("../migrations/m20261130_000013_audit_chain.sql"),
    },
    Migration {
        version: 14,
        name: "m20261130_000014_kek_generations",
        sql: include_str!("../migrations/m20261130_000014_kek_generations.sql"),
    },
    Migration {
        version: 15,
        name: "m20261130_000015_auth",
        sql: include_str!("../migrations/m20261130_000015_auth.sql"),
    },
    Migration {
        version: 16,
        name: "m20261130_000016_campaigns",
        sql: include_str!("../migrations/m20261130_000016_campaigns.sql"),
    },
    Migration {
        version: 17,
        name: "m20261130_000017_retention",
        sql: include_str!("../migrations/m20261130_000017_retention.sql"),
    },
    Migration {
        version: 18,
        name: "m20261130_000018_access_grants",
        sql: include_str!("../migrations/m20261130_000018_access_grants.sql"),
    },
];

/// Applies every migration not yet applied, each in its own transaction.
/// Returns the versions applied now.
pub fn migrate(db: &Db, now_ms: i64) -> Result<Vec<i64>> {
    db.write(|c| {
        c.execute(
            "CREATE TABLE IF NOT EXISTS klar_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            &[],
        )
        .map(|_| ())
    })?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let done = db.read(|c| is_applied(c, m.version))?;
        if done {
            continue;
        }
        db.write(|c| {
            c.execute_batch(&dialect_sql(c.engine(), m.sql))?;
            c.execute(
                "INSERT INTO klar_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[Val::Int(m.version), m.name.into(), Val::Int(now_ms)],
            )?;
            Ok(())
        })?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        applied.push(m.version);
    }
    Ok(applied)
}

fn is_applied(c: &Conn<'_>, version: i64) -> Result<bool> {
    Ok(c.query_opt(
        "SELECT version FROM klar_migrations WHERE version = $1",
        &[Val::Int(version)],
    )?
    .is_some())
}
