//! The one query layer. Queries are written once, in portable SQL with `$1`, `$2`, …
//! placeholders, and run on whichever engine the installation uses. Values cross the
//! layer as [`Val`]; rows come back as [`Row`]. Everything engine-specific (opening,
//! pragmas, placeholder binding, type names in migrations) lives in this module.

use crate::error::{Result, StoreError};
use rusqlite::types::ValueRef;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A value passed into or read out of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Int(i64::from(v))
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(v.clone())
    }
}
impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Self {
        Val::Blob(v)
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}

/// Conversion out of a [`Val`].
pub trait FromVal: Sized {
    fn from_val(v: &Val) -> Option<Self>;
}
impl FromVal for i64 {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }
}
impl FromVal for bool {
    fn from_val(v: &Val) -> Option<Self> {
        i64::from_val(v).map(|i| i != 0)
    }
}
impl FromVal for String {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromVal for Vec<u8> {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl<T: FromVal> FromVal for Option<T> {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Null => Some(None),
            other => T::from_val(other).map(Some),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row(Vec<Val>);

impl Row {
    pub fn get<T: FromVal>(&self, i: usize) -> Result<T> {
        self.0
            .get(i)
            .and_then(T::from_val)
            .ok_or_else(|| StoreError::Corrupt(format!("column {i} has an unexpected type")))
    }
}

/// Which database engine an installation runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
}

/// A connection of either engine, borrowed for the span of one operation.
pub struct Conn<'a> {
    inner: &'a rusqlite::Connection,
}

impl Conn<'_> {
    pub fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn prepare(&self, sql: &str, params: &[Val]) -> Result<rusqlite::CachedStatement<'_>> {
        let mut stmt = self.inner.prepare_cached(sql)?;
        for (i, v) in params.iter().enumerate() {
            let name = format!("${}", i + 1);
            let Some(idx) = stmt.parameter_index(&name)? else {
                return Err(StoreError::Corrupt(format!(
                    "query has no placeholder {name}"
                )));
            };
            match v {
                Val::Null => stmt.raw_bind_parameter(idx, rusqlite::types::Null)?,
                Val::Int(x) => stmt.raw_bind_parameter(idx, x)?,
                Val::Text(s) => stmt.raw_bind_parameter(idx, s.as_str())?,
                Val::Blob(b) => stmt.raw_bind_parameter(idx, b.as_slice())?,
            }
        }
        Ok(stmt)
    }

    /// Runs a query and returns all rows.
    pub fn query(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        let mut stmt = self.prepare(sql, params)?;
        let n = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(x) => Val::Int(x),
                    ValueRef::Real(f) => Val::Int(f as i64),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Val::Blob(b.to_vec()),
                });
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    pub fn query_opt(&self, sql: &str, params: &[Val]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    pub fn query_one(&self, sql: &str, params: &[Val]) -> Result<Row> {
        self.query_opt(sql, params)?.ok_or(StoreError::NotFound)
    }

    /// Runs a statement and returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Val]) -> Result<u64> {
        let mut stmt = self.prepare(sql, params)?;
        Ok(stmt.raw_execute()? as u64)
    }

    /// Runs several statements without parameters (migrations only).
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<()> {
        self.inner.execute_batch(sql)?;
        Ok(())
    }

    /// `$first, $first+1, …` placeholders for an `IN (…)` list of `n` values.
    pub fn placeholders(first: usize, n: usize) -> String {
        (first..first + n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Translates a migration written in Klar's portable dialect to the engine's.
/// Portable dialect: `TEXT`, `BIGINT`, `BLOB`; no engine-specific functions.
pub(crate) fn dialect_sql(engine: Engine, sql: &str) -> String {
    match engine {
        Engine::Sqlite => sql.to_string(),
    }
}

/// The database: one writer connection and a small pool of readers (SQLite in WAL mode
/// lets readers run while the writer writes).
pub struct Db {
    engine: Engine,
    path: PathBuf,
    writer: Mutex<rusqlite::Connection>,
    readers: Mutex<Vec<rusqlite::Connection>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("engine", &self.engine)
            .field("path", &self.path)
            .finish()
    }
}

/// How to reach the database, parsed from `--database-url`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            // The URL may carry a password: never print it.
            DatabaseUrl::Postgres(_) => f.write_str("postgres://[redacted]"),
        }
    }
}

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(p) = s.strip_prefix("sqlite://") {
            if p.is_empty() {
                return Err(StoreError::Config("sqlite:// needs a file path".into()));
            }
            Ok(Self::Sqlite(PathBuf::from(p)))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self::Postgres(s.to_string()))
        } else {
            Err(StoreError::Config(
                "the database URL must start with sqlite:// or postgres://".into(),
            ))
        }
    }
}

const READERS: usize = 8;

impl Db {
    pub fn open(url: &DatabaseUrl) -> Result<Arc<Db>> {
        match url {
            DatabaseUrl::Sqlite(path) => Self::open_sqlite(path),
            DatabaseUrl::Postgres(_) => Err(StoreError::Config(
                "PostgreSQL is not supported by this version yet; use the embedded SQLite default"
                    .into(),
            )),
        }
    }

    fn open_sqlite(path: &Path) -> Result<Arc<Db>> {
        let writer = open_sqlite_conn(path)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(open_sqlite_conn(path)?);
        }
        Ok(Arc::new(Db {
            engine: Engine::Sqlite,
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(readers),
        }))
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a reader connection.
    pub fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>) -> Result<T> {
        let conn = {
            let mut pool = self.readers.lock().map_err(|_| StoreError::Poisoned)?;
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => open_sqlite_conn(&self.path)?,
        };
        let out = f(&Conn { inner: &conn });
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < READERS
        {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` in one write transaction: all of it is committed, or none of it.
    pub fn write<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T>) -> Result<T> {
        let conn = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(&Conn { inner: &conn }) {
            Ok(v) => {
                conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Writes the WAL back into the main file and truncates it to zero bytes (after an
    /// erasure, before backups, and in tests that inspect the file). Waits (busy timeout)
    /// for readers on an older snapshot; `CheckpointBlocked` when one still holds it, so
    /// the WAL may still hold frames written before.
    pub fn checkpoint(&self) -> Result<()> {
        let conn = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        // One row: (busy, frames in the log, frames checkpointed); busy = 1 when the
        // checkpoint could not run to completion.
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(StoreError::CheckpointBlocked);
        }
        Ok(())
    }
}

fn open_sqlite_conn(path: &Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA cache_size = -16000;
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = 1073741824;",
    )?;
    // Erasure relies on deleted content being overwritten on disk: refuse a build of SQLite
    // that ignores the pragma.
    let secure_delete: i64 = conn.query_row("PRAGMA secure_delete", [], |r| r.get(0))?;
    if secure_delete != 1 {
        return Err(StoreError::Config(
            "this SQLite cannot overwrite deleted content (secure_delete)".into(),
        ));
    }
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

impl Db {
    /// A consistent copy of the database in a new file (`VACUUM INTO`): a read transaction
    /// on a reader connection, so writers go on meanwhile.
    pub fn snapshot_into(&self, target: &Path) -> Result<()> {
        let conn = open_sqlite_conn(&self.path)?;
        conn.execute("VACUUM INTO ?1", [target.to_string_lossy().as_ref()])?;
        Ok(())
    }
}

/// Checks a database file about to be restored: SQLite says it is intact, and it was made
/// with this master key.
pub(crate) fn check_restored(path: &Path, keys: &klar_crypto::Keyring) -> Result<()> {
    let bad = |m: &str| StoreError::Backup(m.to_owned());
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|_| bad("the backup does not hold a database"))?;
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|_| bad("the backup does not hold a readable database"))?;
    if ok != "ok" {
        return Err(bad("the database in the backup is damaged"));
    }
    let check: String = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [klar_crypto::KEY_CHECK_LABEL],
            |r| r.get(0),
        )
        .map_err(|_| bad("the database in the backup has no key check"))?;
    if !keys.matches_key_check(&check) {
        return Err(bad(
            "the database in the backup belongs to another master key",
        ));
    }
    Ok(())
}

/// The key-encryption key generations a database file uses: its current one (settings) and
/// every one a data key is wrapped under. A database from before key rotation (no
/// `kek_generation` column) uses generation 1 only.
pub(crate) fn kek_generations_in(path: &Path) -> Result<(u32, Vec<u32>)> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let gen_of = |v: i64| {
        u32::try_from(v)
            .ok()
            .filter(|g| *g >= 1)
            .ok_or_else(|| StoreError::Corrupt("key-encryption key generation".into()))
    };
    let has_column: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('person_keys') WHERE name = 'kek_generation'",
        [],
        |r| r.get(0),
    )?;
    if has_column == 0 {
        return Ok((1, vec![1]));
    }
    let current: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = 'kek_generation'",
            [],
            |r| r.get(0),
        )
        .ok();
    let current = match current {
        None => 1,
        Some(v) => gen_of(
            v.parse()
                .map_err(|_| StoreError::Corrupt("key-encryption key generation".into()))?,
        )?,
    };
    let mut st = conn.prepare("SELECT DISTINCT kek_generation FROM person_keys")?;
    let used = st
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<std::result::Result<Vec<_>, _>>()?
        .into_iter()
        .map(gen_of)
        .collect::<Result<Vec<_>>>()?;
    Ok((current, used))
}

/// The ids in the erasure journal table of a database file (empty if it has none).
pub(crate) fn erased_ids(path: &Path) -> Result<Vec<String>> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut st = conn.prepare("SELECT person_id FROM erasures")?;
    let ids = st
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(ids)
}
