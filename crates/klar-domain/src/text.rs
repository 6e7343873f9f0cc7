//! Bounded text fields.

use crate::error::ValueError;

/// Trims, refuses control characters and enforces a length in characters.
/// Returns `None` for an empty optional value.
pub fn bounded(input: &str, max_chars: usize) -> Result<String, ValueError> {
    let s = input.trim();
    if s.chars().count() > max_chars {
        return Err(ValueError::new(format!(
            "is longer than {max_chars} characters"
        )));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ValueError::new("contains control characters"));
    }
    Ok(s.to_string())
}

/// A required single-line text.
pub fn required_line(input: &str, max_chars: usize) -> Result<String, ValueError> {
    let s = bounded(input, max_chars)?;
    if s.is_empty() {
        return Err(ValueError::new("must not be empty"));
    }
    if s.contains(['\n', '\r']) {
        return Err(ValueError::new("must be a single line"));
    }
    Ok(s)
}

/// An optional single-line text: empty means absent.
pub fn optional_line(input: Option<&str>, max_chars: usize) -> Result<Option<String>, ValueError> {
    match input {
        None => Ok(None),
        Some(s) => {
            let s = bounded(s, max_chars)?;
            if s.contains(['\n', '\r']) {
                return Err(ValueError::new("must be a single line"));
            }
            Ok((!s.is_empty()).then_some(s))
        }
    }
}

/// Limits used across records.
pub mod limits {
    pub const NAME: usize = 100;
    pub const LINE: usize = 200;
    pub const LABEL: usize = 40;
    pub const TAG: usize = 50;
    pub const NOTES: usize = 10_000;
    pub const BODY: usize = 50_000;
    pub const URL: usize = 300;
    pub const MAX_TAGS: usize = 50;
    pub const MAX_CONTACTS: usize = 20;
    pub const MAX_CUSTOM_FIELDS: usize = 100;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_characters_not_bytes() {
        assert!(required_line(&"ä".repeat(100), 100).is_ok());
        assert!(required_line(&"ä".repeat(101), 100).is_err());
        assert!(required_line("  ", 10).is_err());
        assert_eq!(optional_line(Some("  "), 10).unwrap(), None);
        assert!(required_line("a\u{0}b", 10).is_err());
    }
}
