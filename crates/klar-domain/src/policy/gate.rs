//! The decision gate: may this person be processed for this purpose on this channel at
//! this instant? Steps in the order of LAW.md B.9; the first failing step decides.

use super::consent::{ConsentConfig, ConsentEvent, ConsentState, consent_state};
use super::purpose::{Channel, LegalBasis, Purpose, find};
use crate::error::ValueError;
use crate::records::PersonKind;
use jiff::Timestamp;

/// Why a decision came out as it did. `as_str` gives the names of CONTRACT.md and LAW.md B.9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    Allowed,
    Erased,
    Restricted,
    UnknownPurpose,
    ChannelNotAllowed,
    Objection,
    Suppressed,
    NoConsent,
    ConsentPending,
    ConsentWithdrawn,
    ConsentExpired,
    NoContractRelationship,
    NoBusinessRelationship,
    NoInterestAssessment,
    LegalRetentionOnly,
    UwgExpressConsentRequired,
    ExistingCustomerConditionsUnmet,
    NoPresumedConsent,
    ConsentProofMissing,
    NoAdvertisingMarker,
}

impl ReasonCode {
    pub const ALL: [Self; 20] = [
        Self::Allowed,
        Self::Erased,
        Self::Restricted,
        Self::UnknownPurpose,
        Self::ChannelNotAllowed,
        Self::Objection,
        Self::Suppressed,
        Self::NoConsent,
        Self::ConsentPending,
        Self::ConsentWithdrawn,
        Self::ConsentExpired,
        Self::NoContractRelationship,
        Self::NoBusinessRelationship,
        Self::NoInterestAssessment,
        Self::LegalRetentionOnly,
        Self::UwgExpressConsentRequired,
        Self::ExistingCustomerConditionsUnmet,
        Self::NoPresumedConsent,
        Self::ConsentProofMissing,
        Self::NoAdvertisingMarker,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Erased => "erased",
            Self::Restricted => "restricted",
            Self::UnknownPurpose => "unknown_purpose",
            Self::ChannelNotAllowed => "channel_not_allowed",
            Self::Objection => "objection",
            Self::Suppressed => "suppressed",
            Self::NoConsent => "no_consent",
            Self::ConsentPending => "consent_pending",
            Self::ConsentWithdrawn => "consent_withdrawn",
            Self::ConsentExpired => "consent_expired",
            Self::NoContractRelationship => "no_contract_relationship",
            Self::NoBusinessRelationship => "no_business_relationship",
            Self::NoInterestAssessment => "no_interest_assessment",
            Self::LegalRetentionOnly => "legal_retention_only",
            Self::UwgExpressConsentRequired => "uwg_express_consent_required",
            Self::ExistingCustomerConditionsUnmet => "existing_customer_conditions_unmet",
            Self::NoPresumedConsent => "no_presumed_consent",
            Self::ConsentProofMissing => "consent_proof_missing",
            Self::NoAdvertisingMarker => "no_advertising_marker",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| ValueError::new("is not a known reason code"))
    }

    /// A plain sentence for a salesperson, German and English. Never names the person.
    pub fn reason(self) -> (&'static str, &'static str) {
        match self {
            Self::Allowed => (
                "Erlaubt: für diesen Zweck und Kanal liegt eine gültige Rechtsgrundlage vor.",
                "Allowed: there is a valid legal basis for this purpose and channel.",
            ),
            Self::Erased => (
                "Die Daten dieser Person wurden gelöscht.",
                "This person's data has been erased.",
            ),
            Self::Restricted => (
                "Die Verarbeitung ist eingeschränkt: die Daten dürfen nur gespeichert, nicht genutzt werden.",
                "Processing is restricted: the data may only be stored, not used.",
            ),
            Self::UnknownPurpose => (
                "Diesen Zweck gibt es nicht oder er ist abgeschaltet.",
                "This purpose does not exist or is switched off.",
            ),
            Self::ChannelNotAllowed => (
                "Für diesen Zweck ist dieser Kanal nicht vorgesehen.",
                "This channel is not provided for this purpose.",
            ),
            Self::Objection => (
                "Die Person hat widersprochen; für diesen Zweck darf sie nicht kontaktiert werden.",
                "The person has objected; do not contact them for this purpose.",
            ),
            Self::Suppressed => (
                "Diese Adresse steht auf der Sperrliste für Werbung.",
                "This address is on the do-not-contact list for advertising.",
            ),
            Self::NoConsent => (
                "Es liegt keine Einwilligung für diesen Zweck und Kanal vor.",
                "There is no consent for this purpose and channel.",
            ),
            Self::ConsentPending => (
                "Die Einwilligung ist noch nicht bestätigt (Double-Opt-in steht aus).",
                "Consent has not been confirmed yet (double opt-in pending).",
            ),
            Self::ConsentWithdrawn => (
                "Die Einwilligung wurde widerrufen.",
                "Consent has been withdrawn.",
            ),
            Self::ConsentExpired => (
                "Die Einwilligung ist abgelaufen oder wurde nie rechtzeitig bestätigt.",
                "Consent has expired or was never confirmed in time.",
            ),
            Self::NoContractRelationship => (
                "Mit dieser Person besteht kein Vertrag und keine offene Anfrage.",
                "There is no contract or open request with this person.",
            ),
            Self::NoBusinessRelationship => (
                "Mit der Firma dieser Person besteht keine Geschäftsbeziehung.",
                "There is no business relationship with this person's company.",
            ),
            Self::NoInterestAssessment => (
                "Für diesen Zweck fehlt die dokumentierte Interessenabwägung.",
                "The documented legitimate-interest assessment for this purpose is missing.",
            ),
            Self::LegalRetentionOnly => (
                "Diese Daten werden nur wegen gesetzlicher Aufbewahrungspflichten gespeichert und nie für Kontakt genutzt.",
                "This data is kept only to meet legal retention duties and is never used for contact.",
            ),
            Self::UwgExpressConsentRequired => (
                "Werbung auf diesem Kanal braucht eine vorherige ausdrückliche Einwilligung (§ 7 UWG).",
                "Advertising on this channel needs prior express consent (§7 UWG).",
            ),
            Self::ExistingCustomerConditionsUnmet => (
                "Die Voraussetzungen für Werbung an Bestandskunden (§ 7 Abs. 3 UWG) sind nicht alle erfüllt.",
                "Not all conditions for existing-customer advertising (§7(3) UWG) are met.",
            ),
            Self::NoPresumedConsent => (
                "Für einen Werbeanruf bei dieser Firma fehlt ein dokumentierter konkreter Anlass.",
                "A sales call to this company needs a documented, concrete reason, which is missing.",
            ),
            Self::ConsentProofMissing => (
                "Für Werbeanrufe fehlt der Nachweis der Einwilligung (§ 7a UWG).",
                "Proof of consent for sales calls is missing (§7a UWG).",
            ),
            Self::NoAdvertisingMarker => (
                "Die Person möchte erkennbar keine Werbung per Post.",
                "The person has made clear they do not want advertising by post.",
            ),
        }
    }
}

/// What an objection covers (LAW.md table 4h).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectionScope {
    /// Art. 21(2): all direct marketing on every channel, including related profiling.
    DirectMarketing,
    /// Art. 21(1): one purpose, by key.
    Purpose(String),
}

impl ObjectionScope {
    /// `direct_marketing` or a purpose key.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s.trim() {
            "direct_marketing" => Ok(Self::DirectMarketing),
            other => super::purpose::parse_purpose_key(other)
                .map(Self::Purpose)
                .map_err(|_| ValueError::new("must be direct_marketing or a purpose key")),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::DirectMarketing => "direct_marketing",
            Self::Purpose(k) => k,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Objection {
    pub scope: ObjectionScope,
    pub at: Timestamp,
    /// For an Art. 21(1) objection to a purpose that is not direct marketing: the privacy
    /// officer found compelling legitimate grounds that override it. Ignored for direct
    /// marketing, where the objection is absolute (Art. 21(3)).
    pub overridden: bool,
}

/// The person's relation to a contract (LAW.md table 1b, rows `contract`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractRelationship {
    #[default]
    None,
    /// The person is party to a live contract or asked for pre-contract steps (6(1)(b)).
    Party,
    /// The person is a contact of a business customer; the organisation is the party (6(1)(f)).
    ContactOfCustomer,
}

/// The facts of the §7(3) UWG existing-customer exception (LAW.md table 2b), computed by
/// the caller for the address and the campaign at hand. Condition 3 (no objection) is
/// read from [`PersonFacts::objections`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExistingCustomer {
    /// When the sale was concluded.
    pub sale_at: Timestamp,
    /// 2b(1): the address on the send is the one captured with the sale.
    pub address_from_sale: bool,
    /// 2b(2): the campaign's goods class is similar to the sale's per the maintained mapping.
    pub similar_goods: bool,
    /// 2b(4): the opt-out notice was given when the address was collected.
    pub optout_notice_at_collection: bool,
    /// 2b(4): the message carries the opt-out notice and a working unsubscribe.
    pub optout_notice_in_message: bool,
}

impl ExistingCustomer {
    fn holds(&self, at: Timestamp) -> bool {
        self.sale_at <= at
            && self.address_from_sale
            && self.similar_goods
            && self.optout_notice_at_collection
            && self.optout_notice_in_message
    }
}

/// A documented reason why a business would want a sales call (LAW.md table 2f).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PresumedConsent {
    /// The concrete fact (existing relationship in the same field, an inquiry, …).
    pub reason: String,
    /// Staff user id of the author.
    pub author: String,
    pub recorded_at: Timestamp,
    /// When the relationship it rests on ended.
    pub ended_at: Option<Timestamp>,
}

impl PresumedConsent {
    fn holds(&self, at: Timestamp) -> bool {
        !self.reason.trim().is_empty()
            && !self.author.trim().is_empty()
            && self.recorded_at <= at
            && self.ended_at.is_none_or(|end| at < end)
    }
}

/// What the gate needs to know about one person (LAW.md B.10), gathered by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PersonFacts {
    pub erased: bool,
    /// A restriction of processing (Art. 18) is active.
    pub restricted: bool,
    /// `None` when unknown; treated as a consumer (B.0 default deny).
    pub kind: Option<PersonKind>,
    pub objections: Vec<Objection>,
    /// Channels whose address of this person is on the suppression list (keyed-hash hit,
    /// computed by the caller).
    pub suppressed: Vec<Channel>,
    pub contract: ContractRelationship,
    /// Keys of the purposes with a legitimate-interest assessment on file (table 1c).
    pub interest_assessments: Vec<String>,
    pub existing_customer: Option<ExistingCustomer>,
    pub presumed_consent: Option<PresumedConsent>,
    /// The person recognisably does not want postal advertising ("Keine Werbung").
    pub no_advertising_marker: bool,
    pub consents: Vec<ConsentEvent>,
}

impl PersonFacts {
    /// A person Klar knows nothing about yet except the kind.
    pub fn new(kind: Option<PersonKind>) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    fn is_business(&self) -> bool {
        self.kind == Some(PersonKind::Business)
    }

    fn has_assessment(&self, purpose: &str) -> bool {
        self.interest_assessments.iter().any(|k| k == purpose)
    }
}

/// The answer of the gate, in the shape of the decision endpoint of CONTRACT.md.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// The basis the processing rests on when allowed; for a refusal the basis that was checked.
    pub legal_basis: Option<LegalBasis>,
    pub reason_code: ReasonCode,
    /// Stable id of the deciding rule (LAW.md section and row).
    pub rule: &'static str,
    pub reason_de: String,
    pub reason_en: String,
}

impl Decision {
    fn new(
        allowed: bool,
        legal_basis: Option<LegalBasis>,
        reason_code: ReasonCode,
        rule: &'static str,
    ) -> Self {
        let (de, en) = reason_code.reason();
        Self {
            allowed,
            legal_basis,
            reason_code,
            rule,
            reason_de: de.to_owned(),
            reason_en: en.to_owned(),
        }
    }

    fn refuse(basis: Option<LegalBasis>, code: ReasonCode, rule: &'static str) -> Self {
        Self::new(false, basis, code, rule)
    }
}

/// [`decide_with`] with the default consent settings.
pub fn decide(
    facts: &PersonFacts,
    purposes: &[Purpose],
    purpose_key: &str,
    channel: Channel,
    at: Timestamp,
) -> Decision {
    decide_with(
        &ConsentConfig::default(),
        facts,
        purposes,
        purpose_key,
        channel,
        at,
    )
}

/// Whether an objection in force at `at` covers `purpose`, and was not followed by a new
/// valid consent for this purpose and channel.
fn objection_applies(
    facts: &PersonFacts,
    purpose: &Purpose,
    consent: &ConsentState,
    at: Timestamp,
) -> bool {
    facts.objections.iter().any(|o| {
        let covers = match &o.scope {
            ObjectionScope::DirectMarketing => purpose.direct_marketing,
            ObjectionScope::Purpose(k) => {
                k == &purpose.key
                    && !matches!(
                        purpose.legal_basis,
                        LegalBasis::Contract | LegalBasis::LegalObligation
                    )
                    && (purpose.direct_marketing || !o.overridden)
            }
        };
        let renewed =
            matches!(consent, ConsentState::Given { granted_at, .. } if *granted_at > o.at);
        covers && o.at <= at && !renewed
    }) || (
        // "Stop" recorded as a withdrawal for a purpose on (f) is an objection in any form
        // (Art. 21(1)–(3)); only a new valid grant after it lifts it.
        purpose.legal_basis == LegalBasis::LegitimateInterest
            && matches!(consent, ConsentState::Withdrawn { .. })
    )
}

/// Decides whether `purpose_key` may be used on `channel` for the person at `at`,
/// following LAW.md B.9 steps 1–7 in order.
pub fn decide_with(
    config: &ConsentConfig,
    facts: &PersonFacts,
    purposes: &[Purpose],
    purpose_key: &str,
    channel: Channel,
    at: Timestamp,
) -> Decision {
    use ReasonCode as R;
    // 1. Erased.
    if facts.erased {
        return Decision::refuse(None, R::Erased, "B9.1");
    }
    // 2. Restricted (Art. 18): storage only.
    if facts.restricted {
        return Decision::refuse(None, R::Restricted, "B9.2");
    }
    // 3. Purpose known, enabled, basis usable; channel allowed.
    let Some(purpose) =
        find(purposes, purpose_key).filter(|p| p.active && p.legal_basis.usable_for_purposes())
    else {
        return Decision::refuse(None, R::UnknownPurpose, "B9.3");
    };
    let basis = purpose.legal_basis;
    if !purpose.allows(channel) {
        let code = if basis == LegalBasis::LegalObligation {
            R::LegalRetentionOnly
        } else {
            R::ChannelNotAllowed
        };
        return Decision::refuse(Some(basis), code, "B9.3");
    }
    let consent = consent_state(&facts.consents, &purpose.key, channel, at, config);
    // 4. Objection (Art. 21).
    if objection_applies(facts, purpose, &consent, at) {
        return Decision::refuse(Some(basis), R::Objection, "B9.4");
    }
    // 5. Suppression list (advertising only).
    if purpose.direct_marketing && facts.suppressed.contains(&channel) {
        return Decision::refuse(Some(basis), R::Suppressed, "B9.5");
    }
    // 6. Basis check; the effective basis may be (f) for business contacts (table 1b).
    let consumer = !facts.is_business();
    let effective = match basis {
        LegalBasis::Consent => match consent {
            ConsentState::Given { .. } => LegalBasis::Consent,
            ConsentState::Pending { .. } => {
                return Decision::refuse(Some(basis), R::ConsentPending, "B2c");
            }
            ConsentState::Withdrawn { .. } => {
                return Decision::refuse(Some(basis), R::ConsentWithdrawn, "B3c");
            }
            ConsentState::Expired { .. } => {
                return Decision::refuse(Some(basis), R::ConsentExpired, "B3d");
            }
            // Table 1b: sales calls to businesses rest on (f) with presumed consent.
            ConsentState::None
                if purpose.direct_marketing && channel == Channel::Phone && !consumer =>
            {
                LegalBasis::LegitimateInterest
            }
            ConsentState::None => return Decision::refuse(Some(basis), R::NoConsent, "B9.6"),
        },
        LegalBasis::Contract => match facts.contract {
            ContractRelationship::Party => LegalBasis::Contract,
            ContractRelationship::ContactOfCustomer => LegalBasis::LegitimateInterest,
            ContractRelationship::None if consumer => {
                return Decision::refuse(Some(basis), R::NoContractRelationship, "B1b");
            }
            ContractRelationship::None => {
                return Decision::refuse(Some(basis), R::NoBusinessRelationship, "B1b");
            }
        },
        LegalBasis::LegitimateInterest => LegalBasis::LegitimateInterest,
        LegalBasis::LegalObligation => {
            return Decision::refuse(Some(basis), R::LegalRetentionOnly, "B9.6");
        }
        LegalBasis::VitalInterests | LegalBasis::PublicTask => {
            return Decision::refuse(None, R::UnknownPurpose, "B9.3");
        }
    };
    if effective == LegalBasis::LegitimateInterest && !facts.has_assessment(&purpose.key) {
        return Decision::refuse(Some(effective), R::NoInterestAssessment, "B1c");
    }
    // 7. §7 UWG channel rules for advertising.
    if purpose.direct_marketing {
        let refusal = match channel {
            Channel::Email | Channel::Sms => {
                let existing = facts.existing_customer.as_ref();
                if consent.is_given() || existing.is_some_and(|e| e.holds(at)) {
                    None
                } else if existing.is_some() {
                    Some((R::ExistingCustomerConditionsUnmet, "B2b"))
                } else {
                    Some((R::UwgExpressConsentRequired, "B2a"))
                }
            }
            Channel::Phone if consumer => match consent {
                ConsentState::Given { proof: true, .. } => None,
                ConsentState::Given { proof: false, .. } => Some((R::ConsentProofMissing, "B2d")),
                _ => Some((R::UwgExpressConsentRequired, "B2a")),
            },
            Channel::Phone => {
                let presumed = facts.presumed_consent.as_ref().is_some_and(|p| p.holds(at));
                if consent.is_given() || presumed {
                    None
                } else {
                    Some((R::NoPresumedConsent, "B2f"))
                }
            }
            Channel::Post if facts.no_advertising_marker => Some((R::NoAdvertisingMarker, "B2a")),
            Channel::Post => None,
        };
        if let Some((code, rule)) = refusal {
            return Decision::refuse(Some(effective), code, rule);
        }
    }
    Decision::new(true, Some(effective), R::Allowed, "B9")
}
