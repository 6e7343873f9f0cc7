//! Klar's storage.
//!
//! [`Store`] is the only door to the database. It opens the database (SQLite today,
//! PostgreSQL through the same [`db`] layer next), applies migrations, checks that the
//! master key belongs to the database, and offers the repositories for each record type.
//! Personal fields of persons are encrypted here with the person's own key before they
//! reach the database, and blind indexes are written beside them for lookups.

pub mod access_grants;
pub mod activities;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod campaigns;
pub mod consents;
pub mod custom_fields;
pub mod db;
pub mod deals;
pub mod dsr;
pub mod error;
pub mod facts;
pub mod grounds;
pub mod idempotency;
pub mod keys;
pub mod migrate;
pub mod organizations;
pub mod persons;
pub mod pipelines;
pub mod privacy;
pub mod processors;
pub mod purposes;
pub mod retention;
pub mod settings;
pub mod users;
pub mod wordings;

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

/// The order of a list, newest first.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Order<'a> {
    /// By id (ids grow with creation time).
    Id(&'a str),
    /// By a time column, ties broken by id; the cursor holds both.
    TimeThenId { time: &'a str, id: &'a str },
}

/// Finishes a list query: adds the cursor condition (rows after the cursor's), the order
/// (newest first) and the limit, runs it, and cuts one page with the next cursor.
/// `C` is the id type the cursor must hold; `key_of` gives an item's cursor key (`id`, or
/// `time_ms:id` for [`Order::TimeThenId`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn fetch_page<T, C: std::str::FromStr + std::fmt::Display>(
    db: &Db,
    mut sql: String,
    mut params: Vec<db::Val>,
    order: Order<'_>,
    cursor: Option<&str>,
    limit: usize,
    mut decode: impl FnMut(&db::Row) -> Result<T>,
    key_of: impl Fn(&T) -> String,
) -> Result<Page<T>> {
    let bad_cursor = || {
        StoreError::Invalid(klar_domain::DomainError::field(
            "cursor",
            "is not a cursor this server issued",
        ))
    };
    match (order, cursor) {
        (_, None) => {}
        (Order::Id(col), Some(c)) => {
            let after: C = cursor::decode(c).ok_or_else(bad_cursor)?;
            params.push(after.to_string().into());
            sql.push_str(&format!(" AND {col} < ${}", params.len()));
        }
        (Order::TimeThenId { time, id }, Some(c)) => {
            let raw: String = cursor::decode(c).ok_or_else(bad_cursor)?;
            let (t, i) = raw.split_once(':').ok_or_else(bad_cursor)?;
            let t: i64 = t.parse().map_err(|_| bad_cursor())?;
            let i: C = i.parse().map_err(|_| bad_cursor())?;
            params.push(db::Val::Int(t));
            params.push(i.to_string().into());
            let (pt, pi) = (params.len() - 1, params.len());
            sql.push_str(&format!(
                " AND ({time} < ${pt} OR ({time} = ${pt} AND {id} < ${pi}))"
            ));
        }
    }
    params.push(db::Val::Int(limit as i64 + 1));
    let order_by = match order {
        Order::Id(col) => format!("{col} DESC"),
        Order::TimeThenId { time, id } => format!("{time} DESC, {id} DESC"),
    };
    sql.push_str(&format!(" ORDER BY {order_by} LIMIT ${}", params.len()));
    db.read(|c| {
        let mut rows = c.query(&sql, &params)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let items = rows.iter().map(&mut decode).collect::<Result<Vec<_>>>()?;
        let next_cursor = if more {
            items.last().map(|x| cursor::encode(&key_of(x)))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    })
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
