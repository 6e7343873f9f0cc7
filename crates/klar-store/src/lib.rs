//! Klar's storage.
//!
//! [`Store`] is the only door to the database. It opens the database (SQLite today,
//! PostgreSQL through the same [`db`] layer next), applies migrations, checks that the
//! master key belongs to the database, and offers the repositories for each record type.
//! Personal fields of persons are encrypted here with the person's own key before they
//! reach the database, and blind indexes are written beside them for lookups.

pub mod activities;
pub mod custom_fields;
pub mod db;
pub mod deals;
pub mod error;
pub mod idempotency;
pub mod migrate;
pub mod organizations;
pub mod persons;
pub mod pipelines;
pub mod users;

mod open;

pub use db::{DatabaseUrl, Db, Engine};
pub use error::{Result, StoreError};
pub use open::{Store, StoreConfig};

use jiff::Timestamp;
use klar_domain::ids::UserId;

/// Who is acting: recorded as `created_by` / `updated_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<UserId>,
}

impl Actor {
    pub fn user(id: UserId) -> Self {
        Self { user_id: Some(id) }
    }

    /// The system itself (demo data, migrations).
    pub fn system() -> Self {
        Self { user_id: None }
    }
}

/// One page of a list, with the cursor of the next page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn from_ms(v: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(v).map_err(|_| StoreError::Corrupt("timestamp out of range".into()))
}

pub(crate) fn opt_id<T: std::str::FromStr>(s: Option<String>) -> Result<Option<T>> {
    s.map(|s| {
        s.parse::<T>()
            .map_err(|_| StoreError::Corrupt("malformed id".into()))
    })
    .transpose()
}

pub(crate) fn id<T: std::str::FromStr>(s: String) -> Result<T> {
    s.parse::<T>()
        .map_err(|_| StoreError::Corrupt("malformed id".into()))
}

pub(crate) fn opt_date(s: Option<String>) -> Result<Option<jiff::civil::Date>> {
    s.map(|s| {
        s.parse()
            .map_err(|_| StoreError::Corrupt("malformed date".into()))
    })
    .transpose()
}

/// Opaque list cursors: the last id of the previous page, base64url-encoded.
pub mod cursor {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    pub fn encode(id: &str) -> String {
        URL_SAFE_NO_PAD.encode(id.as_bytes())
    }

    pub fn decode<T: std::str::FromStr>(c: &str) -> Option<T> {
        let bytes = URL_SAFE_NO_PAD.decode(c.trim()).ok()?;
        std::str::from_utf8(&bytes).ok()?.parse().ok()
    }
}
