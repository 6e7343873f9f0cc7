//! Normalisation for blind-index lookups: names are folded so that a search for
//! "muller" or "Müller" finds "Müller"; prefixes make search-as-you-type work.

/// Shortest name prefix that is indexed and searchable.
pub const MIN_PREFIX: usize = 2;
/// Longest prefix that is indexed; longer query tokens are cut to this length.
pub const MAX_PREFIX: usize = 20;

/// Lower-cases and folds accents and German letters to their base letters
/// (ä→a, ß→ss), keeping letters and digits only, split into words.
pub fn name_tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        match fold(c) {
            Some(f) => cur.push_str(&f.as_str()),
            None => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Every indexed prefix of every word of the given names, without duplicates.
pub fn name_prefixes<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        for tok in name_tokens(name) {
            let chars: Vec<char> = tok.chars().collect();
            let upto = chars.len().min(MAX_PREFIX);
            for n in MIN_PREFIX..=upto {
                out.push(chars[..n].iter().collect());
            }
            if chars.len() < MIN_PREFIX {
                out.push(tok.clone());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The query tokens to look up: each is cut to `MAX_PREFIX` characters.
pub fn query_tokens(q: &str) -> Vec<String> {
    let mut toks: Vec<String> = name_tokens(q)
        .into_iter()
        .map(|t| t.chars().take(MAX_PREFIX).collect())
        .collect();
    toks.sort();
    toks.dedup();
    toks
}

enum Folded {
    One(char),
    Two(&'static str),
}

impl Folded {
    fn as_str(&self) -> String {
        match self {
            Folded::One(c) => c.to_string(),
            Folded::Two(s) => (*s).to_string(),
        }
    }
}

fn fold(c: char) -> Option<Folded> {
    let lower = c.to_lowercase().next().unwrap_or(c);
    let base = match lower {
        'ß' => return Some(Folded::Two("ss")),
        'æ' => return Some(Folded::Two("ae")),
        'œ' => return Some(Folded::Two("oe")),
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ğ' => 'g',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => 'i',
        'ł' | 'ľ' | 'ĺ' => 'l',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ř' | 'ŕ' => 'r',
        'ś' | 'š' | 'ş' | 'ș' => 's',
        'ť' | 'ţ' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        c if c.is_alphanumeric() => c,
        _ => return None,
    };
    Some(Folded::One(base))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn umlauts_and_sharp_s_fold_to_base_letters() {
        assert_eq!(
            name_tokens("Jürgen Groß-Müller"),
            vec!["jurgen", "gross", "muller"]
        );
    }

    #[test]
    fn prefixes_cover_search_as_you_type() {
        let p = name_prefixes(["Erika", "Mustermann"]);
        for q in ["er", "eri", "erika", "mu", "muster", "mustermann"] {
            assert!(p.contains(&q.to_string()), "{q}");
        }
        assert!(!p.contains(&"e".to_string()));
    }

    proptest! {
        #[test]
        fn every_query_prefix_of_a_name_is_indexed(name in "[A-Za-zÄÖÜäöüß]{2,30}", cut in 2usize..30) {
            let idx = name_prefixes([name.as_str()]);
            let typed: String = name.chars().take(cut).collect();
            for t in query_tokens(&typed) {
                if t.chars().count() >= MIN_PREFIX {
                    prop_assert!(idx.contains(&t), "{} not indexed for {}", t, name);
                }
            }
        }

        #[test]
        fn tokenising_never_panics(s in "\\PC{0,100}") {
            let _ = name_prefixes([s.as_str()]);
            let _ = query_tokens(&s);
        }
    }
}
