use crate::db::{DatabaseUrl, Db, Val};
use crate::error::{Result, StoreError};
use crate::migrate;
use klar_crypto::{KEY_CHECK_LABEL, Keyring, MasterKey};
use klar_domain::Clock;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the installation keeps its data.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub database_url: Option<DatabaseUrl>,
    /// `KLAR_MASTER_KEY_FILE`; default `DATA_DIR/master.key`.
    pub master_key_file: Option<PathBuf>,
}

impl StoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            master_key_file: None,
        }
    }

    pub fn database_url(&self) -> DatabaseUrl {
        self.database_url
            .clone()
            .unwrap_or_else(|| DatabaseUrl::Sqlite(self.data_dir.join("klar.db")))
    }

    pub fn key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// Where the key-encryption key files (`kek-N.key`) live: beside the master key.
    pub fn key_dir(&self) -> PathBuf {
        self.key_path()
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }
}

/// The storage of one installation.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Arc<Db>,
    pub(crate) keys: Arc<Keyring>,
    /// The key-encryption key generations (decision 0012).
    pub(crate) keks: Arc<crate::keys::Keks>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) auth_cache: Arc<crate::users::AuthCache>,
    pub(crate) ids: Arc<std::sync::Mutex<klar_domain::ids::IdGenerator>>,
    pub(crate) audit: Arc<crate::audit::AuditSink>,
    /// Where the erasure journal lives (outside the database, so a restore can replay it).
    pub(crate) data_dir: Option<Arc<PathBuf>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("db", &self.db).finish()
    }
}

impl Store {
    /// Opens (or creates) the installation's storage and applies pending migrations.
    ///
    /// The master key is created (0600) only when neither the database nor the key exists.
    /// An existing database with a missing or different key is refused: Klar never makes a
    /// new key silently, because data encrypted under the old one would be lost.
    pub fn open(cfg: &StoreConfig, clock: Arc<dyn Clock>) -> Result<Store> {
        create_private_dir(&cfg.data_dir)?;
        let url = cfg.database_url();
        let db_existed = match &url {
            DatabaseUrl::Sqlite(p) => p.exists(),
            DatabaseUrl::Postgres(_) => true,
        };
        let key_path = cfg.key_path();
        let master = if key_path.exists() {
            read_master_key(&key_path)?
        } else if cfg.master_key_file.is_some() {
            return Err(StoreError::Config(format!(
                "the master key file named by KLAR_MASTER_KEY_FILE does not exist: {}",
                key_path.display()
            )));
        } else if db_existed && database_has_key_check(&url)? {
            return Err(StoreError::Config(format!(
                "the database is encrypted but the master key is missing (expected at {}); \
                 restore the key file or set KLAR_MASTER_KEY_FILE. Klar will not create a new key \
                 for an existing database",
                key_path.display()
            )));
        } else {
            create_master_key(&key_path)?
        };
        let keys = Arc::new(Keyring::new(&master));
        drop(master);
        let db = Db::open(&url)?;
        // A backup killed half-way leaves a plaintext snapshot copy beside the database.
        if let Some(dir) = db.path().parent() {
            crate::backup::remove_stale_snapshots(dir);
        }
        migrate::migrate(&db, clock.now().as_millisecond())?;
        let stored = db.read(|c| {
            c.query_opt(
                "SELECT value FROM settings WHERE key = $1",
                &[KEY_CHECK_LABEL.into()],
            )?
            .map(|r| r.get::<String>(0))
            .transpose()
        })?;
        match stored {
            Some(check) if !keys.matches_key_check(&check) => {
                return Err(StoreError::Config(
                    "the master key does not belong to this database (key check failed); \
                     start with the key file this database was created with"
                        .into(),
                ));
            }
            Some(_) => {}
            None => {
                db.write(|c| {
                    c.execute(
                        "INSERT INTO settings (key, value) VALUES ($1, $2)",
                        &[KEY_CHECK_LABEL.into(), Val::Text(keys.key_check())],
                    )
                })?;
            }
        }
        let chained = crate::audit::backfill_chain(&db)?;
        if chained > 0 {
            tracing::info!(entries = chained, "audit entries chained");
        }
        let store = Store {
            auth_cache: Arc::default(),
            ids: Arc::default(),
            audit: Arc::new(crate::audit::AuditSink::start(db.clone(), keys.clone())?),
            data_dir: Some(Arc::new(cfg.data_dir.clone())),
            keks: Arc::new(crate::keys::Keks::new(keys.clone(), cfg.key_dir())),
            db,
            keys,
            clock,
        };
        store.check_keks()?;
        store.ensure_default_pipeline()?;
        store.ensure_default_purposes()?;
        store.ensure_default_wordings()?;
        Ok(store)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// A new id, greater than every id this store made before.
    pub(crate) fn next_id(&self) -> uuid::Uuid {
        let now = self.clock.now();
        let mut rng = rand::rngs::OsRng;
        match self.ids.lock() {
            Ok(mut g) => g.next(now, &mut rng),
            Err(poisoned) => poisoned.into_inner().next(now, &mut rng),
        }
    }

    /// Cheap readiness probe: one query.
    pub fn ping(&self) -> Result<()> {
        self.db.read(|c| c.query("SELECT 1", &[]).map(|_| ()))
    }
}

fn database_has_key_check(url: &DatabaseUrl) -> Result<bool> {
    let db = Db::open(url)?;
    let has = db.read(|c| {
        let t = c.query_opt(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'settings'",
            &[],
        )?;
        if t.is_none() {
            return Ok(false);
        }
        Ok(c.query_opt(
            "SELECT value FROM settings WHERE key = $1",
            &[KEY_CHECK_LABEL.into()],
        )?
        .is_some())
    })?;
    Ok(has)
}

pub(crate) fn read_master_key(path: &Path) -> Result<MasterKey> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        StoreError::Config(format!(
            "cannot read the master key {}: {e}",
            path.display()
        ))
    })?;
    MasterKey::from_file_contents(&text).map_err(|_| {
        StoreError::Config(format!(
            "the master key file {} is malformed",
            path.display()
        ))
    })
}

fn create_master_key(path: &Path) -> Result<MasterKey> {
    let key = MasterKey::generate(&mut rand::rngs::OsRng);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        StoreError::Config(format!(
            "cannot create the master key {}: {e}",
            path.display()
        ))
    })?;
    f.write_all(key.to_file_contents().as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| {
            StoreError::Config(format!(
                "cannot write the master key {}: {e}",
                path.display()
            ))
        })?;
    tracing::info!("created a new master key; back it up separately from the data");
    Ok(key)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| {
        StoreError::Config(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })
}
