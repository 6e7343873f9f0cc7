//! Who runs this installation: the controller (Art. 4(7)), its representative, the data
//! protection officer, the imprint lines advertising mail must carry, and the maintained
//! description of technical and organisational measures. The record of processing
//! activities (Art. 30(1)(a)) and every mail footer read them from here.

use crate::email::Email;
use crate::error::Errors;
use crate::text::{bounded, optional_line};

/// A party's name and how to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Party {
    pub name: String,
    /// Postal address, one line per line.
    pub address: String,
    pub email: String,
    pub phone: String,
}

impl Party {
    pub fn is_empty(&self) -> bool {
        self.name.is_empty()
            && self.address.is_empty()
            && self.email.is_empty()
            && self.phone.is_empty()
    }
}

/// The installation's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Installation {
    /// The company that decides about the processing (Art. 30(1)(a)).
    pub controller: Party,
    /// Art. 27 representative, only for controllers outside the EU.
    pub representative: Party,
    /// The data protection officer (Art. 37–39; §38 BDSG).
    pub dpo: Party,
    /// Register court and number, managing directors, VAT id: lines of the imprint that
    /// §37a HGB and §5 DDG require in business letters and advertising mail.
    pub imprint: String,
    /// Free text describing measures beyond those Klar itself enforces (physical access,
    /// staff instructions, …). Klar lists its own measures from what is configured.
    pub measures_text: String,
}

pub mod limits {
    pub const ADDRESS: usize = 500;
    pub const IMPRINT: usize = 2_000;
    pub const MEASURES: usize = 20_000;
}

fn party(errs: &mut Errors, field: &str, p: &Party) -> Party {
    let line = |errs: &mut Errors, name: &str, v: &str, max: usize| {
        errs.take(&format!("{field}.{name}"), optional_line(Some(v), max))
            .flatten()
            .unwrap_or_default()
    };
    let email = if p.email.trim().is_empty() {
        String::new()
    } else {
        errs.take(&format!("{field}.email"), Email::parse(&p.email))
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default()
    };
    Party {
        name: line(errs, "name", &p.name, crate::text::limits::LINE),
        address: errs
            .take(
                &format!("{field}.address"),
                bounded(&p.address, limits::ADDRESS),
            )
            .unwrap_or_default(),
        email,
        phone: line(errs, "phone", &p.phone, crate::text::limits::LABEL),
    }
}

impl Installation {
    /// Trims and checks every field; errors name the field (`controller.email`, …).
    pub fn validated(&self) -> Result<Installation, crate::DomainError> {
        let mut errs = Errors::new();
        let out = Installation {
            controller: party(&mut errs, "controller", &self.controller),
            representative: party(&mut errs, "representative", &self.representative),
            dpo: party(&mut errs, "dpo", &self.dpo),
            imprint: errs
                .take("imprint", bounded(&self.imprint, limits::IMPRINT))
                .unwrap_or_default(),
            measures_text: errs
                .take(
                    "measures_text",
                    bounded(&self.measures_text, limits::MEASURES),
                )
                .unwrap_or_default(),
        };
        errs.finish()?;
        Ok(out)
    }

    /// What is still missing for a complete record and lawful advertising mail.
    pub fn gaps(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.controller.name.is_empty() {
            v.push("controller.name");
        }
        if self.controller.address.is_empty() {
            v.push("controller.address");
        }
        if self.controller.email.is_empty() && self.controller.phone.is_empty() {
            v.push("controller.email");
        }
        if self.dpo.is_empty() {
            v.push("dpo");
        }
        if self.imprint.is_empty() {
            v.push("imprint");
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_trimmed_and_checked_with_their_names() {
        let mut i = Installation::default();
        i.controller.name = "  Muster GmbH ".into();
        i.controller.email = "datenschutz@muster.example".into();
        i.dpo.email = "kein-at-zeichen".into();
        i.representative.name = "a\nb".into();
        let err = i.validated().unwrap_err();
        let crate::DomainError::Invalid(fields) = err;
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["representative.name", "dpo.email"]);
        i.dpo.email = "dsb@muster.example".into();
        i.representative.name = String::new();
        let ok = i.validated().unwrap();
        assert_eq!(ok.controller.name, "Muster GmbH");
    }

    #[test]
    fn an_empty_installation_names_what_is_missing() {
        assert_eq!(
            Installation::default().gaps(),
            [
                "controller.name",
                "controller.address",
                "controller.email",
                "dpo",
                "imprint"
            ]
        );
    }
}
