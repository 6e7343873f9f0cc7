//! Art. 14 GDPR: a person whose data were not collected from her (an import, a business card,
//! a purchased list, a referral) must be told within a reasonable period, at the latest one
//! month after the data were obtained, or at the first communication with her if earlier
//! (Art. 14(3)(a), (b); LAW.md table 4i).

use jiff::Timestamp;

/// The `source` values (case-insensitive; also as prefix `KEY:` with a detail) that mean the
/// data came from elsewhere (decision 0015).
pub const SOURCES_ELSEWHERE: [&str; 6] = [
    "import",
    "business_card",
    "purchased_list",
    "referral",
    "enrichment",
    "visitenkarte",
];

/// Whether a person's `source` says her data were not collected from her.
pub fn collected_elsewhere(source: Option<&str>) -> bool {
    let Some(s) = source else { return false };
    let s = s.trim().to_lowercase();
    SOURCES_ELSEWHERE
        .iter()
        .any(|k| s == *k || s.strip_prefix(k).is_some_and(|rest| rest.starts_with(':')))
}

/// When the Art. 14 information is due: one month after the data were obtained (Berlin
/// calendar; the 31st clamps to the month's last day), or the first contact if earlier.
pub fn notice_due(obtained: Timestamp, first_contact: Option<Timestamp>) -> Timestamp {
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or(jiff::tz::TimeZone::UTC);
    let month = obtained
        .to_zoned(tz)
        .checked_add(jiff::Span::new().months(1))
        .map(|z| z.timestamp())
        .unwrap_or(obtained);
    first_contact.map_or(month, |c| c.min(month))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn only_sources_from_elsewhere_need_a_notice() {
        for yes in [
            "import",
            " Import ",
            "business_card",
            "import:messe-2026",
            "Visitenkarte",
        ] {
            assert!(collected_elsewhere(Some(yes)), "{yes}");
        }
        for no in ["webformular", "importiert von Hand", "", "referrals"] {
            assert!(!collected_elsewhere(Some(no)), "{no}");
        }
        assert!(!collected_elsewhere(None));
    }

    #[test]
    fn due_one_month_later_or_at_the_first_contact() {
        assert_eq!(
            notice_due(ts("2026-01-31T10:00:00Z"), None),
            ts("2026-02-28T10:00:00Z")
        );
        assert_eq!(
            notice_due(ts("2026-01-10T10:00:00Z"), Some(ts("2026-01-15T08:00:00Z"))),
            ts("2026-01-15T08:00:00Z")
        );
        assert_eq!(
            notice_due(ts("2026-01-10T10:00:00Z"), Some(ts("2026-03-01T08:00:00Z"))),
            ts("2026-02-10T10:00:00Z")
        );
    }
}
