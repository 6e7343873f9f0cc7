//! Klar's cryptography.
//!
//! Key hierarchy:
//! - the **master key** (32 random bytes in `DATA_DIR/master.key`, 0600) never encrypts data;
//! - from it HKDF-SHA256 derives the **key-encryption key** (KEK), the **blind-index key**,
//!   the **installation data key** and a **key check** value stored in the database, so a wrong
//!   master key is detected before anything is written;
//! - every person has a random **data key** (DEK), stored only wrapped by the KEK; all her
//!   personal fields are encrypted under it with XChaCha20-Poly1305. Destroying the wrapped
//!   DEK (crypto-shredding) makes every ciphertext of hers unreadable.
//! - the KEK has **generations** ([`Kek`]): generation 1 is the one derived from the master
//!   key; `klar keys rotate` makes random later ones (files beside the master key) and
//!   re-wraps every DEK, so an old generation can be destroyed (decision 0012).
//!
//! Every ciphertext binds its context (table, column, row id, key version) as associated data,
//! so a ciphertext moved to another row or column fails to decrypt.

mod aead;
mod blind;
mod keys;
mod secret;
pub mod totp;

pub use aead::{Context, DataKey, WrappedKey};
pub use blind::{BlindIndex, BlindKind};
pub use keys::{KEY_CHECK_LABEL, Kek, Keyring, MasterKey, verify_audit_signature};
pub use secret::{
    PasswordParams, constant_time_eq, hash_password, hash_token, new_token, verify_password,
};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("decryption failed: wrong key or tampered data")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    /// A wrapped key names another key-encryption key generation than the one offered.
    #[error("the key is wrapped under key-encryption key generation {wrapped}, not {kek}")]
    Generation { wrapped: u32, kek: u32 },
    #[error("key material is malformed: {0}")]
    Malformed(&'static str),
    #[error("password hashing failed")]
    Password,
}

pub type Result<T> = std::result::Result<T, CryptoError>;
