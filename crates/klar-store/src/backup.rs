//! Encrypted backups (Art. 32(1)(c)) that cannot resurrect erased people.
//!
//! A backup is a consistent snapshot of the database (`VACUUM INTO`, taken while the server
//! runs, without a long write lock), sealed in 1 MiB chunks with XChaCha20-Poly1305 under a
//! key derived from the master key. Each chunk's associated data binds it to the file's header
//! (format version, creation time, key id), its position, and whether it is the last one, so a
//! reordered, shortened, corrupted or foreign file is refused. Restoring replays the erasure
//! journal, which lives outside the database (`DATA_DIR/erasure-journal`) as well as in it:
//! a person erased after the backup was taken is erased again before anyone can read her.

use crate::error::{Result, StoreError};
use crate::{Store, StoreConfig};
use klar_crypto::{Context, Keyring};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"KLARBAK\x01";
const CHUNK: usize = 1 << 20;
/// File name of the erasure journal in the data dir (ids and times, one per line).
pub const JOURNAL: &str = "erasure-journal";

/// What a backup file says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupHeader {
    pub format: u32,
    pub created_at: String,
    /// The key check of the master key the backup needs.
    pub key_id: String,
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

/// Seals the database file `plain` into `out` (written beside it and renamed when complete).
fn seal_file(keys: &Keyring, header: &BackupHeader, plain: &Path, out: &Path) -> Result<u64> {
    let io = |e: std::io::Error| StoreError::Backup(format!("cannot write the backup: {e}"));
    let raw = serde_json::to_vec(header).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let digest = header_digest(&raw);
    let partial = out.with_extension("partial");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(io)?);
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
    Ok(total)
}

/// Reads and checks a backup, writing the database it holds to `sink`.
pub fn open_backup(keys: &Keyring, file: &Path, sink: &mut dyn Write) -> Result<BackupInfo> {
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
    if header.format != 1 {
        return Err(bad("the backup has a format this version cannot read"));
    }
    if !keys.matches_key_check(&header.key_id) {
        return Err(bad(
            "the backup belongs to another installation or master key; restore it with the key it was made with",
        ));
    }
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
        let tmp = self
            .db
            .path()
            .with_file_name(format!(".backup-{}.db", self.next_id()));
        let result = (|| {
            self.db.snapshot_into(&tmp)?;
            let header = BackupHeader {
                format: 1,
                created_at: self.now().to_string(),
                key_id: self.keys.key_check(),
            };
            let bytes = seal_file(&self.keys, &header, &tmp, out)?;
            Ok(BackupInfo { header, bytes })
        })();
        let _ = std::fs::remove_file(&tmp);
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
