use crate::{CryptoError, Result};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

const NONCE_LEN: usize = 24;
/// Format byte of every ciphertext Klar writes, so the layout can change later.
const FORMAT_V1: u8 = 1;

/// Where a ciphertext belongs. It is authenticated with the ciphertext, so a value
/// copied into another row, column or key version does not decrypt.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: &'a str,
    pub key_version: u32,
}

impl Context<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        for part in [
            self.table.as_bytes(),
            self.column.as_bytes(),
            self.row_id.as_bytes(),
        ] {
            v.extend_from_slice(&(part.len() as u32).to_be_bytes());
            v.extend_from_slice(part);
        }
        v.extend_from_slice(&self.key_version.to_be_bytes());
        v
    }
}

/// A 256-bit symmetric key. Not `Clone`, not `Serialize`; zeroed on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// A data key encrypted under one generation of the key-encryption key; safe to store.
/// The generation is stored beside the bytes and bound into them (associated data), so a
/// wrapped key opens only under the generation it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub generation: u32,
    pub bytes: Vec<u8>,
}

impl DataKey {
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        Self(k)
    }

    pub(crate) fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// Encrypts `plaintext` for `ctx`: `format || nonce || ciphertext+tag`.
    pub fn seal(
        &self,
        ctx: &Context<'_>,
        plaintext: &[u8],
        rng: &mut dyn RngCore,
    ) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let aad = ctx.aad();
        let ct = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, ctx: &Context<'_>, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != FORMAT_V1 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        let aad = ctx.aad();
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| CryptoError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ctx(row: &str) -> Context<'_> {
        Context {
            table: "persons",
            column: "personal",
            row_id: row,
            key_version: 1,
        }
    }

    #[test]
    fn sealed_data_opens_only_in_its_own_context() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let k = DataKey::generate(&mut rng);
        let sealed = k.seal(&ctx("a"), b"Erika", &mut rng).unwrap();
        assert_eq!(k.open(&ctx("a"), &sealed).unwrap(), b"Erika");
        assert!(k.open(&ctx("b"), &sealed).is_err());
        let other = DataKey::generate(&mut rng);
        assert!(other.open(&ctx("a"), &sealed).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(k.open(&ctx("a"), &tampered).is_err());
        assert!(!sealed.windows(5).any(|w| w == b"Erika"));
    }
}
