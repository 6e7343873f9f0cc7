//! Encrypted backups (Art. 32(1)(c)) that cannot resurrect erased people.
//!
//! A backup is a consistent snapshot of the database (`VACUUM INTO`, taken while the server
//! runs, without a long write lock), sealed in 1 MiB chunks with XChaCha20-Poly1305 under a
//! key derived from the master key. Each chunk's associated data binds it to the file's header
//! (format version, creation time, key id), its position, and whether it is the last one, so a
//! reordered, shortened, corrupted or foreign file is refused. Restoring replays the erasure
//! journal, which lives outside the database (`DATA_DIR/erasure-journal`) as well as in it:
//! a person erased after the backup was taken is erased again before anyone can read her.
//!
//! The header also names the key-encryption key generations the data keys inside need
//! (format 2, decision 0012); a restore refuses before touching the data dir when one of them
//! is not at hand. A backup killed half-way leaves a `.partial` file and a snapshot copy in
//! the data dir; the next backup removes both, and the next start the snapshot copy, when no
//! backup is running (every backup holds `.backup.lock` shared; cleaning needs it exclusively).

use crate::error::{Result, StoreError};
use crate::keys::{KekAvailability, KekNeed, kek_availability};
use crate::{Store, StoreConfig};
use klar_crypto::{Context, Keyring};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"KLARBAK\x01";
const CHUNK: usize = 1 << 20;
/// The header format written now. Format 1 (before key rotation) is still read: its data
/// keys are all wrapped under generation 1.
const FORMAT: u32 = 2;
/// File name of the erasure journal in the data dir (ids and times, one per line).
pub const JOURNAL: &str = "erasure-journal";

/// What a backup file says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupHeader {
    pub format: u32,
    pub created_at: String,
    /// The key check of the master key the backup needs.
    pub key_id: String,
    /// The key-encryption key generations (with their ids) the data keys inside need
    /// (format 2; absent in format 1, which needs generation 1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keks: Vec<KekNeed>,
}

impl BackupHeader {
    /// The key-encryption key generations the backup needs; for format 1, generation 1 of
    /// the master key it names.
    pub fn needs(&self, keys: &Keyring) -> Vec<KekNeed> {
        if self.format == 1 {
            vec![KekNeed {
                generation: 1,
                id: keys.derived_kek().id(),
            }]
        } else {
            self.keks.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    pub header: BackupHeader,
    pub bytes: u64,
}

fn bad(msg: &str) -> StoreError {
    StoreError::Backup(msg.to_owned())
}

fn header_digest(raw: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(raw)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ctx<'a>(digest: &'a str, position: &'a str) -> Context<'a> {
    Context {
        table: "backup",
        column: digest,
        row_id: position,
        key_version: 1,
    }
}

/// Seals the database file `plain` into `out` (written beside it as `.partial`, locked while
/// written, and renamed when complete).
fn seal_file(keys: &Keyring, header: &BackupHeader, plain: &Path, out: &Path) -> Result<u64> {
    let io = |e: std::io::Error| StoreError::Backup(format!("cannot write the backup: {e}"));
    let raw = serde_json::to_vec(header).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let digest = header_digest(&raw);
    let partial = out.with_extension("partial");
    let file = std::fs::File::create(&partial).map_err(io)?;
    // Held until the file is complete: a lockable `.partial` that starts with the magic was
    // left by a process that died (see `remove_stale_partials`).
    file.lock().map_err(io)?;
    let mut w = std::io::BufWriter::new(file);
    w.write_all(MAGIC).map_err(io)?;
    w.write_all(&(raw.len() as u32).to_be_bytes()).map_err(io)?;
    w.write_all(&raw).map_err(io)?;
    let mut r = std::fs::File::open(plain).map_err(io)?;
    let total = r.metadata().map_err(io)?.len();
    let mut done = 0u64;
    let mut index = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut n = 0;
        while n < CHUNK {
            let k = r.read(&mut buf[n..]).map_err(io)?;
            if k == 0 {
                break;
            }
            n += k;
        }
        done += n as u64;
        let last = done >= total;
        let position = format!("{index}:{}", u8::from(last));
        let sealed =
            keys.backup_key()
                .seal(&ctx(&digest, &position), &buf[..n], &mut rand::rngs::OsRng)?;
        w.write_all(&(sealed.len() as u32).to_be_bytes())
            .map_err(io)?;
        w.write_all(&sealed).map_err(io)?;
        index += 1;
        if last {
            break;
        }
    }
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&partial, out).map_err(io)?;
    crate::keys::sync_dir(out);
    drop(f);
    Ok(total)
}

/// Removes `.partial` files in `dir` that a killed backup left: they start with the magic
/// (a live writer locks its file before it writes a byte) and no process holds their lock.
fn remove_stale_partials(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if p.extension().is_none_or(|x| x != "partial") {
            continue;
        }
        let Ok(mut f) = std::fs::File::open(&p) else {
            continue;
        };
        if f.try_lock().is_err() {
            continue;
        }
        let mut magic = [0u8; 8];
        if f.read_exact(&mut magic).is_ok() && &magic == MAGIC && std::fs::remove_file(&p).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The lock file in the database's directory: every backup holds it shared while it runs;
/// cleaning up leftovers needs it exclusively, so it never removes a running backup's files.
const BACKUP_LOCK: &str = ".backup.lock";

fn open_backup_lock(dir: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(dir.join(BACKUP_LOCK))
}

/// The snapshot copies (`.backup-ID.db*`) in `dir`.
fn snapshot_copies(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(".backup-") && n.contains(".db"))
        })
        .map(|e| e.path())
        .collect()
}

/// Removes the plaintext snapshot copies a killed backup left in the database's directory,
/// when no backup is running (the backup lock can be taken exclusively). Returns how many.
pub(crate) fn remove_stale_snapshots(dir: &Path) -> usize {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if snapshot_copies(dir).is_empty() {
        return 0;
    }
    let Ok(lock) = open_backup_lock(dir) else {
        return 0;
    };
    if lock.try_lock().is_err() {
        return 0;
    }
    remove_snapshot_copies(dir)
}

/// Removes every snapshot copy in `dir`; the caller holds the backup lock exclusively.
fn remove_snapshot_copies(dir: &Path) -> usize {
    let removed = snapshot_copies(dir)
        .iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count();
    if removed > 0 {
        tracing::info!(
            files = removed,
            "removed snapshot copies of an interrupted backup"
        );
    }
    removed
}

/// Reads a backup's header and checks that it is one this version reads, made with this
/// master key. Returns the header, its raw bytes and the reader positioned after it.
fn read_header(
    keys: &Keyring,
    file: &Path,
) -> Result<(BackupHeader, Vec<u8>, std::io::BufReader<std::fs::File>)> {
    let mut r = std::io::BufReader::new(
        std::fs::File::open(file).map_err(|e| bad(&format!("cannot read the backup: {e}")))?,
    );
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| bad("this is not a Klar backup"))?;
    if &magic != MAGIC {
        return Err(bad(
            "this is not a Klar backup (or a format this version cannot read)",
        ));
    }
    let mut len = [0u8; 4];
    r.read_exact(&mut len)
        .map_err(|_| bad("the backup is truncated"))?;
    let hlen = u32::from_be_bytes(len) as usize;
    if hlen > 4096 {
        return Err(bad("the backup's header is damaged"));
    }
    let mut raw = vec![0u8; hlen];
    r.read_exact(&mut raw)
        .map_err(|_| bad("the backup is truncated"))?;
    let header: BackupHeader =
        serde_json::from_slice(&raw).map_err(|_| bad("the backup's header is damaged"))?;
    if !(header.format == 1 || header.format == FORMAT && !header.keks.is_empty()) {
        return Err(bad("the backup has a format this version cannot read"));
    }
    if !keys.matches_key_check(&header.key_id) {
        return Err(bad(
            "the backup belongs to another installation or master key; restore it with the key it was made with",
        ));
    }
    Ok((header, raw, r))
}

/// The header of a backup file (checked as far as it goes without the chunks).
pub fn backup_header(keys: &Keyring, file: &Path) -> Result<BackupHeader> {
    read_header(keys, file).map(|(h, _, _)| h)
}

/// Refuses unless every key-encryption key the backup needs is at hand in `key_dir`.
pub fn check_backup_keks(keys: &Keyring, key_dir: &Path, header: &BackupHeader) -> Result<()> {
    for (need, a) in kek_availability(keys, key_dir, &header.needs(keys)) {
        let (g, id) = (need.generation, &need.id);
        match a {
            KekAvailability::Derived | KekAvailability::Present(_) => {}
            KekAvailability::Missing(path) => {
                return Err(bad(&format!(
                    "the backup needs key-encryption key generation {g} (id {id}), which is not at                      {}: it was destroyed or moved. Nothing was changed",
                    path.display()
                )));
            }
            KekAvailability::Different(path) => {
                return Err(bad(&format!(
                    "the backup needs key-encryption key generation {g} (id {id}); {} holds another                      key. Nothing was changed",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// Reads and checks a backup, writing the database it holds to `sink`.
pub fn open_backup(keys: &Keyring, file: &Path, sink: &mut dyn Write) -> Result<BackupInfo> {
    let (header, raw, mut r) = read_header(keys, file)?;
    let mut len = [0u8; 4];
    let digest = header_digest(&raw);
    let mut bytes = 0u64;
    let mut index = 0u64;
    loop {
        if r.read_exact(&mut len).is_err() {
            return Err(bad("the backup is truncated"));
        }
        let clen = u32::from_be_bytes(len) as usize;
        if clen > CHUNK + 1024 {
            return Err(bad("the backup is damaged"));
        }
        let mut sealed = vec![0u8; clen];
        r.read_exact(&mut sealed)
            .map_err(|_| bad("the backup is truncated"))?;
        let key = keys.backup_key();
        let (plain, last) = match key.open(&ctx(&digest, &format!("{index}:0")), &sealed) {
            Ok(p) => (p, false),
            Err(_) => (
                key.open(&ctx(&digest, &format!("{index}:1")), &sealed)
                    .map_err(|_| bad("the backup is damaged or was altered"))?,
                true,
            ),
        };
        sink.write_all(&plain)
            .map_err(|e| bad(&format!("cannot write the restored data: {e}")))?;
        bytes += plain.len() as u64;
        index += 1;
        if last {
            let mut rest = [0u8; 1];
            if r.read(&mut rest)
                .map_err(|_| bad("the backup is damaged"))?
                != 0
            {
                return Err(bad("the backup has data after its end"));
            }
            return Ok(BackupInfo { header, bytes });
        }
    }
}

impl Store {
    /// Writes an encrypted backup of the running installation to `out`.
    pub fn backup_to(&self, out: &Path) -> Result<BackupInfo> {
        let io = |e: std::io::Error| bad(&format!("cannot write the snapshot: {e}"));
        let db_dir = self
            .db
            .path()
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let lock = open_backup_lock(&db_dir).map_err(io)?;
        // No other backup runs: what a killed one left can go.
        if lock.try_lock().is_ok() {
            remove_snapshot_copies(&db_dir);
            if let Some(dir) = out.parent() {
                let n = remove_stale_partials(if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                });
                if n > 0 {
                    tracing::info!(
                        files = n,
                        "removed unfinished backups of an interrupted run"
                    );
                }
            }
            lock.unlock().map_err(io)?;
        }
        lock.lock_shared().map_err(io)?;
        let tmp = db_dir.join(format!(".backup-{}.db", self.next_id()));
        let result = (|| {
            self.db.snapshot_into(&tmp)?;
            let header = BackupHeader {
                format: FORMAT,
                created_at: self.now().to_string(),
                key_id: self.keys.key_check(),
                keks: self.keks_needed_by(&tmp)?,
            };
            let bytes = seal_file(&self.keys, &header, &tmp, out)?;
            Ok(BackupInfo { header, bytes })
        })();
        let _ = std::fs::remove_file(&tmp);
        drop(lock);
        if result.is_ok() {
            tracing::info!("backup written");
        }
        result
    }

    /// Appends an erasure to the journal outside the database (fsynced).
    pub(crate) fn journal_erasure(&self, pid: &str, at_ms: i64) -> Result<()> {
        let Some(dir) = &self.data_dir else {
            return Ok(());
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(JOURNAL))
            .map_err(|e| StoreError::Config(format!("cannot write the erasure journal: {e}")))?;
        writeln!(f, "{pid}\t{at_ms}")
            .and_then(|()| f.sync_all())
            .map_err(|e| StoreError::Config(format!("cannot write the erasure journal: {e}")))
    }
}

/// The person ids in the erasure journal file.
fn journal_ids(dir: &Path) -> Result<Vec<String>> {
    match std::fs::read_to_string(dir.join(JOURNAL)) {
        Ok(s) => Ok(s
            .lines()
            .filter_map(|l| l.split('\t').next())
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::Config(format!(
            "cannot read the erasure journal: {e}"
        ))),
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreInfo {
    pub backup: BackupInfo,
    /// Persons erased after the backup was taken, erased again now.
    pub erasures_reapplied: usize,
}

/// Restores `file` into the data dir of `cfg` (the server must be stopped). Nothing in the
/// data dir changes unless the backup is complete, authentic, made with this master key, and
/// holds an intact database; then the erasure journal is replayed.
pub fn restore(
    cfg: &StoreConfig,
    file: &Path,
    clock: std::sync::Arc<dyn klar_domain::Clock>,
) -> Result<RestoreInfo> {
    let keys = Keyring::new(&crate::open::read_master_key(&cfg.key_path())?);
    // Before anything is written: the backup must be ours and its keys at hand.
    let header = backup_header(&keys, file)?;
    check_backup_keks(&keys, &cfg.key_dir(), &header)?;
    let target: PathBuf = match cfg.database_url() {
        crate::DatabaseUrl::Sqlite(p) => p,
        crate::DatabaseUrl::Postgres(_) => {
            return Err(StoreError::Config(
                "backups of PostgreSQL are not supported yet".into(),
            ));
        }
    };
    let staging = target.with_extension("restoring");
    let result = (|| {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(&staging)
                .map_err(|e| bad(&format!("cannot write into the data dir: {e}")))?,
        );
        let info = open_backup(&keys, file, &mut w)?;
        w.flush()
            .map_err(|e| bad(&format!("cannot write into the data dir: {e}")))?;
        crate::db::check_restored(&staging, &keys)?;
        let (_, used) = crate::db::kek_generations_in(&staging)?;
        let needs = info.header.needs(&keys);
        if let Some(g) = used
            .iter()
            .find(|g| !needs.iter().any(|n| n.generation == **g))
        {
            return Err(bad(&format!(
                "the database in the backup uses key-encryption key generation {g}, which its \
                 header does not name"
            )));
        }
        Ok(info)
    })();
    let info = match result {
        Ok(i) => i,
        Err(e) => {
            let _ = std::fs::remove_file(&staging);
            return Err(e);
        }
    };
    // Who was erased: the journal file, and the journal table of the database being replaced.
    let mut erased = journal_ids(&cfg.data_dir)?;
    if target.exists()
        && let Ok(ids) = crate::db::erased_ids(&target)
    {
        erased.extend(ids);
    }
    for suffix in ["-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", target.display()));
        if p.exists() {
            std::fs::remove_file(&p)
                .map_err(|e| bad(&format!("cannot replace the database: {e}")))?;
        }
    }
    std::fs::rename(&staging, &target)
        .map_err(|e| bad(&format!("cannot replace the database: {e}")))?;
    let store = Store::open(cfg, clock)?;
    let mut reapplied = 0;
    erased.sort();
    erased.dedup();
    for id in erased {
        let Ok(pid) = id.parse::<klar_domain::ids::PersonId>() else {
            continue;
        };
        match store.erase_person(crate::Actor::system(), pid) {
            Ok(_) => reapplied += 1,
            Err(StoreError::NotFound | StoreError::Erased) => {}
            Err(e) => return Err(e),
        }
    }
    store.audit_flush()?;
    Ok(RestoreInfo {
        backup: info,
        erasures_reapplied: reapplied,
    })
}

/// The result of the last scheduled backup, for the admin page and the metrics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupRun {
    pub at: String,
    pub ok: bool,
    pub bytes: u64,
    /// The file name (in the backup directory) when it worked; the error otherwise.
    pub detail: String,
    pub kept: usize,
}

const LAST_RUN: &str = "backup_last_run";

impl Store {
    /// Takes a backup into `dir` and keeps the newest `keep` backups there; records the result.
    pub fn scheduled_backup(&self, dir: &Path, keep: usize) -> Result<BackupRun> {
        let now = self.now();
        let run = (|| -> Result<(u64, String, usize)> {
            std::fs::create_dir_all(dir)
                .map_err(|e| bad(&format!("cannot create the backup directory: {e}")))?;
            // Milliseconds too: names sort by time, and two runs never share one.
            let name = format!(
                "klar-{}{:03}Z.klarbak",
                now.strftime("%Y%m%dT%H%M%S"),
                now.subsec_millisecond()
            );
            let info = self.backup_to(&dir.join(&name))?;
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| bad(&format!("cannot list the backup directory: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("klar-") && n.ends_with(".klarbak"))
                })
                .collect();
            files.sort();
            let excess = files.len().saturating_sub(keep.max(1));
            for old in files.iter().take(excess) {
                let _ = std::fs::remove_file(old);
            }
            Ok((info.bytes, name, files.len() - excess))
        })();
        let rec = match run {
            Ok((bytes, name, kept)) => BackupRun {
                at: now.to_string(),
                ok: true,
                bytes,
                detail: name,
                kept,
            },
            Err(e) => BackupRun {
                at: now.to_string(),
                ok: false,
                bytes: 0,
                detail: e.to_string(),
                kept: 0,
            },
        };
        let json = serde_json::to_string(&rec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.db.write(|c| {
            c.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2",
                &[LAST_RUN.into(), crate::db::Val::Text(json)],
            )
        })?;
        if !rec.ok {
            tracing::error!(detail = rec.detail.as_str(), "scheduled backup failed");
        }
        Ok(rec)
    }

    /// The last scheduled backup's result, if any ran.
    pub fn last_backup(&self) -> Result<Option<BackupRun>> {
        let raw = self.db.read(|c| {
            c.query_opt(
                "SELECT value FROM settings WHERE key = $1",
                &[LAST_RUN.into()],
            )?
            .map(|r| r.get::<String>(0))
            .transpose()
        })?;
        raw.map(|s| serde_json::from_str(&s).map_err(|_| StoreError::Corrupt("backup run".into())))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klar_crypto::MasterKey;

    fn sealed(keys: &Keyring, header: &BackupHeader, dir: &Path) -> PathBuf {
        let plain = dir.join("plain.db");
        std::fs::write(&plain, vec![7u8; 3 * CHUNK / 2]).unwrap();
        let out = dir.join(format!("f{}.klarbak", header.format));
        seal_file(keys, header, &plain, &out).unwrap();
        out
    }

    #[test]
    fn format_one_backups_still_read_and_need_generation_one() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keyring::new(&MasterKey::generate(&mut rand::rngs::OsRng));
        let header = BackupHeader {
            format: 1,
            created_at: "2026-11-29T10:00:00Z".into(),
            key_id: keys.key_check(),
            keks: vec![],
        };
        let raw = serde_json::to_string(&header).unwrap();
        assert!(!raw.contains("keks"), "format 1 headers had no such field");
        let file = sealed(&keys, &header, dir.path());
        let info = open_backup(&keys, &file, &mut std::io::sink()).unwrap();
        assert_eq!(info.bytes, 3 * CHUNK as u64 / 2);
        assert_eq!(
            info.header.needs(&keys),
            vec![KekNeed {
                generation: 1,
                id: keys.derived_kek().id()
            }]
        );
        check_backup_keks(&keys, dir.path(), &info.header).unwrap();
    }

    #[test]
    fn a_database_from_before_rotation_uses_generation_one_only() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.db");
        let c = rusqlite::Connection::open(&old).unwrap();
        c.execute_batch(
            "CREATE TABLE person_keys (person_id TEXT PRIMARY KEY, key_version BIGINT, wrapped_key BLOB);
             CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);",
        )
        .unwrap();
        drop(c);
        assert_eq!(crate::db::kek_generations_in(&old).unwrap(), (1, vec![1]));
        let c = rusqlite::Connection::open(&old).unwrap();
        c.execute_batch(
            "ALTER TABLE person_keys ADD COLUMN kek_generation BIGINT NOT NULL DEFAULT 1;
             INSERT INTO person_keys VALUES ('a', 1, x'00', 2), ('b', 1, x'00', 3);
             INSERT INTO settings VALUES ('kek_generation', '3');",
        )
        .unwrap();
        drop(c);
        let (current, mut used) = crate::db::kek_generations_in(&old).unwrap();
        used.sort();
        assert_eq!((current, used), (3, vec![2, 3]));
    }

    #[test]
    fn a_format_two_header_must_name_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keyring::new(&MasterKey::generate(&mut rand::rngs::OsRng));
        let mut header = BackupHeader {
            format: FORMAT,
            created_at: "2026-11-30T10:00:00Z".into(),
            key_id: keys.key_check(),
            keks: vec![],
        };
        let file = sealed(&keys, &header, dir.path());
        let err = open_backup(&keys, &file, &mut std::io::sink()).unwrap_err();
        assert!(err.to_string().contains("format"), "{err}");

        header.keks = vec![KekNeed {
            generation: 2,
            id: "00112233445566778899aabbccddeeff".into(),
        }];
        let file = sealed(&keys, &header, dir.path());
        let info = open_backup(&keys, &file, &mut std::io::sink()).unwrap();
        let err = check_backup_keks(&keys, dir.path(), &info.header).unwrap_err();
        assert!(
            err.to_string().contains("generation 2") && err.to_string().contains("kek-2.key"),
            "{err}"
        );
    }
}
