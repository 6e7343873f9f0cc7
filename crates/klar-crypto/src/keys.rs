use crate::aead::{Context, DataKey, WrappedKey};
use crate::blind::BlindIndex;
use crate::{CryptoError, Result};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Label under which the key check value is stored in the database settings.
pub const KEY_CHECK_LABEL: &str = "key_check_v1";

/// The installation's master key. Read from a file; never stored in the database.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        Self(k)
    }

    /// The file form: 64 lower-case hex digits and a newline.
    pub fn to_file_contents(&self) -> String {
        let mut s = String::with_capacity(65);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s.push('\n');
        s
    }

    pub fn from_file_contents(s: &str) -> Result<Self> {
        let hex = s.trim();
        if hex.len() != 64 {
            return Err(CryptoError::Malformed("a master key is 64 hex digits"));
        }
        let mut k = [0u8; 32];
        for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(chunk).map_err(|_| CryptoError::Malformed("not hex"))?;
            k[i] = u8::from_str_radix(pair, 16).map_err(|_| CryptoError::Malformed("not hex"))?;
        }
        Ok(Self(k))
    }

    fn derive(&self, label: &str) -> [u8; 32] {
        let hk = Hkdf::<Sha256>::new(Some(b"klar/v1"), &self.0);
        let mut out = [0u8; 32];
        #[allow(clippy::expect_used)]
        hk.expand(label.as_bytes(), &mut out)
            .expect("32 bytes is a valid HKDF output length");
        out
    }
}

/// The keys derived from the master key, ready for use.
pub struct Keyring {
    kek: DataKey,
    installation: DataKey,
    blind: BlindIndex,
    check: [u8; 32],
    session: [u8; 32],
    /// Signs audit checkpoints (Ed25519); zeroized on drop by the crate.
    audit_signing: ed25519_dalek::SigningKey,
    /// Encrypts backup files.
    backup: DataKey,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        self.check.zeroize();
        self.session.zeroize();
    }
}

impl Keyring {
    pub fn new(master: &MasterKey) -> Self {
        let check_key = master.derive("key-check");
        #[allow(clippy::expect_used)]
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&check_key).expect("any key length");
        mac.update(b"klar key check");
        let check: [u8; 32] = mac.finalize().into_bytes().into();
        Self {
            kek: DataKey::from_bytes(master.derive("key-encryption-key")),
            installation: DataKey::from_bytes(master.derive("installation-data-key")),
            blind: BlindIndex::new(master.derive("blind-index")),
            check,
            session: master.derive("session-secret"),
            audit_signing: ed25519_dalek::SigningKey::from_bytes(&master.derive("audit-signing")),
            backup: DataKey::from_bytes(master.derive("backup-key")),
        }
    }

    /// The key backup files are sealed with.
    pub fn backup_key(&self) -> &DataKey {
        &self.backup
    }

    /// Signs an audit checkpoint (the chain head) with the installation's Ed25519 key.
    pub fn sign_audit(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.audit_signing.sign(message).to_bytes()
    }

    /// The public half, for auditors who verify an exported range elsewhere.
    pub fn audit_verifying_key(&self) -> [u8; 32] {
        self.audit_signing.verifying_key().to_bytes()
    }

    /// A value stored with the database that proves which master key it belongs to,
    /// without revealing anything about the key.
    pub fn key_check(&self) -> String {
        self.check.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Constant-time comparison of a stored key check with this keyring's.
    pub fn matches_key_check(&self, stored: &str) -> bool {
        crate::secret::constant_time_eq(self.key_check().as_bytes(), stored.trim().as_bytes())
    }

    pub fn wrap(&self, dek: &DataKey, owner_id: &str, rng: &mut dyn RngCore) -> Result<WrappedKey> {
        let ctx = Context {
            table: "person_keys",
            column: "wrapped_key",
            row_id: owner_id,
            key_version: 1,
        };
        self.kek.seal(&ctx, dek.bytes(), rng).map(WrappedKey)
    }

    pub fn unwrap(&self, wrapped: &WrappedKey, owner_id: &str) -> Result<DataKey> {
        let ctx = Context {
            table: "person_keys",
            column: "wrapped_key",
            row_id: owner_id,
            key_version: 1,
        };
        let mut raw = self.kek.open(&ctx, &wrapped.0)?;
        let arr: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Malformed("data key length"))?;
        raw.zeroize();
        Ok(DataKey::from_bytes(arr))
    }

    pub fn blind(&self) -> &BlindIndex {
        &self.blind
    }

    /// Key for data that belongs to no single person (activities without a person).
    pub fn installation_key(&self) -> &DataKey {
        &self.installation
    }

    /// Secret for keyed hashes of session ids and tokens.
    pub fn session_secret(&self) -> &[u8; 32] {
        &self.session
    }
}

/// Checks an audit checkpoint signature against a public key.
pub fn verify_audit_signature(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public) else {
        return false;
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(message, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn master_key_file_round_trips_and_wrong_keys_are_detected() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let m = MasterKey::generate(&mut rng);
        let again = MasterKey::from_file_contents(&m.to_file_contents()).unwrap();
        let (a, b) = (Keyring::new(&m), Keyring::new(&again));
        assert!(b.matches_key_check(&a.key_check()));
        let other = Keyring::new(&MasterKey::generate(&mut rng));
        assert!(!other.matches_key_check(&a.key_check()));
        assert!(MasterKey::from_file_contents("zz").is_err());
    }

    #[test]
    fn wrapped_keys_unwrap_only_for_their_owner_and_master() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let ring = Keyring::new(&MasterKey::generate(&mut rng));
        let dek = DataKey::generate(&mut rng);
        let w = ring.wrap(&dek, "p1", &mut rng).unwrap();
        assert_eq!(ring.unwrap(&w, "p1").unwrap().bytes(), dek.bytes());
        assert!(ring.unwrap(&w, "p2").is_err());
        let other = Keyring::new(&MasterKey::generate(&mut rng));
        assert!(other.unwrap(&w, "p1").is_err());
    }

    #[test]
    fn blind_indexes_are_keyed_and_kind_separated() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let a = Keyring::new(&MasterKey::generate(&mut rng));
        let b = Keyring::new(&MasterKey::generate(&mut rng));
        use crate::BlindKind::*;
        assert_eq!(
            a.blind().compute(Email, "x@y.de"),
            a.blind().compute(Email, "x@y.de")
        );
        assert_ne!(
            a.blind().compute(Email, "x@y.de"),
            b.blind().compute(Email, "x@y.de")
        );
        assert_ne!(
            a.blind().compute(Email, "x"),
            a.blind().compute(NamePrefix, "x")
        );
    }
}
