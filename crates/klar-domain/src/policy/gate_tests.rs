//! Tests of the gate: one per rule row, then the properties of LAW.md B.9.

use super::consent::tests::{day, ev};
use super::*;
use crate::records::PersonKind;
use ConsentEventKind::{Confirm, Grant, Withdraw};
use proptest::prelude::*;

fn ask(facts: &PersonFacts, purpose: &str, channel: Channel, d: i64) -> Decision {
    decide(facts, &default_purposes(), purpose, channel, day(d))
}

fn code(facts: &PersonFacts, purpose: &str, channel: Channel, d: i64) -> &'static str {
    ask(facts, purpose, channel, d).reason_code.as_str()
}

fn consumer() -> PersonFacts {
    PersonFacts::new(Some(PersonKind::Consumer))
}

fn business() -> PersonFacts {
    PersonFacts::new(Some(PersonKind::Business))
}

fn subscribed() -> PersonFacts {
    let mut f = consumer();
    f.consents = vec![
        ev(0, "newsletter", Channel::Email, Grant),
        ev(1, "newsletter", Channel::Email, Confirm),
    ];
    f
}

fn objection(scope: ObjectionScope, d: i64) -> Objection {
    Objection {
        scope,
        at: day(d),
        overridden: false,
    }
}

fn existing_customer() -> ExistingCustomer {
    ExistingCustomer {
        sale_at: day(0),
        address_from_sale: true,
        similar_goods: true,
        optout_notice_at_collection: true,
        optout_notice_in_message: true,
    }
}

#[test]
fn reason_codes_round_trip_and_use_the_names_of_the_contract() {
    for c in ReasonCode::ALL {
        assert_eq!(ReasonCode::parse(c.as_str()).unwrap(), c);
        let (de, en) = c.reason();
        assert!(de.ends_with('.') && en.ends_with('.'));
    }
    for name in [
        "no_consent",
        "consent_pending",
        "consent_withdrawn",
        "objection",
        "suppressed",
        "restricted",
        "erased",
        "unknown_purpose",
        "channel_not_allowed",
        "allowed",
    ] {
        assert!(ReasonCode::parse(name).is_ok(), "{name}");
    }
    assert!(ReasonCode::parse("no_contract_on_file").is_err());
}

#[test]
fn a_confirmed_newsletter_subscriber_may_be_mailed_on_the_basis_of_consent() {
    let d = ask(&subscribed(), "newsletter", Channel::Email, 2);
    assert!(d.allowed);
    assert_eq!(d.legal_basis, Some(LegalBasis::Consent));
    assert_eq!(d.reason_code, ReasonCode::Allowed);
    assert_eq!(d.rule, "B9");
}

#[test]
fn an_erased_person_is_refused_everything() {
    let mut f = subscribed();
    f.erased = true;
    f.restricted = true;
    let d = ask(&f, "newsletter", Channel::Email, 2);
    assert_eq!(
        (d.allowed, d.reason_code.as_str(), d.rule),
        (false, "erased", "B9.1")
    );
}

#[test]
fn a_restricted_person_is_refused_even_contract_mail() {
    let mut f = subscribed();
    f.contract = ContractRelationship::Party;
    f.restricted = true;
    assert_eq!(code(&f, "contract", Channel::Email, 2), "restricted");
    assert_eq!(code(&f, "newsletter", Channel::Email, 2), "restricted");
}

#[test]
fn an_unknown_or_switched_off_purpose_is_refused() {
    let f = subscribed();
    assert_eq!(code(&f, "lottery", Channel::Email, 2), "unknown_purpose");
    let mut ps = default_purposes();
    for p in &mut ps {
        p.active = false;
    }
    let d = decide(&f, &ps, "newsletter", Channel::Email, day(2));
    assert_eq!(d.reason_code, ReasonCode::UnknownPurpose);
}

#[test]
fn a_purpose_on_vital_interests_is_refused_as_unknown() {
    let mut ps = default_purposes();
    for p in &mut ps {
        p.legal_basis = LegalBasis::VitalInterests;
    }
    let d = decide(&subscribed(), &ps, "newsletter", Channel::Email, day(2));
    assert_eq!(d.reason_code, ReasonCode::UnknownPurpose);
}

#[test]
fn the_newsletter_may_not_be_sent_by_phone() {
    assert_eq!(
        code(&subscribed(), "newsletter", Channel::Phone, 2),
        "channel_not_allowed"
    );
}

#[test]
fn legal_retention_data_is_never_used_for_contact() {
    let mut f = consumer();
    f.contract = ContractRelationship::Party;
    for c in Channel::ALL {
        let d = ask(&f, "legal_retention", c, 2);
        assert!(!d.allowed);
        assert_eq!(d.reason_code, ReasonCode::LegalRetentionOnly);
    }
}

#[test]
fn a_direct_marketing_objection_refuses_even_a_confirmed_subscription() {
    let mut f = subscribed();
    f.objections
        .push(objection(ObjectionScope::DirectMarketing, 3));
    assert_eq!(code(&f, "newsletter", Channel::Email, 2), "allowed");
    let d = ask(&f, "newsletter", Channel::Email, 3);
    assert_eq!((d.reason_code.as_str(), d.rule), ("objection", "B9.4"));
}

#[test]
fn a_direct_marketing_objection_does_not_stop_contract_mail() {
    let mut f = consumer();
    f.contract = ContractRelationship::Party;
    f.objections
        .push(objection(ObjectionScope::DirectMarketing, 0));
    f.objections
        .push(objection(ObjectionScope::Purpose("contract".into()), 0));
    assert_eq!(code(&f, "contract", Channel::Email, 2), "allowed");
}

#[test]
fn a_new_confirmed_subscription_after_an_objection_counts_again() {
    let mut f = consumer();
    f.objections
        .push(objection(ObjectionScope::DirectMarketing, 0));
    f.consents = vec![
        ev(1, "newsletter", Channel::Email, Grant),
        ev(2, "newsletter", Channel::Email, Confirm),
    ];
    assert_eq!(code(&f, "newsletter", Channel::Email, 1), "objection");
    assert_eq!(code(&f, "newsletter", Channel::Email, 2), "allowed");
}

#[test]
fn a_resubscription_confirmed_after_an_objection_lifts_it_for_the_newsletter() {
    let mut f = subscribed();
    f.objections
        .push(objection(ObjectionScope::DirectMarketing, 3));
    f.consents.push(ev(5, "newsletter", Channel::Email, Grant));
    assert_eq!(code(&f, "newsletter", Channel::Email, 5), "objection");
    f.consents
        .push(ev(6, "newsletter", Channel::Email, Confirm));
    assert_eq!(code(&f, "newsletter", Channel::Email, 6), "allowed");
    assert_eq!(code(&f, "postal_marketing", Channel::Post, 6), "objection");
}

#[test]
fn a_purpose_objection_stops_postal_marketing_for_good() {
    let mut f = consumer();
    f.interest_assessments.push("postal_marketing".into());
    f.objections.push(Objection {
        overridden: true,
        ..objection(ObjectionScope::Purpose("postal_marketing".into()), 1)
    });
    assert_eq!(code(&f, "postal_marketing", Channel::Post, 0), "allowed");
    assert_eq!(code(&f, "postal_marketing", Channel::Post, 1), "objection");
}

#[test]
fn an_overridden_objection_to_a_non_marketing_purpose_no_longer_refuses() {
    let mut ps = default_purposes();
    let mut p = ps[0].clone();
    p.key = "security_logging".into();
    p.legal_basis = LegalBasis::LegitimateInterest;
    p.direct_marketing = false;
    ps.push(p);
    let mut f = consumer();
    f.interest_assessments.push("security_logging".into());
    f.objections.push(objection(
        ObjectionScope::Purpose("security_logging".into()),
        0,
    ));
    let d = decide(&f, &ps, "security_logging", Channel::Email, day(1));
    assert_eq!(d.reason_code, ReasonCode::Objection);
    f.objections[0].overridden = true;
    let d = decide(&f, &ps, "security_logging", Channel::Email, day(1));
    assert_eq!(d.reason_code, ReasonCode::Allowed);
}

#[test]
fn a_suppressed_address_receives_no_advertising_but_still_contract_mail() {
    let mut f = subscribed();
    f.contract = ContractRelationship::Party;
    f.suppressed.push(Channel::Email);
    let d = ask(&f, "newsletter", Channel::Email, 2);
    assert_eq!((d.reason_code.as_str(), d.rule), ("suppressed", "B9.5"));
    assert_eq!(code(&f, "contract", Channel::Email, 2), "allowed");
}

#[test]
fn the_newsletter_needs_consent_confirmed_by_double_opt_in() {
    let mut f = consumer();
    assert_eq!(code(&f, "newsletter", Channel::Email, 0), "no_consent");
    f.consents.push(ev(0, "newsletter", Channel::Email, Grant));
    assert_eq!(code(&f, "newsletter", Channel::Email, 1), "consent_pending");
    assert_eq!(
        code(&f, "newsletter", Channel::Email, 31),
        "consent_expired"
    );
}

#[test]
fn a_withdrawn_newsletter_consent_refuses_from_that_moment_on() {
    let mut f = subscribed();
    f.consents
        .push(ev(5, "newsletter", Channel::Email, Withdraw));
    assert_eq!(code(&f, "newsletter", Channel::Email, 4), "allowed");
    let d = ask(&f, "newsletter", Channel::Email, 5);
    assert_eq!(
        (d.reason_code.as_str(), d.rule),
        ("consent_withdrawn", "B3c")
    );
}

#[test]
fn contract_mail_needs_a_contract_with_the_person() {
    let mut f = consumer();
    assert_eq!(
        code(&f, "contract", Channel::Email, 0),
        "no_contract_relationship"
    );
    f.contract = ContractRelationship::Party;
    let d = ask(&f, "contract", Channel::Post, 0);
    assert!(d.allowed);
    assert_eq!(d.legal_basis, Some(LegalBasis::Contract));
}

#[test]
fn a_contact_of_a_business_customer_rests_on_legitimate_interest_with_an_assessment() {
    let mut f = business();
    assert_eq!(
        code(&f, "contract", Channel::Email, 0),
        "no_business_relationship"
    );
    f.contract = ContractRelationship::ContactOfCustomer;
    assert_eq!(
        code(&f, "contract", Channel::Email, 0),
        "no_interest_assessment"
    );
    f.interest_assessments.push("contract".into());
    let d = ask(&f, "contract", Channel::Email, 0);
    assert!(d.allowed);
    assert_eq!(d.legal_basis, Some(LegalBasis::LegitimateInterest));
}

#[test]
fn postal_marketing_needs_an_assessment_and_respects_a_no_advertising_sign() {
    let mut f = consumer();
    assert_eq!(
        code(&f, "postal_marketing", Channel::Post, 0),
        "no_interest_assessment"
    );
    f.interest_assessments.push("postal_marketing".into());
    assert_eq!(code(&f, "postal_marketing", Channel::Post, 0), "allowed");
    f.no_advertising_marker = true;
    assert_eq!(
        code(&f, "postal_marketing", Channel::Post, 0),
        "no_advertising_marker"
    );
}

#[test]
fn a_consumer_may_be_called_only_with_documented_express_consent() {
    let mut f = consumer();
    assert_eq!(code(&f, "phone_marketing", Channel::Phone, 1), "no_consent");
    let mut g = ev(0, "phone_marketing", Channel::Phone, Grant);
    g.evidence = None;
    f.consents = vec![g.clone()];
    let d = ask(&f, "phone_marketing", Channel::Phone, 1);
    assert_eq!(
        (d.reason_code.as_str(), d.rule),
        ("consent_proof_missing", "B2d")
    );
    g.evidence = Some("form-submission-9".into());
    f.consents = vec![g];
    assert_eq!(code(&f, "phone_marketing", Channel::Phone, 1), "allowed");
}

#[test]
fn a_person_of_unknown_kind_is_treated_as_a_consumer() {
    let mut f = PersonFacts::new(None);
    f.interest_assessments.push("phone_marketing".into());
    f.presumed_consent = Some(PresumedConsent {
        reason: "asked for a call back at the trade fair".into(),
        author: "user-1".into(),
        recorded_at: day(0),
        ended_at: None,
    });
    assert_eq!(code(&f, "phone_marketing", Channel::Phone, 1), "no_consent");
}

#[test]
fn email_double_opt_in_does_not_allow_a_sales_call() {
    let mut f = consumer();
    f.consents = vec![
        ev(0, "phone_marketing", Channel::Email, Grant),
        ev(1, "phone_marketing", Channel::Email, Confirm),
    ];
    assert_eq!(code(&f, "phone_marketing", Channel::Phone, 2), "no_consent");
}

#[test]
fn a_business_may_be_called_with_a_documented_presumed_consent() {
    let mut f = business();
    assert_eq!(
        code(&f, "phone_marketing", Channel::Phone, 1),
        "no_interest_assessment"
    );
    f.interest_assessments.push("phone_marketing".into());
    let d = ask(&f, "phone_marketing", Channel::Phone, 1);
    assert_eq!(
        (d.reason_code.as_str(), d.rule),
        ("no_presumed_consent", "B2f")
    );
    f.presumed_consent = Some(PresumedConsent {
        reason: "existing supplier relationship in the same field".into(),
        author: "user-1".into(),
        recorded_at: day(0),
        ended_at: Some(day(10)),
    });
    let d = ask(&f, "phone_marketing", Channel::Phone, 1);
    assert!(d.allowed);
    assert_eq!(d.legal_basis, Some(LegalBasis::LegitimateInterest));
    assert_eq!(
        code(&f, "phone_marketing", Channel::Phone, 10),
        "no_presumed_consent"
    );
}

#[test]
fn a_business_that_withdrew_phone_consent_is_not_switched_silently_to_presumed_consent() {
    let mut f = business();
    f.interest_assessments.push("phone_marketing".into());
    f.presumed_consent = Some(PresumedConsent {
        reason: "inquiry by the company".into(),
        author: "user-1".into(),
        recorded_at: day(0),
        ended_at: None,
    });
    f.consents = vec![
        ev(0, "phone_marketing", Channel::Phone, Grant),
        ev(1, "phone_marketing", Channel::Phone, Withdraw),
    ];
    assert_eq!(
        code(&f, "phone_marketing", Channel::Phone, 2),
        "consent_withdrawn"
    );
}

#[test]
fn existing_customer_email_needs_all_four_conditions_of_7_3_uwg() {
    let mut f = business();
    f.interest_assessments
        .push("existing_customer_email".into());
    assert_eq!(
        code(&f, "existing_customer_email", Channel::Email, 1),
        "uwg_express_consent_required"
    );
    f.existing_customer = Some(existing_customer());
    assert_eq!(
        code(&f, "existing_customer_email", Channel::Email, 1),
        "allowed"
    );
    let unmet = [
        |e: &mut ExistingCustomer| e.address_from_sale = false,
        |e: &mut ExistingCustomer| e.similar_goods = false,
        |e: &mut ExistingCustomer| e.optout_notice_at_collection = false,
        |e: &mut ExistingCustomer| e.optout_notice_in_message = false,
    ];
    for change in unmet {
        let mut g = f.clone();
        if let Some(e) = g.existing_customer.as_mut() {
            change(e);
        }
        let d = ask(&g, "existing_customer_email", Channel::Email, 1);
        assert_eq!(
            (d.reason_code.as_str(), d.rule),
            ("existing_customer_conditions_unmet", "B2b")
        );
    }
    f.objections
        .push(objection(ObjectionScope::DirectMarketing, 1));
    assert_eq!(
        code(&f, "existing_customer_email", Channel::Email, 1),
        "objection"
    );
}

#[test]
fn reasons_are_the_same_sentences_whatever_the_person() {
    let d = ask(&subscribed(), "newsletter", Channel::Email, 2);
    assert!(d.reason_en.starts_with("Allowed"));
    assert!(!d.reason_de.is_empty());
}

// ---------------------------------------------------------------- properties

const PURPOSES: [&str; 4] = [
    "newsletter",
    "phone_marketing",
    "profiling",
    "postal_marketing",
];

fn arb_event() -> impl Strategy<Value = ConsentEvent> {
    (
        0i64..60,
        0usize..PURPOSES.len(),
        prop::sample::select(Channel::ALL.to_vec()),
        prop::sample::select(vec![
            ConsentEventKind::Grant,
            ConsentEventKind::Confirm,
            ConsentEventKind::Withdraw,
            ConsentEventKind::Expire,
        ]),
        prop::sample::select(vec![
            ConsentSource::Person,
            ConsentSource::Staff,
            ConsentSource::Import,
        ]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(d, p, channel, kind, source, wording, evidence)| ConsentEvent {
                at: day(d),
                purpose: PURPOSES[p].to_owned(),
                channel,
                kind,
                source,
                wording_version: if wording { "w1".into() } else { String::new() },
                evidence: evidence.then(|| "proof-1".to_owned()),
            },
        )
}

fn arb_kind() -> impl Strategy<Value = Option<PersonKind>> {
    prop::sample::select(vec![
        None,
        Some(PersonKind::Consumer),
        Some(PersonKind::Business),
    ])
}

fn arb_facts() -> impl Strategy<Value = PersonFacts> {
    (
        arb_kind(),
        prop::collection::vec(arb_event(), 0..24),
        prop::collection::vec(
            (
                any::<bool>(),
                0usize..PURPOSES.len(),
                0i64..60,
                any::<bool>(),
            ),
            0..3,
        ),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(kind, consents, objs, lia, presumed, existing)| {
            let mut f = PersonFacts::new(kind);
            f.consents = consents;
            f.objections = objs
                .into_iter()
                .map(|(dm, p, d, overridden)| Objection {
                    scope: if dm {
                        ObjectionScope::DirectMarketing
                    } else {
                        ObjectionScope::Purpose(PURPOSES[p].to_owned())
                    },
                    at: day(d),
                    overridden,
                })
                .collect();
            if lia {
                f.interest_assessments = PURPOSES.iter().map(|s| (*s).to_owned()).collect();
            }
            if presumed {
                f.presumed_consent = Some(PresumedConsent {
                    reason: "inquiry".into(),
                    author: "user-1".into(),
                    recorded_at: day(0),
                    ended_at: None,
                });
            }
            if existing {
                f.existing_customer = Some(existing_customer());
            }
            f
        })
}

fn objection_covers(o: &Objection, purpose: &Purpose) -> bool {
    match &o.scope {
        ObjectionScope::DirectMarketing => purpose.direct_marketing,
        ObjectionScope::Purpose(k) => k == &purpose.key,
    }
}

fn valid_grant_between(f: &PersonFacts, p: &str, c: Channel, after: i64, upto: i64) -> bool {
    f.consents.iter().any(|e| {
        e.purpose == p
            && e.channel == c
            && e.is_valid_grant()
            && e.at > day(after)
            && e.at <= day(upto)
    })
}

proptest! {
    // No regression files: this crate's policy tests write nothing outside the source tree.
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn after_a_withdrawal_nothing_is_allowed_until_a_new_valid_grant(facts in arb_facts(), t in 0i64..70) {
        let ps = default_purposes();
        for w in facts.consents.iter().filter(|e| e.kind == ConsentEventKind::Withdraw && e.at <= day(t)) {
            let wd = (w.at.as_second() - day(0).as_second()) / 86_400;
            let d = decide(&facts, &ps, &w.purpose, w.channel, day(t));
            if d.allowed {
                prop_assert!(valid_grant_between(&facts, &w.purpose, w.channel, wd, t), "{d:?}");
            }
        }
    }

    #[test]
    fn after_an_objection_nothing_it_covers_is_allowed_until_a_new_valid_grant(facts in arb_facts(), t in 0i64..70) {
        let ps = default_purposes();
        for p in &ps {
            for c in Channel::ALL {
                let d = decide(&facts, &ps, &p.key, c, day(t));
                if !d.allowed {
                    continue;
                }
                for o in facts.objections.iter().filter(|o| o.at <= day(t) && objection_covers(o, p)) {
                    if !p.direct_marketing && o.overridden {
                        continue;
                    }
                    let od = (o.at.as_second() - day(0).as_second()) / 86_400;
                    prop_assert!(valid_grant_between(&facts, &p.key, c, od, t), "{} {:?} {d:?}", p.key, c);
                }
            }
        }
    }

    #[test]
    fn a_restricted_person_is_always_refused(mut facts in arb_facts(), t in 0i64..70) {
        facts.restricted = true;
        facts.contract = ContractRelationship::Party;
        let ps = default_purposes();
        for p in &ps {
            for c in Channel::ALL {
                let d = decide(&facts, &ps, &p.key, c, day(t));
                prop_assert!(!d.allowed);
                prop_assert!(matches!(d.reason_code, ReasonCode::Restricted | ReasonCode::Erased));
            }
        }
    }

    #[test]
    fn an_erased_person_is_always_refused(mut facts in arb_facts(), t in 0i64..70, restricted in any::<bool>()) {
        facts.erased = true;
        facts.restricted = restricted;
        facts.contract = ContractRelationship::Party;
        let ps = default_purposes();
        for p in &ps {
            for c in Channel::ALL {
                let d = decide(&facts, &ps, &p.key, c, day(t));
                prop_assert_eq!(d.reason_code, ReasonCode::Erased);
                prop_assert!(!d.allowed);
            }
        }
    }

    #[test]
    fn a_direct_marketing_objection_refuses_all_marketing_without_a_later_grant(mut facts in arb_facts(), o in 0i64..60, t in 0i64..70) {
        facts.objections.push(Objection { scope: ObjectionScope::DirectMarketing, at: day(o), overridden: true });
        facts.consents.retain(|e| e.at <= day(o));
        let ps = default_purposes();
        for p in ps.iter().filter(|p| p.direct_marketing) {
            for c in Channel::ALL {
                let d = decide(&facts, &ps, &p.key, c, day(t.max(o)));
                prop_assert!(!d.allowed, "{} {:?}", p.key, c);
            }
        }
    }

    #[test]
    fn the_order_of_unrelated_events_does_not_change_the_decision(
        facts in arb_facts(),
        target in (0usize..PURPOSES.len(), prop::sample::select(Channel::ALL.to_vec())),
        seed in any::<u64>(),
        t in 0i64..70,
    ) {
        let (p, c) = (PURPOSES[target.0], target.1);
        let (related, mut unrelated): (Vec<_>, Vec<_>) = facts
            .consents
            .iter()
            .cloned()
            .partition(|e| e.purpose == p && e.channel == c);
        let mut shuffled = facts.clone();
        // A deterministic permutation of the unrelated events, interleaved with the related ones.
        let n = unrelated.len();
        if n > 1 {
            for i in (1..n).rev() {
                let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
                unrelated.swap(i, j);
            }
        }
        let mut merged = Vec::new();
        let mut rel = related.into_iter();
        for (i, e) in unrelated.into_iter().enumerate() {
            if (seed >> (i % 64)) & 1 == 1 {
                merged.extend(rel.next());
            }
            merged.push(e);
        }
        merged.extend(rel);
        shuffled.consents = merged;
        let ps = default_purposes();
        prop_assert_eq!(
            decide(&facts, &ps, p, c, day(t)),
            decide(&shuffled, &ps, p, c, day(t))
        );
    }

    #[test]
    fn a_new_person_is_refused_every_consent_based_purpose_on_every_channel(kind in arb_kind(), t in 0i64..10_000) {
        let facts = PersonFacts::new(kind);
        let ps = default_purposes();
        for p in ps.iter().filter(|p| p.legal_basis == LegalBasis::Consent) {
            for c in Channel::ALL {
                prop_assert!(!decide(&facts, &ps, &p.key, c, day(t)).allowed, "{} {:?}", p.key, c);
            }
        }
    }

    #[test]
    fn email_marketing_without_consent_is_allowed_only_under_all_four_conditions_of_7_3(
        mut facts in arb_facts(),
        conditions in prop::array::uniform4(any::<bool>()),
        t in 0i64..70,
    ) {
        let [a, b, c, d] = conditions;
        facts.kind = Some(PersonKind::Business);
        facts.interest_assessments.push("existing_customer_email".into());
        facts.existing_customer = Some(ExistingCustomer {
            sale_at: day(0),
            address_from_sale: a,
            similar_goods: b,
            optout_notice_at_collection: c,
            optout_notice_in_message: d,
        });
        let ps = default_purposes();
        let decision = decide(&facts, &ps, "existing_customer_email", Channel::Email, day(t));
        let consent = consent_state(&facts.consents, "existing_customer_email", Channel::Email, day(t), &ConsentConfig::default());
        if decision.allowed && !consent.is_given() {
            prop_assert!(a && b && c && d);
        }
    }

    #[test]
    fn later_events_never_change_an_earlier_decision(facts in arb_facts(), t in 0i64..60) {
        let ps = default_purposes();
        let mut earlier = facts.clone();
        earlier.consents.retain(|e| e.at <= day(t));
        for p in &ps {
            for c in Channel::ALL {
                prop_assert_eq!(
                    decide(&facts, &ps, &p.key, c, day(t)),
                    decide(&earlier, &ps, &p.key, c, day(t))
                );
            }
        }
    }

    #[test]
    fn a_consumer_is_never_called_for_marketing_without_express_consent_with_proof(mut facts in arb_facts(), t in 0i64..70) {
        if facts.kind == Some(PersonKind::Business) {
            facts.kind = Some(PersonKind::Consumer);
        }
        let ps = default_purposes();
        let d = decide(&facts, &ps, "phone_marketing", Channel::Phone, day(t));
        if d.allowed {
            let state = consent_state(&facts.consents, "phone_marketing", Channel::Phone, day(t), &ConsentConfig::default());
            let given_with_proof = matches!(state, ConsentState::Given { proof: true, .. });
            prop_assert!(given_with_proof);
        }
    }
}

#[test]
fn a_stop_recorded_as_withdrawal_for_postal_marketing_counts_as_an_objection() {
    let mut f = consumer();
    f.interest_assessments.push("postal_marketing".into());
    f.consents
        .push(ev(3, "postal_marketing", Channel::Post, Withdraw));
    assert_eq!(code(&f, "postal_marketing", Channel::Post, 2), "allowed");
    assert_eq!(code(&f, "postal_marketing", Channel::Post, 3), "objection");
}
