//! Email addresses: a pragmatic subset of RFC 5321/5322 that real mail servers accept.

use crate::error::ValueError;
use std::fmt;

/// A syntactically valid email address. The local part keeps its case; the domain is
/// lower-cased. `normalized()` is the form used for the blind index and duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

pub const MAX_EMAIL_LEN: usize = 254;

impl Email {
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ValueError::new("must not be empty"));
        }
        if s.len() > MAX_EMAIL_LEN {
            return Err(ValueError::new("is longer than 254 characters"));
        }
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or_else(|| ValueError::new("is not an email address (no @)"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(ValueError::new(
                "has an empty or over-long part before the @",
            ));
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return Err(ValueError::new(
                "has characters before the @ that an address cannot contain",
            ));
        }
        let domain = domain.to_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return Err(ValueError::new("has no valid domain after the @"));
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Lower-cased form, used for lookups and duplicate detection.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

/// Quick check whether a search query is meant as an email address.
pub fn looks_like_email(q: &str) -> bool {
    q.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_the_domain() {
        let e = Email::parse("  Erika.Mustermann+crm@Beispiel.DE ").unwrap();
        assert_eq!(e.as_str(), "Erika.Mustermann+crm@beispiel.de");
        assert_eq!(e.normalized(), "erika.mustermann+crm@beispiel.de");
        assert!(Email::parse("jürgen@müller.de").is_ok());
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "nope",
            "a@b",
            "@x.de",
            "a@.de",
            "a..b@x.de",
            "a@x..de",
            "a b@x.de",
            "a@-x.de",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_is_idempotent(s in "\\PC{0,80}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e.clone());
                prop_assert!(e.as_str().len() <= MAX_EMAIL_LEN);
            }
        }

        #[test]
        fn generated_addresses_are_accepted(local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", dom in "[a-z][a-z0-9-]{0,10}[a-z0-9]", tld in "[a-z]{2,6}") {
            prop_assume!(!local.contains(".."));
            let s = format!("{local}@{dom}.{tld}");
            prop_assert!(Email::parse(&s).is_ok());
        }
    }
}
