//! The rules for a password a person chooses: at least 12 characters, at most 1024 bytes,
//! and not one of the common or breached passwords of the list shipped with Klar
//! (`data/common-passwords.txt`: Django's list of 20,000 common passwords by Royce Williams,
//! lower case, BSD-3-Clause; decision 0013), compared case-insensitively.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Minimum length in characters.
pub const MIN_CHARS: usize = 12;
/// Maximum length in bytes (Argon2 input stays bounded).
pub const MAX_BYTES: usize = 1024;

const COMMON: &str = include_str!("../data/common-passwords.txt");

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must have at least 12 characters")]
    TooShort,
    #[error("is too long")]
    TooLong,
    #[error("is a commonly used password; choose another")]
    Common,
}

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// How many passwords the shipped list holds.
pub fn common_list_len() -> usize {
    common().len()
}

/// Checks a new password against the rules.
pub fn check(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_BYTES {
        return Err(PasswordError::TooLong);
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err(PasswordError::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_holds_at_least_ten_thousand_passwords() {
        assert!(common_list_len() >= 10_000, "{}", common_list_len());
    }

    #[test]
    fn short_long_and_common_passwords_are_refused_case_insensitively() {
        assert_eq!(check("kurz"), Err(PasswordError::TooShort));
        assert_eq!(check("elf-zeichen"), Err(PasswordError::TooShort));
        assert_eq!(check(&"x".repeat(1025)), Err(PasswordError::TooLong));
        for p in [
            "qwerty123456",
            "QwertyQwerty",
            "1Q2W3E4R5T6Y",
            "Password1234",
        ] {
            assert_eq!(check(p), Err(PasswordError::Common), "{p}");
        }
        assert_eq!(check("Correct-Horse-Battery-9"), Ok(()));
        assert_eq!(check("zwölf Zeichen!"), Ok(()));
    }
}
