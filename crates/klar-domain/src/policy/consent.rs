//! The consent ledger, pure: the state of one (purpose, channel) pair at any instant,
//! derived from append-only consent events (LAW.md B.2 table 2c, B.3 tables 3a–3d).

use super::purpose::Channel;
use crate::error::ValueError;
use jiff::{SignedDuration, Timestamp};

/// What happened to a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentEventKind {
    /// The person gave consent (for email: the sign-up, still to be confirmed).
    Grant,
    /// The person clicked the double opt-in link.
    Confirm,
    /// The person withdrew consent (Art. 7(3)); effective at once.
    Withdraw,
    /// The consent ended by its own terms (e.g. `valid_until` of the wording).
    Expire,
}

impl ConsentEventKind {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s.trim() {
            "grant" => Ok(Self::Grant),
            "confirm" => Ok(Self::Confirm),
            "withdraw" => Ok(Self::Withdraw),
            "expire" => Ok(Self::Expire),
            _ => Err(ValueError::new(
                "must be grant, confirm, withdraw or expire",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Confirm => "confirm",
            Self::Withdraw => "withdraw",
            Self::Expire => "expire",
        }
    }

    /// Order of events recorded at the same instant: a withdrawal or expiry at the same
    /// instant as a grant wins (the stricter reading), whatever order the slice has.
    fn tie_rank(self) -> u8 {
        match self {
            Self::Grant => 0,
            Self::Confirm => 1,
            Self::Expire => 2,
            Self::Withdraw => 3,
        }
    }
}

/// Who recorded the event (table 3b `actor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// The person himself (web form, preference page, confirmation link, unsubscribe).
    Person,
    /// A staff member on the person's behalf; a grant needs evidence (table 2c).
    Staff,
    /// An import from another system or a purchased list; a grant needs evidence.
    Import,
    /// Klar itself, e.g. the job that records the lapse of an unconfirmed double opt-in.
    /// Never accepted as input ([`ConsentSource::parse`] refuses it).
    System,
    /// The person, through the one-click unsubscribe of a marketing mail (RFC 8058).
    /// Recorded by Klar only; never accepted as input.
    OneClick,
    /// The person, on his preference page. Recorded by Klar only; never accepted as input.
    PreferenceCenter,
}

impl ConsentSource {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s.trim() {
            "person" => Ok(Self::Person),
            "staff" => Ok(Self::Staff),
            "import" => Ok(Self::Import),
            _ => Err(ValueError::new("must be person, staff or import")),
        }
    }

    /// Any source a ledger may hold, including `system`; for reading recorded events back.
    pub fn parse_recorded(s: &str) -> Result<Self, ValueError> {
        match s.trim() {
            "system" => Ok(Self::System),
            "one_click" => Ok(Self::OneClick),
            "preference_center" => Ok(Self::PreferenceCenter),
            other => Self::parse(other),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Staff => "staff",
            Self::Import => "import",
            Self::System => "system",
            Self::OneClick => "one_click",
            Self::PreferenceCenter => "preference_center",
        }
    }

    /// Whether the person himself acted (no evidence beyond the event itself is needed).
    pub fn is_the_person(self) -> bool {
        matches!(self, Self::Person | Self::OneClick | Self::PreferenceCenter)
    }
}

/// One entry of the consent ledger, reduced to what the rules read. Ids are opaque strings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConsentEvent {
    pub at: Timestamp,
    pub purpose: String,
    pub channel: Channel,
    pub kind: ConsentEventKind,
    pub source: ConsentSource,
    /// The wording the person saw; a grant without one proves nothing.
    pub wording_version: String,
    /// Reference to the proof (form submission id, scan of a signed form, call recording id).
    pub evidence: Option<String>,
}

impl ConsentEvent {
    /// Whether a grant is documented well enough to count at all (tables 2c, 3b):
    /// it names the wording, and when staff or an import entered it, the evidence.
    pub fn is_valid_grant(&self) -> bool {
        self.kind == ConsentEventKind::Grant
            && !self.wording_version.trim().is_empty()
            && (self.source.is_the_person() || has_text(self.evidence.as_deref()))
    }

    /// Whether a grant carries the proof §7a UWG requires for consumer phone calls:
    /// a reference to the record made when consent was given (table 2d).
    pub fn has_phone_proof(&self) -> bool {
        self.is_valid_grant() && has_text(self.evidence.as_deref())
    }

    pub fn concerns(&self, purpose: &str, channel: Channel) -> bool {
        self.purpose == purpose && self.channel == channel
    }
}

fn has_text(s: Option<&str>) -> bool {
    s.is_some_and(|s| !s.trim().is_empty())
}

/// Settings of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentConfig {
    /// How long an email grant waits for its confirmation before it lapses (table 2c).
    pub doi_window: SignedDuration,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        Self {
            doi_window: SignedDuration::from_hours(30 * 24),
        }
    }
}

/// The consent state of one (purpose, channel) pair at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConsentState {
    /// No valid grant so far.
    None,
    /// An email grant awaits its double opt-in confirmation.
    Pending { granted_at: Timestamp },
    /// Consent counts: confirmed (email) or granted (other channels).
    Given {
        /// When the grant this consent rests on was made.
        granted_at: Timestamp,
        /// When it became effective (confirmation for email).
        since: Timestamp,
        /// Whether the grant carries a §7a proof reference (table 2d).
        proof: bool,
    },
    /// Withdrawn; only a new valid grant revives it (table 3c).
    Withdrawn { at: Timestamp },
    /// Ended by an expiry event, or an email grant was never confirmed in time.
    Expired { at: Timestamp },
}

impl ConsentState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pending { .. } => "pending",
            Self::Given { .. } => "given",
            Self::Withdrawn { .. } => "withdrawn",
            Self::Expired { .. } => "expired",
        }
    }

    pub fn is_given(&self) -> bool {
        matches!(self, Self::Given { .. })
    }
}

/// A pending grant that was not confirmed within the window lapses at its end.
fn lapse(state: ConsentState, now: Timestamp, config: &ConsentConfig) -> ConsentState {
    if let ConsentState::Pending { granted_at } = state
        && let Ok(end) = granted_at.checked_add(config.doi_window)
        && now > end
    {
        return ConsentState::Expired { at: end };
    }
    state
}

/// The state of consent for `purpose` on `channel` at `at`, from the ledger `events`.
///
/// Events after `at` are ignored, so the answer to "was this allowed at `at`?" never
/// changes when later events are appended. Events of other purposes or channels are
/// ignored, so a double opt-in for email proves nothing for the phone (table 2c).
/// Grants without wording or (for staff and imports) without evidence do not count,
/// and only the person can confirm a double opt-in.
pub fn consent_state(
    events: &[ConsentEvent],
    purpose: &str,
    channel: Channel,
    at: Timestamp,
    config: &ConsentConfig,
) -> ConsentState {
    let mut relevant: Vec<&ConsentEvent> = events
        .iter()
        .filter(|e| e.concerns(purpose, channel) && e.at <= at)
        .collect();
    // Deterministic whatever the order of the slice: by time, then the stricter kind last,
    // then valid before invalid and proof before none (so that ties pick the same grant).
    relevant.sort_by_key(|e| {
        (
            e.at,
            e.kind.tie_rank(),
            !e.is_valid_grant(),
            !has_text(e.evidence.as_deref()),
        )
    });
    let mut state = ConsentState::None;
    // A renewed email grant while consent is active waits for its own confirmation.
    let mut renewal: Option<Timestamp> = None;
    for e in relevant {
        state = lapse(state, e.at, config);
        if renewal.is_some_and(|r| r.checked_add(config.doi_window).is_ok_and(|end| e.at > end)) {
            renewal = None;
        }
        state = match e.kind {
            ConsentEventKind::Grant if e.is_valid_grant() => match state {
                ConsentState::Given { .. } if channel.requires_double_opt_in() => {
                    renewal = Some(e.at);
                    state
                }
                ConsentState::Given { proof, .. } => ConsentState::Given {
                    granted_at: e.at,
                    since: e.at,
                    proof: proof || e.has_phone_proof(),
                },
                _ if channel.requires_double_opt_in() => ConsentState::Pending { granted_at: e.at },
                _ => ConsentState::Given {
                    granted_at: e.at,
                    since: e.at,
                    proof: e.has_phone_proof(),
                },
            },
            ConsentEventKind::Grant => state,
            ConsentEventKind::Confirm if e.source == ConsentSource::Person => match state {
                ConsentState::Pending { granted_at } => ConsentState::Given {
                    granted_at,
                    since: e.at,
                    proof: true,
                },
                ConsentState::Given { .. } => match renewal.take() {
                    Some(granted_at) => ConsentState::Given {
                        granted_at,
                        since: e.at,
                        proof: true,
                    },
                    None => state,
                },
                _ => state,
            },
            ConsentEventKind::Confirm => state,
            ConsentEventKind::Withdraw => {
                renewal = None;
                ConsentState::Withdrawn { at: e.at }
            }
            ConsentEventKind::Expire => match state {
                ConsentState::Pending { .. } | ConsentState::Given { .. } => {
                    renewal = None;
                    ConsentState::Expired { at: e.at }
                }
                _ => state,
            },
        };
    }
    lapse(state, at, config)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn day(n: i64) -> Timestamp {
        Timestamp::from_second(1_767_225_600 + n * 86_400).unwrap()
    }

    pub(crate) fn ev(
        d: i64,
        purpose: &str,
        channel: Channel,
        kind: ConsentEventKind,
    ) -> ConsentEvent {
        ConsentEvent {
            at: day(d),
            purpose: purpose.to_owned(),
            channel,
            kind,
            source: ConsentSource::Person,
            wording_version: "w1".to_owned(),
            evidence: Some("form-submission-1".to_owned()),
        }
    }

    fn state(events: &[ConsentEvent], p: &str, c: Channel, d: i64) -> ConsentState {
        consent_state(events, p, c, day(d), &ConsentConfig::default())
    }

    use ConsentEventKind::{Confirm, Expire, Grant, Withdraw};

    #[test]
    fn without_events_there_is_no_consent() {
        assert_eq!(
            state(&[], "newsletter", Channel::Email, 0),
            ConsentState::None
        );
    }

    #[test]
    fn an_email_grant_is_pending_until_the_person_confirms_it() {
        let mut es = vec![ev(0, "newsletter", Channel::Email, Grant)];
        assert_eq!(
            state(&es, "newsletter", Channel::Email, 1).as_str(),
            "pending"
        );
        es.push(ev(2, "newsletter", Channel::Email, Confirm));
        assert_eq!(
            state(&es, "newsletter", Channel::Email, 1).as_str(),
            "pending"
        );
        assert_eq!(
            state(&es, "newsletter", Channel::Email, 2).as_str(),
            "given"
        );
    }

    #[test]
    fn an_unconfirmed_email_grant_lapses_after_thirty_days() {
        let es = vec![
            ev(0, "newsletter", Channel::Email, Grant),
            ev(31, "newsletter", Channel::Email, Confirm),
        ];
        assert_eq!(
            state(&es, "newsletter", Channel::Email, 30).as_str(),
            "pending"
        );
        assert_eq!(
            state(&es, "newsletter", Channel::Email, 31).as_str(),
            "expired"
        );
        assert_eq!(
            state(&es, "newsletter", Channel::Email, 90).as_str(),
            "expired"
        );
    }

    #[test]
    fn the_lapse_period_is_configurable() {
        let es = vec![ev(0, "newsletter", Channel::Email, Grant)];
        let cfg = ConsentConfig {
            doi_window: SignedDuration::from_hours(24),
        };
        assert_eq!(
            consent_state(&es, "newsletter", Channel::Email, day(2), &cfg).as_str(),
            "expired"
        );
    }

    #[test]
    fn the_system_source_is_read_back_from_a_ledger_but_never_accepted_as_input() {
        assert!(ConsentSource::parse("system").is_err());
        assert_eq!(
            ConsentSource::parse_recorded("system"),
            Ok(ConsentSource::System)
        );
        for s in [
            ConsentSource::Person,
            ConsentSource::Staff,
            ConsentSource::Import,
        ] {
            assert_eq!(ConsentSource::parse_recorded(s.as_str()), Ok(s));
        }
    }

    #[test]
    fn an_expiry_recorded_by_the_system_ends_a_pending_email_grant() {
        let mut expire = ev(3, "newsletter", Channel::Email, Expire);
        expire.source = ConsentSource::System;
        expire.evidence = None;
        let es = vec![ev(0, "newsletter", Channel::Email, Grant), expire];
        assert_eq!(
            state(&es, "newsletter", Channel::Email, 2).as_str(),
            "pending"
        );
        assert_eq!(
            state(&es, "newsletter", Channel::Email, 3),
            ConsentState::Expired { at: day(3) }
        );
    }

    #[test]
    fn staff_cannot_confirm_a_double_opt_in_for_the_person() {
        let mut confirm = ev(1, "newsletter", Channel::Email, Confirm);
        confirm.source = ConsentSource::Staff;
        let es = vec![ev(0, "newsletter", Channel::Email, Grant), confirm];
        assert_eq!(
            state(&es, "newsletter", Channel::Email, 2).as_str(),
            "pending"
        );
    }

    #[test]
    fn a_staff_grant_without_evidence_does_not_count() {
        let mut g = ev(0, "phone_marketing", Channel::Phone, Grant);
        g.source = ConsentSource::Staff;
        g.evidence = None;
        assert_eq!(
            state(&[g.clone()], "phone_marketing", Channel::Phone, 1).as_str(),
            "none"
        );
        g.evidence = Some("recording-7".to_owned());
        assert_eq!(
            state(&[g], "phone_marketing", Channel::Phone, 1).as_str(),
            "given"
        );
    }

    #[test]
    fn a_grant_without_wording_does_not_count() {
        let mut g = ev(0, "phone_marketing", Channel::Phone, Grant);
        g.wording_version = " ".to_owned();
        assert_eq!(
            state(&[g], "phone_marketing", Channel::Phone, 1).as_str(),
            "none"
        );
    }

    #[test]
    fn withdrawal_is_effective_at_once_and_only_a_new_grant_revives_consent() {
        let es = vec![
            ev(0, "phone_marketing", Channel::Phone, Grant),
            ev(5, "phone_marketing", Channel::Phone, Withdraw),
            ev(9, "phone_marketing", Channel::Phone, Grant),
        ];
        assert_eq!(
            state(&es, "phone_marketing", Channel::Phone, 4).as_str(),
            "given"
        );
        assert_eq!(
            state(&es, "phone_marketing", Channel::Phone, 5).as_str(),
            "withdrawn"
        );
        assert_eq!(
            state(&es, "phone_marketing", Channel::Phone, 8).as_str(),
            "withdrawn"
        );
        assert_eq!(
            state(&es, "phone_marketing", Channel::Phone, 9).as_str(),
            "given"
        );
    }

    #[test]
    fn a_confirmation_after_a_withdrawal_does_not_revive_consent() {
        let es = vec![
            ev(0, "newsletter", Channel::Email, Grant),
            ev(1, "newsletter", Channel::Email, Withdraw),
            ev(2, "newsletter", Channel::Email, Confirm),
        ];
        assert_eq!(
            state(&es, "newsletter", Channel::Email, 3).as_str(),
            "withdrawn"
        );
    }

    #[test]
    fn a_withdrawal_at_the_same_instant_as_a_grant_wins_in_any_order() {
        let g = ev(3, "phone_marketing", Channel::Phone, Grant);
        let w = ev(3, "phone_marketing", Channel::Phone, Withdraw);
        for es in [vec![g.clone(), w.clone()], vec![w, g]] {
            assert_eq!(
                state(&es, "phone_marketing", Channel::Phone, 3).as_str(),
                "withdrawn"
            );
        }
    }

    #[test]
    fn a_renewed_email_grant_keeps_consent_active_and_counts_from_its_confirmation() {
        let es = vec![
            ev(0, "newsletter", Channel::Email, Grant),
            ev(1, "newsletter", Channel::Email, Confirm),
            ev(5, "newsletter", Channel::Email, Grant),
            ev(6, "newsletter", Channel::Email, Confirm),
        ];
        let at = |d| state(&es, "newsletter", Channel::Email, d);
        assert!(matches!(at(5), ConsentState::Given { granted_at, .. } if granted_at == day(0)));
        assert!(matches!(at(6), ConsentState::Given { granted_at, .. } if granted_at == day(5)));
    }

    #[test]
    fn an_expiry_ends_consent() {
        let es = vec![
            ev(0, "phone_marketing", Channel::Phone, Grant),
            ev(10, "phone_marketing", Channel::Phone, Expire),
        ];
        assert_eq!(
            state(&es, "phone_marketing", Channel::Phone, 10).as_str(),
            "expired"
        );
    }

    #[test]
    fn email_double_opt_in_proves_nothing_for_the_phone() {
        let es = vec![
            ev(0, "phone_marketing", Channel::Email, Grant),
            ev(1, "phone_marketing", Channel::Email, Confirm),
        ];
        assert_eq!(
            state(&es, "phone_marketing", Channel::Email, 2).as_str(),
            "given"
        );
        assert_eq!(
            state(&es, "phone_marketing", Channel::Phone, 2).as_str(),
            "none"
        );
    }

    #[test]
    fn events_after_the_asked_instant_are_ignored() {
        let es = vec![
            ev(0, "phone_marketing", Channel::Phone, Grant),
            ev(5, "phone_marketing", Channel::Phone, Withdraw),
        ];
        assert_eq!(
            state(&es, "phone_marketing", Channel::Phone, 4).as_str(),
            "given"
        );
    }
}
