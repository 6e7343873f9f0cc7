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
        hex_line(&self.0)
    }

    pub fn from_file_contents(s: &str) -> Result<Self> {
        parse_hex32(s, "a master key is 64 hex digits").map(Self)
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

/// 32 bytes as 64 lower-case hex digits and a newline (the form of Klar's key files).
fn hex_line(b: &[u8; 32]) -> String {
    let mut s = String::with_capacity(65);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s.push('\n');
    s
}

fn parse_hex32(s: &str, what: &'static str) -> Result<[u8; 32]> {
    let hex = s.trim();
    if hex.len() != 64 {
        return Err(CryptoError::Malformed(what));
    }
    let mut k = [0u8; 32];
    for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(chunk).map_err(|_| CryptoError::Malformed("not hex"))?;
        k[i] = u8::from_str_radix(pair, 16).map_err(|_| CryptoError::Malformed("not hex"))?;
    }
    Ok(k)
}

/// One generation of the key-encryption key (KEK), which wraps every person's data key.
///
/// Generation 1 is derived from the master key (installations before key rotation);
/// every later generation is 32 random bytes of its own, kept in a file beside the master
/// key, so it can be destroyed on its own once no data key is wrapped under it. The
/// generation is part of the associated data of every key it wraps.
pub struct Kek {
    generation: u32,
    key: DataKey,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek(generation {})", self.generation)
    }
}

impl Kek {
    /// A new random KEK for `generation`.
    pub fn generate(generation: u32, rng: &mut dyn RngCore) -> Self {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        let kek = Self {
            generation,
            key: DataKey::from_bytes(k),
        };
        k.zeroize();
        kek
    }

    /// Reads the file form (64 hex digits); the generation comes from the file's name.
    pub fn from_file_contents(generation: u32, s: &str) -> Result<Self> {
        let mut k = parse_hex32(s, "a key-encryption key is 64 hex digits")?;
        let kek = Self {
            generation,
            key: DataKey::from_bytes(k),
        };
        k.zeroize();
        Ok(kek)
    }

    /// The file form: 64 lower-case hex digits and a newline.
    pub fn to_file_contents(&self) -> String {
        hex_line(self.key.bytes())
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// A public name of this key (HMAC of a fixed text, 128 bits as hex): stored in the
    /// database and in backup headers to say which key they need, revealing nothing of it.
    pub fn id(&self) -> String {
        #[allow(clippy::expect_used)]
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.key.bytes()).expect("any key length");
        mac.update(b"klar key-encryption key id");
        mac.update(&self.generation.to_be_bytes());
        mac.finalize().into_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn ctx<'a>(&self, owner_id: &'a str) -> Context<'a> {
        // The wrapping context carried key version 1 before rotation existed; generation 1
        // keeps it, so keys wrapped then still open.
        Context {
            table: "person_keys",
            column: "wrapped_key",
            row_id: owner_id,
            key_version: self.generation,
        }
    }

    /// Wraps a person's data key under this generation.
    pub fn wrap(&self, dek: &DataKey, owner_id: &str, rng: &mut dyn RngCore) -> Result<WrappedKey> {
        Ok(WrappedKey {
            generation: self.generation,
            bytes: self.key.seal(&self.ctx(owner_id), dek.bytes(), rng)?,
        })
    }

    /// Unwraps a data key wrapped under this generation for `owner_id`.
    pub fn unwrap(&self, wrapped: &WrappedKey, owner_id: &str) -> Result<DataKey> {
        if wrapped.generation != self.generation {
            return Err(CryptoError::Generation {
                wrapped: wrapped.generation,
                kek: self.generation,
            });
        }
        let mut raw = self.key.open(&self.ctx(owner_id), &wrapped.bytes)?;
        let arr: std::result::Result<[u8; 32], _> = raw.as_slice().try_into();
        raw.zeroize();
        let mut arr = arr.map_err(|_| CryptoError::Malformed("data key length"))?;
        let dek = DataKey::from_bytes(arr);
        arr.zeroize();
        Ok(dek)
    }
}

/// The keys derived from the master key, ready for use.
pub struct Keyring {
    /// Generation 1 of the key-encryption key.
    kek: Kek,
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
            kek: Kek {
                generation: 1,
                key: DataKey::from_bytes(master.derive("key-encryption-key")),
            },
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

    /// Generation 1 of the key-encryption key, derived from the master key. It cannot be
    /// destroyed apart from the master key.
    pub fn derived_kek(&self) -> &Kek {
        &self.kek
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
        let w = ring.derived_kek().wrap(&dek, "p1", &mut rng).unwrap();
        assert_eq!(w.generation, 1);
        let kek = ring.derived_kek();
        assert_eq!(kek.unwrap(&w, "p1").unwrap().bytes(), dek.bytes());
        assert!(kek.unwrap(&w, "p2").is_err());
        let other = Keyring::new(&MasterKey::generate(&mut rng));
        assert!(other.derived_kek().unwrap(&w, "p1").is_err());
    }

    #[test]
    fn generation_one_opens_keys_wrapped_before_rotation_existed() {
        // The wrapping of the first release: the derived KEK, context key version 1.
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        let master = MasterKey::generate(&mut rng);
        let dek = DataKey::generate(&mut rng);
        let old_kek = DataKey::from_bytes(master.derive("key-encryption-key"));
        let ctx = Context {
            table: "person_keys",
            column: "wrapped_key",
            row_id: "p1",
            key_version: 1,
        };
        let bytes = old_kek.seal(&ctx, dek.bytes(), &mut rng).unwrap();
        let ring = Keyring::new(&master);
        let w = WrappedKey {
            generation: 1,
            bytes,
        };
        assert_eq!(
            ring.derived_kek().unwrap(&w, "p1").unwrap().bytes(),
            dek.bytes()
        );
    }

    #[test]
    fn a_key_wrapped_under_one_generation_opens_only_under_that_generation() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let ring = Keyring::new(&MasterKey::generate(&mut rng));
        let g1 = ring.derived_kek();
        let g2 = Kek::generate(2, &mut rng);
        let g3 = Kek::generate(3, &mut rng);
        let dek = DataKey::generate(&mut rng);

        let w1 = g1.wrap(&dek, "p1", &mut rng).unwrap();
        assert!(matches!(
            g2.unwrap(&w1, "p1"),
            Err(CryptoError::Generation { wrapped: 1, kek: 2 })
        ));
        // Re-wrapping (what rotation does) moves the same data key to generation 2.
        let w2 = g2
            .wrap(&g1.unwrap(&w1, "p1").unwrap(), "p1", &mut rng)
            .unwrap();
        assert_eq!(w2.generation, 2);
        assert_eq!(g2.unwrap(&w2, "p1").unwrap().bytes(), dek.bytes());
        assert!(g1.unwrap(&w2, "p1").is_err());
        assert!(g3.unwrap(&w2, "p1").is_err());
        assert!(g2.unwrap(&w2, "p2").is_err(), "still bound to its owner");

        // Relabelling the generation does not help: it is bound into the ciphertext.
        let same_bytes_as_2 = Kek::from_file_contents(3, &g2.to_file_contents()).unwrap();
        let relabelled = WrappedKey {
            generation: 3,
            bytes: w2.bytes.clone(),
        };
        assert!(matches!(
            same_bytes_as_2.unwrap(&relabelled, "p1"),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn kek_files_round_trip_and_ids_name_the_key_without_revealing_it() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let k = Kek::generate(2, &mut rng);
        let text = k.to_file_contents();
        assert_eq!(text.len(), 65);
        let again = Kek::from_file_contents(2, &text).unwrap();
        assert_eq!(again.id(), k.id());
        assert_eq!(k.id().len(), 32);
        assert!(!text.contains(&k.id()));
        assert_ne!(Kek::generate(2, &mut rng).id(), k.id());
        assert!(Kek::from_file_contents(2, "abc").is_err());
        let dek = DataKey::generate(&mut rng);
        let w = k.wrap(&dek, "p", &mut rng).unwrap();
        assert_eq!(again.unwrap(&w, "p").unwrap().bytes(), dek.bytes());
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
