use klar_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The person was erased (Art. 17); only her id-only tombstone is left.
    #[error("erased")]
    Erased,
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("cryptography: {0}")]
    Crypto(#[from] klar_crypto::CryptoError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("a lock was poisoned by an earlier failure")]
    Poisoned,
    /// A WAL checkpoint could not finish because a reader still held an old snapshot.
    #[error("the WAL checkpoint was blocked by a reader")]
    CheckpointBlocked,
    /// A key-encryption key is missing, malformed, or cannot be made or destroyed (the
    /// reason is readable and names files and generations, never key material).
    #[error("keys: {0}")]
    Key(String),
    /// A backup could not be written, or a backup file is refused (the reason is readable).
    #[error("backup: {0}")]
    Backup(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;
