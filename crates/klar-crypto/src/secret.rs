use crate::{CryptoError, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use sha2::Sha256;

/// Argon2id cost. `Default` is OWASP's recommendation (19 MiB, t=2, p=1);
/// tests use `cheap()`.
#[derive(Debug, Clone, Copy)]
pub struct PasswordParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }
}

impl PasswordParams {
    pub fn cheap() -> Self {
        Self {
            m_kib: 1024,
            t: 1,
            p: 1,
        }
    }

    fn argon(self) -> Result<Argon2<'static>> {
        let params =
            Params::new(self.m_kib, self.t, self.p, None).map_err(|_| CryptoError::Password)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes a password with Argon2id into a PHC string.
pub fn hash_password<R: RngCore + CryptoRng>(
    password: &str,
    params: PasswordParams,
    rng: &mut R,
) -> Result<String> {
    let salt = SaltString::generate(rng);
    params
        .argon()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| CryptoError::Password)
}

/// Verifies a password against a PHC string; the parameters come from the string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A new random secret token (API tokens, session ids), URL-safe, 256 bits.
pub fn new_token(prefix: &str, rng: &mut dyn RngCore) -> String {
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut b);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

/// The stored form of a token: HMAC-SHA256 under an installation secret. A leaked
/// database does not yield usable tokens, and lookup stays an index seek.
pub fn hash_token(secret: &[u8; 32], token: &str) -> Vec<u8> {
    #[allow(clippy::expect_used)]
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_when_right() {
        let mut rng = rand::rngs::OsRng;
        let h = hash_password("Correct-Horse-9", PasswordParams::cheap(), &mut rng).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Correct-Horse-9", &h));
        assert!(!verify_password("correct-horse-9", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_unique_and_hashes_are_stable() {
        let mut rng = rand::rngs::OsRng;
        let a = new_token("klar_", &mut rng);
        let b = new_token("klar_", &mut rng);
        assert_ne!(a, b);
        let s = [9u8; 32];
        assert_eq!(hash_token(&s, &a), hash_token(&s, &a));
        assert_ne!(hash_token(&s, &a), hash_token(&s, &b));
    }
}
