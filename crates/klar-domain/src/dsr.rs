//! Data-subject requests (Art. 12–22 GDPR, LAW.md B.4): kinds, the state machine and the
//! statutory deadlines. Pure: the caller passes the time.

use crate::error::ValueError;
use jiff::{Timestamp, ToSpan, Zoned, civil, tz::TimeZone};

/// What the person asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DsrKind {
    /// Art. 15.
    Access,
    /// Art. 16.
    Rectification,
    /// Art. 17.
    Erasure,
    /// Art. 18.
    Restriction,
    /// Art. 20.
    Portability,
    /// Art. 21.
    Objection,
}

impl DsrKind {
    pub const ALL: [Self; 6] = [
        Self::Access,
        Self::Rectification,
        Self::Erasure,
        Self::Restriction,
        Self::Portability,
        Self::Objection,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Rectification => "rectification",
            Self::Erasure => "erasure",
            Self::Restriction => "restriction",
            Self::Portability => "portability",
            Self::Objection => "objection",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                ValueError::new(
                    "must be access, rectification, erasure, restriction, portability or objection",
                )
            })
    }

    /// The article of the GDPR.
    pub fn article(self) -> &'static str {
        match self {
            Self::Access => "Art. 15",
            Self::Rectification => "Art. 16",
            Self::Erasure => "Art. 17",
            Self::Restriction => "Art. 18",
            Self::Portability => "Art. 20",
            Self::Objection => "Art. 21",
        }
    }
}

/// Where a request stands (LAW.md B.4, state machine under table 4a).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DsrStatus {
    /// Entered; nothing checked yet.
    Received,
    /// A confirmation link went to an address of record; waiting for the click.
    IdentityPending,
    /// The requester is the person (link confirmed, or checked by staff).
    Verified,
    InProgress,
    Completed,
    /// Done in part, with the reasons for the rest (e.g. a retention duty).
    PartiallyCompleted,
    /// Not acted upon, with the reason (Art. 12(4)).
    Refused,
    /// The requester took it back.
    Withdrawn,
}

impl DsrStatus {
    pub const ALL: [Self; 8] = [
        Self::Received,
        Self::IdentityPending,
        Self::Verified,
        Self::InProgress,
        Self::Completed,
        Self::PartiallyCompleted,
        Self::Refused,
        Self::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::IdentityPending => "identity_pending",
            Self::Verified => "verified",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::PartiallyCompleted => "partially_completed",
            Self::Refused => "refused",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| ValueError::new("is not a request status"))
    }

    /// Still waiting for an answer.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Received | Self::IdentityPending | Self::Verified | Self::InProgress
        )
    }
}

/// A step the privacy officer (or the confirmation link) takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DsrAction {
    /// A confirmation link was sent to an address of record.
    RequestIdentity,
    /// The identity is confirmed (link clicked, or checked by staff).
    Verify,
    Start,
    Complete,
    PartiallyComplete,
    Refuse,
    Withdraw,
}

impl DsrAction {
    pub const ALL: [Self; 7] = [
        Self::RequestIdentity,
        Self::Verify,
        Self::Start,
        Self::Complete,
        Self::PartiallyComplete,
        Self::Refuse,
        Self::Withdraw,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestIdentity => "request_identity",
            Self::Verify => "verify",
            Self::Start => "start",
            Self::Complete => "complete",
            Self::PartiallyComplete => "partially_complete",
            Self::Refuse => "refuse",
            Self::Withdraw => "withdraw",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                ValueError::new(
                    "must be request_identity, verify, start, complete, partially_complete, refuse or withdraw",
                )
            })
    }

    /// Whether the step needs a written reason (refusal, partial completion).
    pub fn needs_reason(self) -> bool {
        matches!(self, Self::Refuse | Self::PartiallyComplete)
    }
}

/// The next status, or why the step is not possible now.
pub fn transition(from: DsrStatus, action: DsrAction) -> Result<DsrStatus, ValueError> {
    use DsrAction as A;
    use DsrStatus as S;
    let to = match (from, action) {
        (S::Received, A::RequestIdentity) => S::IdentityPending,
        (S::Received | S::IdentityPending, A::Verify) => S::Verified,
        (S::Verified, A::Start) => S::InProgress,
        (S::Verified | S::InProgress, A::Complete) => S::Completed,
        (S::Verified | S::InProgress, A::PartiallyComplete) => S::PartiallyCompleted,
        // A request can be refused before the identity is confirmed (Art. 12(6), 11(2)).
        (S::Received | S::IdentityPending | S::Verified | S::InProgress, A::Refuse) => S::Refused,
        (S::Received | S::IdentityPending | S::Verified | S::InProgress, A::Withdraw) => {
            S::Withdrawn
        }
        (s, _) if !s.is_open() => {
            return Err(ValueError::new(
                "the request is closed; nothing can change it",
            ));
        }
        (S::Received | S::IdentityPending, A::Start | A::Complete | A::PartiallyComplete) => {
            return Err(ValueError::new(
                "the requester's identity must be verified first",
            ));
        }
        _ => {
            return Err(ValueError::new(
                "this step is not possible in the request's state",
            ));
        }
    };
    Ok(to)
}

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC)
}

/// The last instant of the day `months` calendar months after the day of `received`
/// (Europe/Berlin): the same date, or the month's last day when it has no such date
/// (Art. 12(3) GDPR; Reg. 1182/71 Art. 3(2)(c)).
pub fn deadline(received: Timestamp, months: i8) -> Timestamp {
    let tz = berlin();
    let day = received.to_zoned(tz.clone()).date();
    // jiff constrains to the month's last day: 31 Jan + 1 month = 28/29 Feb.
    let due_day = day
        .checked_add(i64::from(months).months())
        .unwrap_or(civil::Date::MAX);
    end_of_day(due_day, &tz).unwrap_or(received)
}

fn end_of_day(day: civil::Date, tz: &TimeZone) -> Option<Timestamp> {
    let next = day.tomorrow().ok()?;
    let start: Zoned = next.to_zoned(tz.clone()).ok()?;
    start.timestamp().checked_sub(1.millisecond()).ok()
}

/// One month after receipt.
pub fn due_at(received: Timestamp) -> Timestamp {
    deadline(received, 1)
}

/// The latest an extended request may be answered: three months after receipt.
pub fn extended_due_at(received: Timestamp) -> Timestamp {
    deadline(received, 3)
}

/// Checks an extension (Art. 12(3) S. 2–3): once, decided and told to the person within the
/// first month, with a reason; returns the new due date.
pub fn extend(
    received: Timestamp,
    already_extended: bool,
    reason: &str,
    notified_at: Timestamp,
    now: Timestamp,
) -> Result<Timestamp, (&'static str, ValueError)> {
    if already_extended {
        return Err((
            "extension",
            ValueError::new("a request can be extended only once"),
        ));
    }
    if reason.trim().chars().count() < 10 {
        return Err((
            "reason",
            ValueError::new("must say why the request needs more time (at least 10 characters)"),
        ));
    }
    let first_month = due_at(received);
    if now > first_month {
        return Err((
            "extension",
            ValueError::new("the first month is over; the deadline can no longer be extended"),
        ));
    }
    if notified_at < received || notified_at > first_month || notified_at > now {
        return Err((
            "notified_at",
            ValueError::new(
                "must be when the person was told, within the first month and not in the future",
            ),
        ));
    }
    Ok(extended_due_at(received))
}

/// How urgent an open request is, for the privacy officer's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Overdue,
    /// Due within 7 days.
    DueSoon,
    OnTrack,
}

pub fn urgency(due: Timestamp, now: Timestamp) -> Urgency {
    if now > due {
        Urgency::Overdue
    } else if due.duration_since(now) <= jiff::SignedDuration::from_hours(7 * 24) {
        Urgency::DueSoon
    } else {
        Urgency::OnTrack
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn berlin_ts(s: &str) -> Timestamp {
        // `YYYY-MM-DDTHH:MM` in Berlin local time.
        let dt: civil::DateTime = s.parse().unwrap();
        dt.to_zoned(berlin()).unwrap().timestamp()
    }

    fn due_day(s: &str) -> String {
        due_at(berlin_ts(s))
            .to_zoned(berlin())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    #[test]
    fn one_month_is_the_same_date_or_the_last_day_of_the_month() {
        assert_eq!(due_day("2026-03-15T10:00"), "2026-04-15 23:59:59");
        assert_eq!(due_day("2026-01-31T09:00"), "2026-02-28 23:59:59");
        assert_eq!(
            due_day("2028-01-31T09:00"),
            "2028-02-29 23:59:59",
            "leap year"
        );
        assert_eq!(due_day("2028-01-29T09:00"), "2028-02-29 23:59:59");
        assert_eq!(due_day("2026-03-31T12:00"), "2026-04-30 23:59:59");
        assert_eq!(
            due_day("2026-12-31T12:00"),
            "2027-01-31 23:59:59",
            "year end"
        );
    }

    #[test]
    fn the_day_of_receipt_is_the_berlin_day() {
        // 23:30 UTC on 31 March is already 1 April in Berlin (CEST, UTC+2).
        let t: Timestamp = "2026-03-31T23:30:00Z".parse().unwrap();
        assert_eq!(
            due_at(t).to_zoned(berlin()).date().to_string(),
            "2026-05-01"
        );
        // 22:59 UTC on 31 January is still 31 January in Berlin (CET, UTC+1).
        let t: Timestamp = "2026-01-31T22:59:00Z".parse().unwrap();
        assert_eq!(
            due_at(t).to_zoned(berlin()).date().to_string(),
            "2026-02-28"
        );
        // The due instant is the end of the Berlin day, across the change to summer time.
        let d = due_at(berlin_ts("2026-02-28T08:00"));
        assert_eq!(d.to_string(), "2026-03-28T22:59:59.999Z");
    }

    #[test]
    fn an_extension_is_three_months_from_receipt_once_and_within_the_first_month() {
        let r = berlin_ts("2026-01-31T09:00");
        let told = berlin_ts("2026-02-10T12:00");
        let now = berlin_ts("2026-02-11T12:00");
        let due = extend(r, false, "viele verknüpfte Datensätze", told, now).unwrap();
        assert_eq!(due.to_zoned(berlin()).date().to_string(), "2026-04-30");
        assert_eq!(
            extend(r, true, "viele verknüpfte Datensätze", told, now)
                .unwrap_err()
                .0,
            "extension"
        );
        let late = berlin_ts("2026-03-01T00:00");
        assert_eq!(
            extend(r, false, "viele verknüpfte Datensätze", told, late)
                .unwrap_err()
                .0,
            "extension"
        );
        assert_eq!(extend(r, false, "kurz", told, now).unwrap_err().0, "reason");
        let told_late = berlin_ts("2026-03-02T00:00");
        assert_eq!(
            extend(
                r,
                false,
                "viele verknüpfte Datensätze",
                told_late,
                berlin_ts("2026-02-27T00:00")
            )
            .unwrap_err()
            .0,
            "notified_at"
        );
    }

    #[test]
    fn the_state_machine_needs_identity_before_work_and_closed_requests_stay_closed() {
        use DsrAction as A;
        use DsrStatus as S;
        assert_eq!(
            transition(S::Received, A::RequestIdentity).unwrap(),
            S::IdentityPending
        );
        assert_eq!(
            transition(S::IdentityPending, A::Verify).unwrap(),
            S::Verified
        );
        assert!(transition(S::Received, A::Complete).is_err());
        assert_eq!(transition(S::Verified, A::Start).unwrap(), S::InProgress);
        assert_eq!(
            transition(S::InProgress, A::Complete).unwrap(),
            S::Completed
        );
        assert_eq!(transition(S::Received, A::Refuse).unwrap(), S::Refused);
        for closed in [
            S::Completed,
            S::PartiallyCompleted,
            S::Refused,
            S::Withdrawn,
        ] {
            for a in DsrAction::ALL {
                assert!(transition(closed, a).is_err());
            }
        }
    }

    #[test]
    fn urgency_marks_overdue_and_due_within_seven_days() {
        let due: Timestamp = "2026-05-10T21:59:59Z".parse().unwrap();
        assert_eq!(
            urgency(due, "2026-04-20T00:00:00Z".parse().unwrap()),
            Urgency::OnTrack
        );
        assert_eq!(
            urgency(due, "2026-05-04T00:00:00Z".parse().unwrap()),
            Urgency::DueSoon
        );
        assert_eq!(
            urgency(due, "2026-05-11T00:00:00Z".parse().unwrap()),
            Urgency::Overdue
        );
    }

    proptest! {
        #[test]
        fn the_deadline_is_never_before_receipt_and_within_a_month_and_a_day(secs in 1_600_000_000i64..2_200_000_000i64) {
            let r = Timestamp::from_second(secs).unwrap();
            let d = due_at(r);
            prop_assert!(d > r);
            let days = d.duration_since(r).as_secs() / 86_400;
            // A whole month plus the rest of the day of receipt (and an hour at the autumn clock change).
            prop_assert!((27..=32).contains(&days), "{days}");
            let e = extended_due_at(r);
            prop_assert!(e > d);
            // The due day is the same day of month, or the last day of a shorter month.
            let rd = r.to_zoned(berlin()).date();
            let dd = d.to_zoned(berlin()).date();
            prop_assert!(dd.day() == rd.day() || (dd.day() < rd.day() && dd.tomorrow().unwrap().day() == 1));
        }

        #[test]
        fn no_step_reopens_a_closed_request(a in 0usize..7, b in 0usize..7, c in 0usize..7) {
            let mut s = DsrStatus::Received;
            for i in [a, b, c] {
                let before = s;
                if let Ok(next) = transition(s, DsrAction::ALL[i]) {
                    prop_assert!(before.is_open());
                    s = next;
                }
            }
        }
    }
}
