//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA-1, 6 digits, 30-second
//! steps, the step before and after accepted for clock skew. Pure: the caller passes the
//! time and remembers the last step used, so a code is never accepted twice.

use hmac::{Hmac, Mac};
use rand::RngCore;

/// Seconds per time step (RFC 6238 `X`).
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Length of a new secret in bytes (160 bits, as RFC 4226 recommends for HMAC-SHA-1).
pub const SECRET_LEN: usize = 20;

/// A new random secret.
pub fn new_secret(rng: &mut dyn RngCore) -> Vec<u8> {
    let mut s = vec![0u8; SECRET_LEN];
    rng.fill_bytes(&mut s);
    s
}

/// The time step of a unix time in seconds (RFC 6238 `T`, with `T0` = 0).
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The HOTP value (RFC 4226 section 5.3) of `secret` for counter `step`, with `digits` digits.
pub fn code_at(secret: &[u8], step: i64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return 0;
    };
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// A 6-digit code as it is shown in an authenticator app (with leading zeros).
pub fn code_string(secret: &[u8], step: i64) -> String {
    format!("{:06}", code_at(secret, step, DIGITS))
}

/// Checks a typed code at `unix_seconds`: the current step and one on either side are
/// accepted, but only steps after `last_used_step` (a code is never accepted twice).
/// Returns the matching step, which the caller stores as the new last used step.
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_seconds: i64,
    last_used_step: Option<i64>,
) -> Verdict {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Verdict::Wrong;
    }
    let now = step_of(unix_seconds);
    let mut replayed = false;
    for step in [now - 1, now, now + 1] {
        let expected = code_string(secret, step);
        if crate::constant_time_eq(expected.as_bytes(), code.as_bytes()) {
            if last_used_step.is_some_and(|last| step <= last) {
                replayed = true;
            } else {
                return Verdict::Ok(step);
            }
        }
    }
    if replayed {
        Verdict::Replayed
    } else {
        Verdict::Wrong
    }
}

/// The answer of [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The code is right for this step.
    Ok(i64),
    /// The code was right for a step already used.
    Replayed,
    Wrong,
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps take secrets.
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(B32[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(B32[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (case-insensitive; spaces, dashes and padding ignored).
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.chars().filter(|c| !matches!(c, ' ' | '-' | '=')) {
        let v = B32
            .iter()
            .position(|&x| char::from(x) == c.to_ascii_uppercase())? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://` URI that authenticator apps import (Key Uri Format): issuer and account
/// label percent-encoded, SHA-1, 6 digits, 30 seconds.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'@') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        base32_encode(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, the SHA-1 rows (seed "12345678901234567890", 8 digits).
    #[test]
    fn the_rfc_6238_test_vectors_for_sha1_hold() {
        let seed = b"12345678901234567890";
        for (t, expected) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(code_at(seed, step_of(t), 8), expected, "T = {t}");
            assert_eq!(
                code_string(seed, step_of(t)),
                format!("{:06}", expected % 1_000_000)
            );
        }
    }

    #[test]
    fn codes_of_the_neighbouring_steps_are_accepted_once() {
        let s = b"12345678901234567890";
        let now = 1_111_111_111;
        let step = step_of(now);
        for d in [-1, 0, 1] {
            assert_eq!(
                verify(s, &code_string(s, step + d), now, None),
                Verdict::Ok(step + d)
            );
        }
        assert_eq!(
            verify(s, &code_string(s, step - 2), now, None),
            Verdict::Wrong
        );
        assert_eq!(
            verify(s, &code_string(s, step + 2), now, None),
            Verdict::Wrong
        );
        assert_eq!(
            verify(s, &code_string(s, step), now, Some(step)),
            Verdict::Replayed
        );
        assert_eq!(
            verify(s, &code_string(s, step + 1), now, Some(step)),
            Verdict::Ok(step + 1)
        );
        assert_eq!(verify(s, "12345", now, None), Verdict::Wrong);
        assert_eq!(verify(s, "abcdef", now, None), Verdict::Wrong);
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(
            base32_decode("mzxw 6ytb-oi").as_deref(),
            Some(&b"foobar"[..])
        );
        let s: Vec<u8> = (0u8..20).collect();
        assert_eq!(base32_decode(&base32_encode(&s)), Some(s));
        assert_eq!(base32_decode("not base32!"), None);
    }

    #[test]
    fn the_otpauth_uri_names_issuer_account_and_parameters() {
        let u = otpauth_uri(b"foobar", "Klar", "a b@x.example");
        assert_eq!(
            u,
            "otpauth://totp/Klar:a%20b@x.example?secret=MZXW6YTBOI&issuer=Klar&algorithm=SHA1&digits=6&period=30"
        );
    }
}
