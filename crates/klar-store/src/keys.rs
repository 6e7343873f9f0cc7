//! Generations of the key-encryption key (KEK) and their rotation (decision 0012).
//!
//! Every person's data key is stored wrapped under one KEK generation, named beside it
//! (`person_keys.kek_generation`). Generation 1 is derived from the master key; every later
//! generation is a random key in its own file beside the master key (`kek-N.key`, 0600), so
//! it can be destroyed once nothing is wrapped under it any more. The database records the
//! current generation (new data keys are wrapped under it, read inside the writing
//! transaction) and each generation's public id.
//!
//! Unwrapping picks the KEK by the stored generation and loads a file it has not seen yet on
//! demand, so a running server keeps working while `klar keys rotate` runs in another process.

use crate::audit::{AuditAction, AuditEntry};
use crate::db::{Conn, Val};
use crate::error::{Result, StoreError};
use crate::{Actor, Store};
use klar_crypto::{DataKey, Kek, Keyring, WrappedKey};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Settings key of the current generation (absent: 1).
const CURRENT: &str = "kek_generation";

fn id_label(g: u32) -> String {
    format!("kek_id_{g}")
}

fn destroyed_label(g: u32) -> String {
    format!("kek_destroyed_{g}")
}

/// How many data keys one rotation transaction re-wraps: short transactions, so a running
/// server's writes interleave.
pub const REWRAP_BATCH: usize = 256;

/// How long a loaded KEK file is used before its presence is checked again: a running server
/// forgets a destroyed generation within this time.
const RECHECK: Duration = Duration::from_secs(5);

/// The file name of generation `g` (2 or later) in the master key's directory.
pub fn kek_file_name(g: u32) -> String {
    format!("kek-{g}.key")
}

fn parse_kek_file_name(name: &str) -> Option<u32> {
    name.strip_prefix("kek-")?
        .strip_suffix(".key")?
        .parse()
        .ok()
        .filter(|g| *g >= 2)
}

fn generation_of(v: i64) -> Result<u32> {
    u32::try_from(v)
        .ok()
        .filter(|g| *g >= 1)
        .ok_or_else(|| StoreError::Corrupt("key-encryption key generation".into()))
}

fn missing(g: u32, path: &Path) -> StoreError {
    StoreError::Key(format!(
        "the key-encryption key of generation {g} is missing (expected at {}); data keys wrapped \
         under it cannot be opened until the file is restored",
        path.display()
    ))
}

/// The current generation, as recorded in the database.
pub(crate) fn current_generation(c: &Conn<'_>) -> Result<u32> {
    match c.query_opt(
        "SELECT value FROM settings WHERE key = $1",
        &[CURRENT.into()],
    )? {
        None => Ok(1),
        Some(r) => r
            .get::<String>(0)?
            .parse::<i64>()
            .map_err(|_| StoreError::Corrupt("key-encryption key generation".into()))
            .and_then(generation_of),
    }
}

/// The ids recorded for generations 2 and later.
fn recorded_ids(c: &Conn<'_>) -> Result<BTreeMap<u32, String>> {
    let mut out = BTreeMap::new();
    for r in c.query(
        "SELECT key, value FROM settings WHERE key LIKE $1",
        &["kek_id_%".into()],
    )? {
        let key: String = r.get(0)?;
        if let Some(g) = key
            .strip_prefix("kek_id_")
            .and_then(|g| g.parse::<u32>().ok())
        {
            out.insert(g, r.get::<String>(1)?);
        }
    }
    Ok(out)
}

fn upsert(c: &Conn<'_>, key: &str, value: String) -> Result<()> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2",
        &[key.into(), Val::Text(value)],
    )?;
    Ok(())
}

/// How many data keys each generation wraps.
fn keys_by_generation(c: &Conn<'_>) -> Result<BTreeMap<u32, u64>> {
    let mut out = BTreeMap::new();
    for r in c.query(
        "SELECT kek_generation, COUNT(*) FROM person_keys GROUP BY kek_generation",
        &[],
    )? {
        out.insert(
            generation_of(r.get(0)?)?,
            u64::try_from(r.get::<i64>(1)?).unwrap_or(0),
        );
    }
    Ok(out)
}

/// The generations that have a file in `dir`, with their paths.
fn kek_files(dir: &Path) -> Result<BTreeMap<u32, PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(StoreError::Key(format!(
                "cannot list {}: {e}",
                dir.display()
            )));
        }
    };
    Ok(entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let g = parse_kek_file_name(e.file_name().to_str()?)?;
            Some((g, e.path()))
        })
        .collect())
}

fn read_kek_file(g: u32, path: &Path) -> Result<Kek> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing(g, path)),
        Err(e) => {
            return Err(StoreError::Key(format!(
                "cannot read the key-encryption key {}: {e}",
                path.display()
            )));
        }
    };
    Kek::from_file_contents(g, &text).map_err(|_| {
        StoreError::Key(format!(
            "the key-encryption key file {} is malformed",
            path.display()
        ))
    })
}

/// Writes a new private file (0600); never replaces an existing one.
fn write_private_file(path: &Path, contents: &str) -> Result<()> {
    let io = |e: std::io::Error| {
        StoreError::Key(format!(
            "cannot write the key-encryption key {}: {e}",
            path.display()
        ))
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(contents.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io)?;
    sync_dir(path);
    Ok(())
}

/// Makes a creation, rename or removal in `path`'s directory durable (best effort).
pub(crate) fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = d.sync_all();
    }
}

/// Overwrites a key file with random bytes, then removes it. On copy-on-write file systems
/// and SSDs the old blocks may survive the overwrite; see README.
fn shred(path: &Path) -> Result<()> {
    use rand::RngCore;
    let io = |e: std::io::Error| {
        StoreError::Key(format!(
            "cannot destroy the key-encryption key {}: {e}",
            path.display()
        ))
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    let mut noise = vec![0u8; usize::try_from(len).unwrap_or(65)];
    rand::rngs::OsRng.fill_bytes(&mut noise);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io)?;
    f.write_all(&noise)
        .and_then(|()| f.sync_all())
        .map_err(io)?;
    drop(f);
    std::fs::remove_file(path).map_err(io)?;
    sync_dir(path);
    Ok(())
}

/// A KEK in use: the derived generation 1, or a generation loaded from its file.
pub(crate) enum KekRef<'a> {
    Derived(&'a Kek),
    Loaded(Arc<Kek>),
}

impl std::ops::Deref for KekRef<'_> {
    type Target = Kek;
    fn deref(&self) -> &Kek {
        match self {
            Self::Derived(k) => k,
            Self::Loaded(k) => k,
        }
    }
}

struct Loaded {
    kek: Arc<Kek>,
    checked: Instant,
}

/// The KEK generations of one store: generation 1 from the master key, later ones loaded
/// from their files on first use and re-checked every few seconds.
pub(crate) struct Keks {
    ring: Arc<Keyring>,
    dir: PathBuf,
    loaded: RwLock<HashMap<u32, Loaded>>,
}

impl Keks {
    pub(crate) fn new(ring: Arc<Keyring>, dir: PathBuf) -> Self {
        Self {
            ring,
            dir,
            loaded: RwLock::default(),
        }
    }

    pub(crate) fn path_of(&self, g: u32) -> PathBuf {
        self.dir.join(kek_file_name(g))
    }

    /// The KEK of generation `g`, loading its file when not yet loaded.
    pub(crate) fn get(&self, g: u32) -> Result<KekRef<'_>> {
        if g == 1 {
            return Ok(KekRef::Derived(self.ring.derived_kek()));
        }
        let now = Instant::now();
        if let Ok(map) = self.loaded.read()
            && let Some(l) = map.get(&g)
            && now.duration_since(l.checked) < RECHECK
        {
            return Ok(KekRef::Loaded(l.kek.clone()));
        }
        let path = self.path_of(g);
        let mut map = self.loaded.write().map_err(|_| StoreError::Poisoned)?;
        // Forget every other generation whose file was destroyed meanwhile, so a running
        // server does not keep a destroyed key in memory.
        map.retain(|other, _| *other == g || self.path_of(*other).exists());
        if let Some(l) = map.get_mut(&g) {
            if path.exists() {
                l.checked = now;
                return Ok(KekRef::Loaded(l.kek.clone()));
            }
            map.remove(&g);
            return Err(missing(g, &path));
        }
        let kek = Arc::new(read_kek_file(g, &path)?);
        map.insert(
            g,
            Loaded {
                kek: kek.clone(),
                checked: now,
            },
        );
        Ok(KekRef::Loaded(kek))
    }

    fn forget(&self, g: u32) {
        if let Ok(mut map) = self.loaded.write() {
            map.remove(&g);
        }
    }

    /// Unwraps a person's data key under the generation it names.
    pub(crate) fn unwrap(&self, w: &WrappedKey, owner: &str) -> Result<DataKey> {
        Ok(self.get(w.generation)?.unwrap(w, owner)?)
    }

    /// The public id of generation `g`.
    fn id_of(&self, g: u32) -> Result<String> {
        Ok(self.get(g)?.id())
    }
}

/// Reads a wrapped key from a row: the bytes at `bytes`, the generation at `generation`.
pub(crate) fn wrapped_at(
    r: &crate::db::Row,
    bytes: usize,
    generation: usize,
) -> Result<WrappedKey> {
    Ok(WrappedKey {
        generation: generation_of(r.get(generation)?)?,
        bytes: r.get(bytes)?,
    })
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub from: u32,
    pub to: u32,
    pub file: PathBuf,
    /// Data keys re-wrapped under the new generation.
    pub rewrapped: u64,
}

/// The state of one KEK generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KekState {
    /// Generation 1: derived from the master key, destroyed only with it.
    Derived,
    /// The file is there and holds the key the database recorded.
    Present,
    /// The file is there but holds another key than the database recorded.
    WrongKey,
    /// The file is gone and `klar keys destroy-old` destroyed it.
    Destroyed,
    /// The file is gone without a record of its destruction.
    Missing,
}

impl KekState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Derived => "derived from the master key",
            Self::Present => "present",
            Self::WrongKey => "WRONG KEY: the file holds another key than the database recorded",
            Self::Destroyed => "destroyed",
            Self::Missing => "MISSING",
        }
    }
}

/// One generation in `klar keys status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekGeneration {
    pub generation: u32,
    /// The file it lives in (none for generation 1).
    pub file: Option<PathBuf>,
    pub state: KekState,
    /// Data keys wrapped under it.
    pub keys: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub current: u32,
    pub generations: Vec<KekGeneration>,
}

/// A key-encryption key generation a backup needs, by its public id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KekNeed {
    pub generation: u32,
    pub id: String,
}

/// Whether a needed KEK is at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekAvailability {
    /// Generation 1, derived from this master key.
    Derived,
    Present(PathBuf),
    Missing(PathBuf),
    /// The file exists but holds another key.
    Different(PathBuf),
}

impl KekAvailability {
    pub fn is_usable(&self) -> bool {
        matches!(self, Self::Derived | Self::Present(_))
    }
}

/// Checks whether the KEKs in `needs` are at hand: generation 1 from `ring`, later ones as
/// files in `dir` whose id matches.
pub fn kek_availability(
    ring: &Keyring,
    dir: &Path,
    needs: &[KekNeed],
) -> Vec<(KekNeed, KekAvailability)> {
    needs
        .iter()
        .map(|n| {
            let a = if n.generation == 1 {
                if ring.derived_kek().id() == n.id {
                    KekAvailability::Derived
                } else {
                    KekAvailability::Different(PathBuf::from("master.key"))
                }
            } else {
                let path = dir.join(kek_file_name(n.generation));
                match read_kek_file(n.generation, &path) {
                    Ok(k) if k.id() == n.id => KekAvailability::Present(path),
                    Ok(_) => KekAvailability::Different(path),
                    Err(_) if path.exists() => KekAvailability::Different(path),
                    Err(_) => KekAvailability::Missing(path),
                }
            };
            (n.clone(), a)
        })
        .collect()
}

impl Store {
    /// Refuses to open when the current generation's file is missing or holds another key:
    /// no new person could be created. Missing older generations only warn.
    pub(crate) fn check_keks(&self) -> Result<()> {
        let (current, ids, counts) = self.db.read(|c| {
            Ok((
                current_generation(c)?,
                recorded_ids(c)?,
                keys_by_generation(c)?,
            ))
        })?;
        if current >= 2 {
            let kek = self.keks.get(current).map_err(|_| {
                StoreError::Config(format!(
                    "the current key-encryption key (generation {current}) is missing: expected at \
                     {}. Restore that file from where you keep the key files; Klar does not start \
                     without it",
                    self.keks.path_of(current).display()
                ))
            })?;
            if ids.get(&current).is_some_and(|id| *id != kek.id()) {
                return Err(StoreError::Config(format!(
                    "{} holds another key than this database recorded for generation {current}",
                    self.keks.path_of(current).display()
                )));
            }
        }
        for (g, n) in counts {
            if g >= 2 && g != current && self.keks.get(g).is_err() {
                tracing::warn!(
                    generation = g,
                    keys = n,
                    "a key-encryption key generation in use is missing; run klar keys status"
                );
            }
        }
        Ok(())
    }

    /// The KEK generations: the current one, the data keys under each, which files exist.
    pub fn key_status(&self) -> Result<KeyStatus> {
        let (current, ids, counts, destroyed) = self.db.read(|c| {
            let destroyed: BTreeSet<u32> = c
                .query(
                    "SELECT key FROM settings WHERE key LIKE $1",
                    &["kek_destroyed_%".into()],
                )?
                .iter()
                .filter_map(|r| {
                    r.get::<String>(0)
                        .ok()?
                        .strip_prefix("kek_destroyed_")?
                        .parse()
                        .ok()
                })
                .collect();
            Ok((
                current_generation(c)?,
                recorded_ids(c)?,
                keys_by_generation(c)?,
                destroyed,
            ))
        })?;
        let files = kek_files(&self.keks.dir)?;
        let mut all: BTreeSet<u32> = BTreeSet::from([1, current]);
        all.extend(files.keys());
        all.extend(ids.keys());
        all.extend(counts.keys());
        let generations = all
            .into_iter()
            .map(|g| {
                let keys = counts.get(&g).copied().unwrap_or(0);
                if g == 1 {
                    return KekGeneration {
                        generation: 1,
                        file: None,
                        state: KekState::Derived,
                        keys,
                    };
                }
                let path = self.keks.path_of(g);
                let state = match read_kek_file(g, &path) {
                    Ok(k) if ids.get(&g).is_none_or(|id| *id == k.id()) => KekState::Present,
                    Ok(_) => KekState::WrongKey,
                    Err(_) if path.exists() => KekState::WrongKey,
                    Err(_) if destroyed.contains(&g) => KekState::Destroyed,
                    Err(_) => KekState::Missing,
                };
                KekGeneration {
                    generation: g,
                    file: Some(path),
                    state,
                    keys,
                }
            })
            .collect();
        Ok(KeyStatus {
            current,
            generations,
        })
    }

    /// Makes a new KEK generation, records it as current (every data key wrapped from then on
    /// uses it), then re-wraps every data key of an older generation in batches, one
    /// transaction each, until none is left. Data ciphertexts, blind indexes, sessions and
    /// audit signatures are not touched. `progress` sees (done, total).
    #[tracing::instrument(skip_all)]
    pub fn rotate_kek(&self, actor: Actor, progress: &mut dyn FnMut(u64, u64)) -> Result<Rotation> {
        let (from, recorded) = self
            .db
            .read(|c| Ok((current_generation(c)?, recorded_ids(c)?)))?;
        // Never reuse a generation number: not one with a file, nor one the database knows.
        let highest = [
            from,
            kek_files(&self.keks.dir)?
                .keys()
                .max()
                .copied()
                .unwrap_or(1),
            recorded.keys().max().copied().unwrap_or(1),
        ]
        .into_iter()
        .max()
        .unwrap_or(1);
        let to = highest
            .checked_add(1)
            .ok_or_else(|| StoreError::Key("no generation number left".into()))?;
        let kek = Kek::generate(to, &mut rand::rngs::OsRng);
        let file = self.keks.path_of(to);
        write_private_file(&file, &kek.to_file_contents())?;
        let id = kek.id();
        drop(kek);
        let recorded = self.db.write(|c| {
            if current_generation(c)? != from {
                return Err(StoreError::Conflict(
                    "another key rotation ran meanwhile".into(),
                ));
            }
            upsert(c, &id_label(to), id.clone())?;
            upsert(c, CURRENT, to.to_string())
        });
        if let Err(e) = recorded {
            let _ = std::fs::remove_file(&file);
            return Err(e);
        }
        tracing::info!(from, to, "new key-encryption key generation is current");
        let mut rewrap = || -> Result<u64> {
            let total: u64 = self.db.read(|c| {
                let n: i64 = c
                    .query_one(
                        "SELECT COUNT(*) FROM person_keys WHERE kek_generation < $1",
                        &[Val::Int(to.into())],
                    )?
                    .get(0)?;
                Ok(u64::try_from(n).unwrap_or(0))
            })?;
            progress(0, total);
            let mut done = 0u64;
            loop {
                let n = self.db.write(|c| {
                    if current_generation(c)? != to {
                        return Err(StoreError::Conflict(
                            "another key rotation ran meanwhile".into(),
                        ));
                    }
                    let rows = c.query(
                        "SELECT person_id, wrapped_key, kek_generation FROM person_keys \
                         WHERE kek_generation < $1 LIMIT $2",
                        &[Val::Int(to.into()), Val::Int(REWRAP_BATCH as i64)],
                    )?;
                    let new = self.keks.get(to)?;
                    let mut rng = rand::rngs::OsRng;
                    for r in &rows {
                        let pid: String = r.get(0)?;
                        let dek = self.keks.unwrap(&wrapped_at(r, 1, 2)?, &pid)?;
                        let w = new.wrap(&dek, &pid, &mut rng)?;
                        c.execute(
                            "UPDATE person_keys SET wrapped_key = $1, kek_generation = $2 WHERE person_id = $3",
                            &[Val::Blob(w.bytes), Val::Int(to.into()), pid.into()],
                        )?;
                    }
                    Ok(rows.len() as u64)
                })?;
                if n == 0 {
                    return Ok(done);
                }
                done += n;
                progress(done, total.max(done));
            }
        };
        let result = rewrap();
        self.audit(
            AuditEntry::new(actor, AuditAction::KeyRotate)
                .object("kek_generation", to)
                .outcome(if result.is_ok() { "ok" } else { "incomplete" }),
        );
        let rewrapped = result?;
        tracing::info!(to, rewrapped, "key rotation complete");
        Ok(Rotation {
            from,
            to,
            file,
            rewrapped,
        })
    }

    /// Destroys the files of every generation older than the current one, refusing (and
    /// destroying nothing) while any data key is still wrapped under one of them. Generation 1
    /// is derived from the master key and has no file of its own. Returns the generations
    /// destroyed.
    #[tracing::instrument(skip_all)]
    pub fn destroy_old_keks(&self, actor: Actor) -> Result<Vec<u32>> {
        let (current, counts) = self
            .db
            .read(|c| Ok((current_generation(c)?, keys_by_generation(c)?)))?;
        let old: Vec<(u32, PathBuf)> = kek_files(&self.keks.dir)?
            .into_iter()
            .filter(|(g, _)| *g < current)
            .collect();
        for (g, _) in &old {
            if let Some(n) = counts.get(g).filter(|n| **n > 0) {
                return Err(StoreError::Key(format!(
                    "{n} data key(s) are still wrapped under generation {g}; run `klar keys \
                     rotate` to move them, then destroy it. Nothing was destroyed"
                )));
            }
        }
        let mut destroyed = Vec::new();
        for (g, path) in old {
            shred(&path)?;
            self.keks.forget(g);
            let now = self.now().as_millisecond();
            self.db
                .write(|c| upsert(c, &destroyed_label(g), now.to_string()))?;
            self.audit(
                AuditEntry::new(actor, AuditAction::KeyDestroy)
                    .object("kek_generation", g)
                    .outcome("ok"),
            );
            tracing::info!(generation = g, "key-encryption key destroyed");
            destroyed.push(g);
        }
        Ok(destroyed)
    }

    /// The KEK generations the data keys in a database snapshot file need, with their ids:
    /// every generation a key is wrapped under, and the current one (new keys after a
    /// restore are wrapped under it).
    pub(crate) fn keks_needed_by(&self, snapshot: &Path) -> Result<Vec<KekNeed>> {
        let (current, used) = crate::db::kek_generations_in(snapshot)?;
        let ids = self.db.read(recorded_ids)?;
        let mut all: BTreeSet<u32> = used.into_iter().collect();
        all.insert(current);
        all.into_iter()
            .map(|g| {
                let id = match ids.get(&g) {
                    Some(id) if g >= 2 => id.clone(),
                    _ => self.keks.id_of(g)?,
                };
                Ok(KekNeed { generation: g, id })
            })
            .collect()
    }

    /// The directory the KEK files live in (the master key's).
    pub fn kek_dir(&self) -> &Path {
        &self.keks.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kek_files_of_generation_two_and_later_are_recognised() {
        assert_eq!(parse_kek_file_name("kek-2.key"), Some(2));
        assert_eq!(parse_kek_file_name("kek-17.key"), Some(17));
        assert_eq!(parse_kek_file_name("kek-1.key"), None);
        assert_eq!(parse_kek_file_name("kek-x.key"), None);
        assert_eq!(parse_kek_file_name("master.key"), None);
        assert_eq!(parse_kek_file_name("kek-2.key.bak"), None);
    }
}
