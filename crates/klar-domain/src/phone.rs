//! Phone numbers in E.164 (`+4930123456`). National German input (`030 123456`) is
//! read with the installation's default country code.

use crate::error::ValueError;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// The country calling code assumed for numbers written without one.
pub const DEFAULT_COUNTRY_CODE: &str = "49";

impl Phone {
    /// Parses international (`+49 30 123`, `0049 30 123`) and national (`030 123`) forms.
    /// Spaces, dashes, dots, slashes and parentheses are ignored.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        Self::parse_with_default(input, DEFAULT_COUNTRY_CODE)
    }

    pub fn parse_with_default(input: &str, default_cc: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ValueError::new("must not be empty"));
        }
        if s.len() > 40 {
            return Err(ValueError::new("is too long for a phone number"));
        }
        // "+49 (0)30 ..." writes the national trunk prefix in brackets; it is not dialled
        // from abroad, so it is dropped from international forms.
        let owned;
        let s = if (s.starts_with('+') || s.starts_with("00")) && s.contains("(0)") {
            owned = s.replacen("(0)", "", 1);
            owned.as_str()
        } else {
            s
        };
        let mut plus = false;
        let mut digits = String::with_capacity(16);
        for (i, c) in s.chars().enumerate() {
            match c {
                '+' if i == 0 => plus = true,
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '/' | '(' | ')' => {}
                _ => {
                    return Err(ValueError::new(
                        "may contain only digits, a leading + and separators",
                    ));
                }
            }
        }
        let international = if plus {
            digits
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_string()
        } else if let Some(rest) = digits.strip_prefix('0') {
            format!("{default_cc}{rest}")
        } else {
            return Err(ValueError::new(
                "needs a country code (+49 ...) or a leading 0",
            ));
        };
        if international.starts_with('0') {
            return Err(ValueError::new("has a country code that starts with 0"));
        }
        if !(7..=15).contains(&international.len()) {
            return Err(ValueError::new(
                "must have between 7 and 15 digits in E.164 form",
            ));
        }
        Ok(Self(format!("+{international}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Phone {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

/// Whether a search query is meant as a phone number.
pub fn looks_like_phone(q: &str) -> bool {
    let q = q.trim();
    let digits = q.chars().filter(char::is_ascii_digit).count();
    digits >= 4
        && q.chars()
            .all(|c| c.is_ascii_digit() || " +-./()".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn national_and_international_forms_meet_in_e164() {
        let want = "+49301234567";
        for s in [
            "+49 30 1234567",
            "0049 30 1234567",
            "030 1234567",
            "(030) 123-45-67",
            "+49 (0)30 1234567",
        ] {
            assert_eq!(Phone::parse(s).unwrap().as_str(), want, "{s}");
        }
    }

    #[test]
    fn refuses_letters_and_wrong_lengths() {
        for bad in [
            "",
            "abc",
            "+49",
            "12345",
            "+1234567890123456",
            "030 12x45",
            "+0301234567",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_output_is_e164(s in "\\PC{0,50}") {
            if let Ok(p) = Phone::parse(&s) {
                let d = &p.as_str()[1..];
                prop_assert!(p.as_str().starts_with('+'));
                prop_assert!(d.chars().all(|c| c.is_ascii_digit()));
                prop_assert!((7..=15).contains(&d.len()));
                prop_assert_eq!(Phone::parse(p.as_str()).unwrap(), p.clone());
            }
        }

        #[test]
        fn separators_do_not_change_the_number(cc in "[1-9][0-9]{0,2}", rest in "[0-9]{6,10}", sep in "[ ./-]") {
            let plain = Phone::parse(&format!("+{cc}{rest}"));
            let spaced: String = rest.chars().flat_map(|c| [c].into_iter().chain(sep.chars())).collect();
            let with = Phone::parse(&format!("+{cc}{spaced}"));
            prop_assert_eq!(plain, with);
        }
    }
}
