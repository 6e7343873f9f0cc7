//! UI translations. The catalogues are `locales/{de,en}.ftl`, compiled into the binary
//! (simple `key = value` lines, a subset of Fluent syntax). The locale is chosen in this
//! order: the user's preference, then `Accept-Language`, then German.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    De,
    En,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::De => "de",
            Locale::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Locale> {
        match s.trim().to_ascii_lowercase().as_str() {
            "de" => Some(Locale::De),
            "en" => Some(Locale::En),
            _ => None,
        }
    }

    /// Picks the best supported language from an `Accept-Language` header.
    pub fn from_accept_language(header: Option<&str>) -> Locale {
        let Some(h) = header else { return Locale::De };
        let mut best: Option<(f32, Locale)> = None;
        for part in h.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(l) = Locale::parse(primary)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, l));
            }
        }
        best.map_or(Locale::De, |(_, l)| l)
    }
}

const DE: &str = include_str!("../locales/de.ftl");
const EN: &str = include_str!("../locales/en.ftl");

pub fn parse_catalogue(src: &str) -> HashMap<&str, &str> {
    src.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim(), v.trim())))
        .collect()
}

fn catalogue(l: Locale) -> &'static HashMap<&'static str, &'static str> {
    static DE_C: OnceLock<HashMap<&str, &str>> = OnceLock::new();
    static EN_C: OnceLock<HashMap<&str, &str>> = OnceLock::new();
    match l {
        Locale::De => DE_C.get_or_init(|| parse_catalogue(DE)),
        Locale::En => EN_C.get_or_init(|| parse_catalogue(EN)),
    }
}

/// The translator handed to templates: `{{ t.get("key") }}`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub locale: Locale,
}

impl Tr {
    pub fn get(&self, key: &str) -> &'static str {
        catalogue(self.locale).get(key).copied().unwrap_or("??")
    }

    pub fn lang(&self) -> &'static str {
        self.locale.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_and_english_have_the_same_keys() {
        let mut de: Vec<_> = parse_catalogue(DE).into_keys().collect();
        let mut en: Vec<_> = parse_catalogue(EN).into_keys().collect();
        de.sort_unstable();
        en.sort_unstable();
        assert_eq!(de, en);
    }

    #[test]
    fn every_key_used_in_templates_exists() {
        let keys = parse_catalogue(EN);
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let src = std::fs::read_to_string(&p).unwrap();
                for part in src.split("t.get(\"").skip(1) {
                    let key = part.split('"').next().unwrap();
                    assert!(
                        keys.contains_key(key),
                        "{} uses unknown key {key}",
                        p.display()
                    );
                }
            }
        }
    }

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(
            Locale::from_accept_language(Some("en-US,en;q=0.9,de;q=0.8")),
            Locale::En
        );
        assert_eq!(
            Locale::from_accept_language(Some("fr-FR, de;q=0.5, en;q=0.4")),
            Locale::De
        );
        assert_eq!(Locale::from_accept_language(Some("fr")), Locale::De);
        assert_eq!(Locale::from_accept_language(None), Locale::De);
    }
}
