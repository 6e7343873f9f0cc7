//! Statutory retention periods (LAW.md B.5): how long records must be kept, counted from the
//! end of the calendar year of the event, Europe/Berlin (§257(5) HGB, §147(4) AO).

use crate::error::ValueError;
use crate::policy::{Channel, ConsentConfig, ConsentEvent, ConsentState, consent_state};
use crate::ropa::Text;
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

/// Booking vouchers and invoices (§257(1) Nr. 4 HGB, §147(1) Nr. 4 AO, §14b UStG; BEG IV).
pub const VOUCHERS_YEARS: i16 = 8;

/// Books, annual accounts and the organisational documents needed to understand them
/// (§257(1) Nr. 1 HGB, §147(1) Nr. 1 AO).
pub const BOOKS_YEARS: i16 = 10;

/// Phone-advertising consent proof: 5 years from the grant and from each use (§7a(2) UWG).
pub const PHONE_PROOF_YEARS: i16 = 5;

/// The statutory and installation classes a person's data can be kept under (LAW.md 5a, 5c).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionClass {
    /// Commercial letters sent and received: 6 years from the end of the calendar year.
    CommercialLetters,
    /// Booking vouchers and invoices: 8 years from the end of the calendar year.
    BookingVouchers,
    /// Books and annual accounts: 10 years from the end of the calendar year.
    Books,
    /// §7a UWG proof of a phone-advertising consent: 5 years from grant and each use.
    PhoneConsentProof,
    /// A consent in force: kept until it is withdrawn.
    Consent,
    /// Proof of a withdrawn or expired consent (Art. 7(1), 17(3)(e); §§195, 199 BGB).
    ConsentProof,
    /// An open deal: contract or pre-contract steps (Art. 6(1)(b)).
    OpenDeal,
    /// A lead or contact with recent activity (Art. 6(1)(f)).
    RecentActivity,
}

impl RetentionClass {
    pub fn key(&self) -> &'static str {
        match self {
            Self::CommercialLetters => BUSINESS_LETTERS,
            Self::BookingVouchers => "hgb_257_vouchers",
            Self::Books => "hgb_257_books",
            Self::PhoneConsentProof => "uwg_7a_phone_proof",
            Self::Consent => "consent",
            Self::ConsentProof => "consent_proof",
            Self::OpenDeal => "contract",
            Self::RecentActivity => "lead_activity",
        }
    }

    /// Whether the class only keeps data (a duty or evidence): while nothing else is left,
    /// the person is restricted to it rather than processed.
    pub fn keep_only(&self) -> bool {
        matches!(
            self,
            Self::CommercialLetters
                | Self::BookingVouchers
                | Self::Books
                | Self::PhoneConsentProof
                | Self::ConsentProof
        )
    }

    /// A duty imposed by statute (Art. 6(1)(c), 17(3)(b)).
    pub fn statutory(&self) -> bool {
        matches!(
            self,
            Self::CommercialLetters | Self::BookingVouchers | Self::Books | Self::PhoneConsentProof
        )
    }

    /// The legal reason in both languages.
    pub fn reason(&self, cfg: &RetentionConfig) -> Text {
        match self {
            Self::CommercialLetters => Text::new(
                "Geschäftsbriefe zu einem abgeschlossenen Geschäft: 6 Jahre ab Ende des Kalenderjahres (§ 257 HGB, § 147 AO)",
                "Commercial letters of a concluded deal: 6 years from the end of the calendar year (§257 HGB, §147 AO)",
            ),
            Self::BookingVouchers => Text::new(
                "Buchungsbelege und Rechnungen: 8 Jahre ab Ende des Kalenderjahres (§ 257 HGB, § 147 AO, § 14b UStG)",
                "Booking vouchers and invoices: 8 years from the end of the calendar year (§257 HGB, §147 AO, §14b UStG)",
            ),
            Self::Books => Text::new(
                "Bücher und Jahresabschlüsse: 10 Jahre ab Ende des Kalenderjahres (§ 257 HGB, § 147 AO)",
                "Books and annual accounts: 10 years from the end of the calendar year (§257 HGB, §147 AO)",
            ),
            Self::PhoneConsentProof => Text::new(
                "Nachweis der Einwilligung in Telefonwerbung: 5 Jahre ab Erteilung und jeder Verwendung (§ 7a UWG)",
                "Proof of the phone-advertising consent: 5 years from the grant and from each use (§7a UWG)",
            ),
            Self::Consent => Text::new(
                "Einwilligung erteilt: bis zum Widerruf (Art. 6 Abs. 1 lit. a DSGVO)",
                "Consent given: until it is withdrawn (Art. 6(1)(a) GDPR)",
            ),
            Self::ConsentProof => Text::new(
                format!(
                    "Nachweis einer widerrufenen Einwilligung: {} Monate ab Ende des Kalenderjahres (Art. 7 Abs. 1, 17 Abs. 3 lit. e DSGVO; §§ 195, 199 BGB)",
                    cfg.consent_proof.months()
                ),
                format!(
                    "Proof of a withdrawn consent: {} months from the end of the calendar year (Art. 7(1), 17(3)(e) GDPR; §§195, 199 BGB)",
                    cfg.consent_proof.months()
                ),
            ),
            Self::OpenDeal => Text::new(
                "Offenes Geschäft: Vertrag oder vorvertragliche Maßnahmen (Art. 6 Abs. 1 lit. b DSGVO)",
                "Open deal: contract or pre-contract steps (Art. 6(1)(b) GDPR)",
            ),
            Self::RecentActivity => Text::new(
                format!(
                    "Kontakt oder Aktivität in den letzten {} Monaten (Art. 6 Abs. 1 lit. f DSGVO)",
                    cfg.lead_inactivity.months()
                ),
                format!(
                    "Contact or activity within the last {} months (Art. 6(1)(f) GDPR)",
                    cfg.lead_inactivity.months()
                ),
            ),
        }
    }
}

/// A retention period in whole months: more than zero, at most 100 years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Period(i32);

impl Period {
    /// The longest period Klar accepts; anything longer is a typo, not a policy.
    pub const MAX_MONTHS: i64 = 1200;

    pub fn months_checked(n: i64) -> Result<Self, ValueError> {
        if n <= 0 {
            return Err(ValueError::new(
                "a retention period must be at least one month",
            ));
        }
        if n > Self::MAX_MONTHS {
            return Err(ValueError::new(
                "a retention period must be at most 1200 months (100 years)",
            ));
        }
        i32::try_from(n).map(Self).map_err(|_| {
            ValueError::new("a retention period must be at most 1200 months (100 years)")
        })
    }

    /// Parses a period as given on the command line: a whole number of months.
    pub fn parse_months(s: &str) -> Result<Self, ValueError> {
        let n: i64 = s
            .trim()
            .parse()
            .map_err(|_| ValueError::new("a retention period must be a whole number of months"))?;
        Self::months_checked(n)
    }

    pub fn months(self) -> i32 {
        self.0
    }

    /// `from` plus this period, in Berlin civil time (the end of a short month clamps).
    pub fn after(self, from: Timestamp) -> Timestamp {
        let z = from.to_zoned(berlin());
        z.checked_add(jiff::Span::new().months(self.0))
            .map(|z| z.timestamp())
            .unwrap_or(from)
    }

    /// The end of the calendar year of `event`, Berlin, plus this period, minus one
    /// millisecond (like [`retain_until`], for periods in months).
    pub fn after_year_end(self, event: Timestamp) -> Timestamp {
        let tz = berlin();
        let year = event.to_zoned(tz.clone()).year();
        civil::date(year.min(9998), 12, 31)
            .tomorrow()
            .ok()
            .and_then(|d| d.to_zoned(tz).ok())
            .and_then(|z| z.checked_add(jiff::Span::new().months(self.0)).ok())
            .and_then(|z| {
                z.timestamp()
                    .checked_sub(jiff::SignedDuration::from_millis(1))
                    .ok()
            })
            .unwrap_or(event)
    }
}

/// The installation's choices for the periods the law leaves open (decision 0015).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RetentionConfig {
    /// How long a lead or contact is kept after her last activity. Default 24 months.
    pub lead_inactivity: Period,
    /// How long the proof of a withdrawn or expired consent is kept, from the end of the
    /// calendar year of the withdrawal. Default 36 months: the regular limitation of §195
    /// BGB (3 years from the end of the year, §199 BGB) and of fines above €15,000 (§31
    /// OWiG, §41 BDSG), within which the company may have to prove the consent.
    pub consent_proof: Period,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            lead_inactivity: Period(24),
            consent_proof: Period(36),
        }
    }
}

/// What the store knows about a person that bears on retention (ids and dates only).
#[derive(Debug, Clone, Default)]
pub struct RetentionFacts {
    pub created_at: Option<Timestamp>,
    /// The latest activity about her (note, call, meeting, email, task) or change to her record.
    pub last_activity: Option<Timestamp>,
    /// Her consent ledger (the store may leave the evidence text as a placeholder: only its
    /// presence matters here).
    pub consents: Vec<ConsentEvent>,
    /// Closing dates of her won deals.
    pub won_deals: Vec<Timestamp>,
    /// Dates of emails linked to her won deals (commercial letters).
    pub deal_letters: Vec<Timestamp>,
    /// Dates of invoices or booking vouchers about her, when the installation records them.
    pub vouchers: Vec<Timestamp>,
    /// Whether she has an open deal.
    pub open_deal: bool,
    /// Dates of calls made under the phone-advertising consent (each use restarts §7a).
    pub phone_uses: Vec<Timestamp>,
    /// A legal hold in force.
    pub legal_hold: bool,
}

/// One reason to keep her data, with its end (`None`: open-ended, e.g. until withdrawal).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ground {
    pub class: RetentionClass,
    /// The purpose this ground concerns, when it is one (e.g. `newsletter`).
    pub purpose: Option<String>,
    pub until: Option<Timestamp>,
    pub reason: Text,
}

impl Ground {
    pub fn active_at(&self, at: Timestamp) -> bool {
        self.until.is_none_or(|u| u >= at)
    }
}

/// What the retention job does with a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// A purpose still justifies processing her data.
    Keep,
    /// Only a duty or evidence keeps her data: restricted to it until `until`, then erased.
    Restrict { until: Timestamp },
    /// Nothing justifies keeping her data any more.
    Erase,
    /// A legal hold stops every automatic deletion.
    Hold,
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Restrict { .. } => "restrict",
            Self::Erase => "erase",
            Self::Hold => "legal_hold",
        }
    }
}

/// Her retention at one instant: every ground, the decision, and when she would be erased
/// if nothing changes (`None` while an open-ended ground holds).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonRetention {
    pub grounds: Vec<Ground>,
    pub decision: Decision,
    pub erase_after: Option<Timestamp>,
}

/// The reason a restriction by retention carries; the job lifts or replaces only these.
pub const RESTRICTION_PREFIX: &str = "retention:";

pub fn restriction_reason(until: Timestamp) -> String {
    let day = until.to_zoned(berlin()).date();
    format!("{RESTRICTION_PREFIX} only statutory duty or proof until {day}")
}

/// Which purposes and duties still justify keeping a person's data at `at`, and what the
/// retention job therefore does (LAW.md B.5). Pure: the store gathers the facts.
pub fn evaluate(facts: &RetentionFacts, at: Timestamp, cfg: &RetentionConfig) -> PersonRetention {
    let mut grounds = Vec::new();
    let mut push = |class: RetentionClass, purpose: Option<&str>, until: Option<Timestamp>| {
        let reason = class.reason(cfg);
        grounds.push(Ground {
            class,
            purpose: purpose.map(str::to_owned),
            until,
            reason,
        });
    };
    if facts.open_deal {
        push(RetentionClass::OpenDeal, Some("contract"), None);
    }
    let last_contact = [facts.created_at, facts.last_activity]
        .into_iter()
        .flatten()
        .chain(facts.consents.iter().map(|e| e.at).filter(|t| *t <= at))
        .max();
    if let Some(last) = last_contact {
        push(
            RetentionClass::RecentActivity,
            None,
            Some(cfg.lead_inactivity.after(last)),
        );
    }
    let letters = facts.won_deals.iter().chain(&facts.deal_letters).max();
    if let Some(t) = letters {
        push(
            RetentionClass::CommercialLetters,
            Some("legal_retention"),
            Some(retain_until(*t, BUSINESS_LETTERS_YEARS)),
        );
    }
    if let Some(t) = facts.vouchers.iter().max() {
        push(
            RetentionClass::BookingVouchers,
            Some("legal_retention"),
            Some(retain_until(*t, VOUCHERS_YEARS)),
        );
    }
    // Each (purpose, channel) of her ledger: in force, or ended with its proof kept.
    let consent_cfg = ConsentConfig::default();
    let mut pairs: Vec<(&str, Channel)> = facts
        .consents
        .iter()
        .map(|e| (e.purpose.as_str(), e.channel))
        .collect();
    pairs.sort_by_key(|(p, c)| (*p, c.as_str()));
    pairs.dedup();
    for (purpose, channel) in pairs {
        let state = consent_state(&facts.consents, purpose, channel, at, &consent_cfg);
        match state {
            ConsentState::Given { .. } | ConsentState::Pending { .. } => {
                push(RetentionClass::Consent, Some(purpose), None);
            }
            ConsentState::Withdrawn { at: end } | ConsentState::Expired { at: end } => {
                push(
                    RetentionClass::ConsentProof,
                    Some(purpose),
                    Some(cfg.consent_proof.after_year_end(end)),
                );
            }
            ConsentState::None => {}
        }
        if channel == Channel::Phone {
            let proof_from = facts
                .consents
                .iter()
                .filter(|e| e.concerns(purpose, channel) && e.has_phone_proof() && e.at <= at)
                .map(|e| e.at)
                .chain(facts.phone_uses.iter().copied().filter(|t| *t <= at))
                .max();
            if let Some(from) = proof_from {
                push(
                    RetentionClass::PhoneConsentProof,
                    Some(purpose),
                    Some(Period(i32::from(PHONE_PROOF_YEARS) * 12).after(from)),
                );
            }
        }
    }
    let erase_after = if grounds.iter().any(|g| g.until.is_none()) {
        None
    } else {
        grounds.iter().filter_map(|g| g.until).max()
    };
    let decision = if facts.legal_hold {
        Decision::Hold
    } else if grounds
        .iter()
        .any(|g| !g.class.keep_only() && g.active_at(at))
    {
        Decision::Keep
    } else {
        match grounds
            .iter()
            .filter(|g| g.active_at(at))
            .filter_map(|g| g.until)
            .max()
        {
            Some(until) => Decision::Restrict { until },
            None => Decision::Erase,
        }
    };
    PersonRetention {
        grounds,
        decision,
        erase_after,
    }
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

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    proptest::proptest! {
        /// Table 1c: `retain_until(event, N)` is 31 Dec of year(event) + N in Berlin, end of
        /// day, never earlier than event + N years, whatever the day (leap days, year ends,
        /// the hour around midnight UTC where Berlin is already in the next year).
        #[test]
        fn retain_until_is_the_berlin_year_end_and_never_before_n_years(
            secs in 0i64..4_000_000_000,
            years in 1i16..=10,
        ) {
            let event = Timestamp::from_second(secs).unwrap();
            let until = retain_until(event, years);
            let z = until.to_zoned(berlin());
            let event_year = event.to_zoned(berlin()).year();
            proptest::prop_assert_eq!((z.year(), z.month(), z.day()), (event_year + years, 12, 31));
            proptest::prop_assert_eq!((z.hour(), z.minute(), z.second()), (23, 59, 59));
            let n_years_later = event.to_zoned(berlin()).checked_add(jiff::Span::new().years(years)).unwrap();
            proptest::prop_assert!(until >= n_years_later.timestamp());
            // Deletable from the next millisecond: 1 January, 00:00 Berlin.
            let next = until.checked_add(jiff::SignedDuration::from_millis(1)).unwrap().to_zoned(berlin());
            proptest::prop_assert_eq!((next.month(), next.day(), next.hour()), (1, 1, 0));
        }

        /// A period in months after the year end ends on the last day of a month, Berlin;
        /// a period counted from an event is never shorter than its months.
        #[test]
        fn month_periods_end_at_month_ends_and_never_early(
            secs in 0i64..4_000_000_000,
            months in 1i64..=Period::MAX_MONTHS,
        ) {
            let event = Timestamp::from_second(secs).unwrap();
            let p = Period::months_checked(months).unwrap();
            let end = p.after_year_end(event).checked_add(jiff::SignedDuration::from_millis(1)).unwrap().to_zoned(berlin());
            proptest::prop_assert_eq!((end.day(), end.hour(), end.minute()), (1, 0, 0));
            proptest::prop_assert!(p.after(event) > event);
            proptest::prop_assert!(p.after_year_end(event) >= p.after(event));
        }
    }

    #[test]
    fn leap_days_and_year_end_in_berlin() {
        // 29 Feb 2028 + 8 years → 31 Dec 2036.
        assert_eq!(
            day(retain_until(ts("2028-02-29T12:00:00Z"), 8)),
            "2036-12-31 23:59:59"
        );
        // 31 Dec 22:59 UTC is still the old year in Berlin (CET, UTC+1); 23:00 is the new one.
        assert_eq!(
            day(retain_until(ts("2026-12-31T22:59:59Z"), 6)),
            "2032-12-31 23:59:59"
        );
        assert_eq!(
            day(retain_until(ts("2026-12-31T23:00:00Z"), 6)),
            "2033-12-31 23:59:59"
        );
        // A month period from 29 Feb clamps to 28 Feb of a common year.
        let p = Period::months_checked(12).unwrap();
        assert_eq!(
            day(p.after(ts("2028-02-29T11:00:00Z"))),
            "2029-02-28 12:00:00"
        );
    }

    #[test]
    fn negative_zero_and_absurd_periods_are_refused_with_a_clear_error() {
        for bad in ["-1", "0", "1201", "36000", "two", ""] {
            let e = Period::parse_months(bad).unwrap_err();
            assert!(!e.0.is_empty(), "{bad}");
        }
        assert!(
            Period::parse_months("-6")
                .unwrap_err()
                .0
                .contains("at least one month")
        );
        assert!(
            Period::parse_months("5000")
                .unwrap_err()
                .0
                .contains("at most 1200 months")
        );
        assert_eq!(Period::parse_months(" 24 ").unwrap().months(), 24);
    }

    fn grant(at: &str, purpose: &str, channel: Channel, evidence: bool) -> ConsentEvent {
        use crate::policy::{ConsentEventKind, ConsentSource};
        ConsentEvent {
            at: ts(at),
            purpose: purpose.into(),
            channel,
            kind: ConsentEventKind::Grant,
            source: ConsentSource::Staff,
            wording_version: "w-1".into(),
            evidence: evidence.then(|| "form 1".into()),
        }
    }

    fn withdraw(at: &str, purpose: &str, channel: Channel) -> ConsentEvent {
        use crate::policy::{ConsentEventKind, ConsentSource};
        ConsentEvent {
            at: ts(at),
            purpose: purpose.into(),
            channel,
            kind: ConsentEventKind::Withdraw,
            source: ConsentSource::Person,
            wording_version: String::new(),
            evidence: None,
        }
    }

    #[test]
    fn each_class_leads_to_its_decision() {
        let cfg = RetentionConfig::default();
        let now = ts("2026-11-30T10:00:00Z");
        // A lead without activity for three years: erased.
        let lead = RetentionFacts {
            created_at: Some(ts("2023-06-01T10:00:00Z")),
            ..Default::default()
        };
        assert_eq!(evaluate(&lead, now, &cfg).decision, Decision::Erase);
        // The same lead with an activity last year: kept.
        let active = RetentionFacts {
            last_activity: Some(ts("2025-12-01T10:00:00Z")),
            ..lead.clone()
        };
        assert_eq!(evaluate(&active, now, &cfg).decision, Decision::Keep);
        // A consent withdrawn in 2021: its proof ended 31 Dec 2024; erased.
        let withdrawn = RetentionFacts {
            created_at: Some(ts("2020-03-01T10:00:00Z")),
            consents: vec![
                grant("2020-03-01T10:00:00Z", "profiling", Channel::Email, true),
                withdraw("2021-05-01T10:00:00Z", "profiling", Channel::Email),
            ],
            ..Default::default()
        };
        let r = evaluate(&withdrawn, now, &cfg);
        assert_eq!(r.decision, Decision::Erase);
        assert_eq!(day(r.erase_after.unwrap()), "2024-12-31 23:59:59");
        // Withdrawn in 2025: only the proof is left, restricted until 31 Dec 2028.
        let recent = RetentionFacts {
            created_at: Some(ts("2022-03-01T10:00:00Z")),
            consents: vec![
                grant("2022-03-01T10:00:00Z", "profiling", Channel::Email, true),
                withdraw("2023-05-01T10:00:00Z", "profiling", Channel::Email),
            ],
            ..Default::default()
        };
        match evaluate(&recent, now, &cfg).decision {
            Decision::Restrict { until } => assert_eq!(day(until), "2026-12-31 23:59:59"),
            d => panic!("{d:?}"),
        }
        // A won deal of 2022: letters kept to 31 Dec 2028, restricted; erased in 2029.
        let won = RetentionFacts {
            created_at: Some(ts("2021-01-10T10:00:00Z")),
            won_deals: vec![ts("2022-04-01T10:00:00Z")],
            ..Default::default()
        };
        match evaluate(&won, now, &cfg).decision {
            Decision::Restrict { until } => assert_eq!(day(until), "2028-12-31 23:59:59"),
            d => panic!("{d:?}"),
        }
        assert_eq!(
            evaluate(&won, ts("2029-01-01T00:00:00+01:00"), &cfg).decision,
            Decision::Erase
        );
        assert_eq!(
            evaluate(&won, ts("2028-12-31T23:00:00+01:00"), &cfg)
                .decision
                .as_str(),
            "restrict"
        );
        // A legal hold spares everyone.
        let held = RetentionFacts {
            legal_hold: true,
            ..lead.clone()
        };
        assert_eq!(evaluate(&held, now, &cfg).decision, Decision::Hold);
        // An active consent keeps her, open-ended.
        let consenting = RetentionFacts {
            created_at: Some(ts("2015-01-01T10:00:00Z")),
            consents: vec![grant(
                "2015-01-01T10:00:00Z",
                "phone_marketing",
                Channel::Phone,
                true,
            )],
            ..Default::default()
        };
        let r = evaluate(&consenting, now, &cfg);
        assert_eq!(r.decision, Decision::Keep);
        assert_eq!(r.erase_after, None);
    }

    #[test]
    fn phone_proof_runs_five_years_from_the_grant_and_from_each_use() {
        let cfg = RetentionConfig::default();
        let facts = RetentionFacts {
            created_at: Some(ts("2018-01-10T10:00:00Z")),
            consents: vec![
                grant(
                    "2018-01-10T10:00:00Z",
                    "phone_marketing",
                    Channel::Phone,
                    true,
                ),
                withdraw("2019-01-10T10:00:00Z", "phone_marketing", Channel::Phone),
            ],
            phone_uses: vec![ts("2018-09-01T10:00:00Z")],
            ..Default::default()
        };
        let r = evaluate(&facts, ts("2023-06-01T10:00:00Z"), &cfg);
        let phone = r
            .grounds
            .iter()
            .find(|g| g.class == RetentionClass::PhoneConsentProof)
            .unwrap();
        assert_eq!(
            phone.until.unwrap().to_zoned(berlin()).date().to_string(),
            "2023-09-01"
        );
        assert!(matches!(r.decision, Decision::Restrict { .. }));
        assert_eq!(
            evaluate(&facts, ts("2023-09-02T10:00:00Z"), &cfg).decision,
            Decision::Erase
        );
    }
}
