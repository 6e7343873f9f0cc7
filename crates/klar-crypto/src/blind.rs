use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a blind index entry stands for; part of the HMAC input so that equal strings of
/// different kinds give different index values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlindKind {
    Email,
    Phone,
    NamePrefix,
}

impl BlindKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlindKind::Email => "email",
            BlindKind::Phone => "phone",
            BlindKind::NamePrefix => "name",
        }
    }
}

/// The keyed blind index: HMAC-SHA256 over a normalised value, truncated to 16 bytes.
/// Without the key, index values reveal nothing about the values behind them.
pub struct BlindIndex {
    key: [u8; 32],
}

impl Drop for BlindIndex {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

pub const BLIND_LEN: usize = 16;

impl BlindIndex {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub fn compute(&self, kind: BlindKind, normalized: &str) -> Vec<u8> {
        #[allow(clippy::expect_used)]
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(kind.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(normalized.as_bytes());
        mac.finalize().into_bytes()[..BLIND_LEN].to_vec()
    }
}
