//! Statutory retention periods (LAW.md B.5): how long records must be kept, counted from the
//! end of the calendar year of the event, Europe/Berlin (§257(5) HGB, §147(4) AO).

use jiff::{Timestamp, civil, tz::TimeZone};

/// Business letters sent or received (§257(1) Nr. 2, 3 HGB; §147(1) Nr. 2, 3 AO).
pub const BUSINESS_LETTERS_YEARS: i16 = 6;

/// The class key of retained business letters.
pub const BUSINESS_LETTERS: &str = "hgb_257_letters";

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC)
}

/// The last instant records of an `event` must be kept: 31 December of the event's year plus
/// `years`, end of day, Berlin. Deletable from 1 January after it.
pub fn retain_until(event: Timestamp, years: i16) -> Timestamp {
    let tz = berlin();
    let year = event.to_zoned(tz.clone()).year().saturating_add(years);
    civil::date(year.min(9998), 12, 31)
        .tomorrow()
        .ok()
        .and_then(|d| d.to_zoned(tz).ok())
        .and_then(|z| {
            z.timestamp()
                .checked_sub(jiff::SignedDuration::from_millis(1))
                .ok()
        })
        .unwrap_or(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(t: Timestamp) -> String {
        t.to_zoned(berlin())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    #[test]
    fn periods_end_with_the_calendar_year_as_law_md_shows() {
        // "Commercial letter sent 10 Feb 2026, 6 years → kept to 31 Dec 2032."
        let sent: Timestamp = "2026-02-10T09:00:00Z".parse().unwrap();
        assert_eq!(day(retain_until(sent, 6)), "2032-12-31 23:59:59");
        // "Invoice of 15 Mar 2025, 8 years → kept to 31 Dec 2033."
        let invoice: Timestamp = "2025-03-15T09:00:00Z".parse().unwrap();
        assert_eq!(day(retain_until(invoice, 8)), "2033-12-31 23:59:59");
        // New Year's Eve 23:30 UTC is already the next year in Berlin.
        let late: Timestamp = "2026-12-31T23:30:00Z".parse().unwrap();
        assert_eq!(day(retain_until(late, 6)), "2033-12-31 23:59:59");
    }
}
