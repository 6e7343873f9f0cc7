//! The gate's facts for many persons at once (campaign preview and sending) are the same
//! as the facts read person by person, for every kind of fact the gate reads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use klar_domain::clock::SystemClock;
use klar_domain::currency::Currency;
use klar_domain::email::Email;
use klar_domain::ids::PersonId;
use klar_domain::policy::{Channel, ConsentEvent, ConsentEventKind, ConsentSource, ObjectionScope};
use klar_domain::records::{LabeledEmail, PersonKind, PersonalData};
use klar_domain::role::Role;
use klar_store::deals::DealEdit;
use klar_store::facts::Subject;
use klar_store::organizations::OrganizationEdit;
use klar_store::persons::NewPerson;
use klar_store::{Actor, Store, StoreConfig};
use std::sync::Arc;

fn person(
    kind: PersonKind,
    email: &str,
    org: Option<klar_domain::ids::OrganizationId>,
) -> NewPerson {
    NewPerson {
        kind,
        organization_id: org,
        owner_id: None,
        source: None,
        tags: vec![],
        personal: PersonalData {
            first_name: "Mia".into(),
            last_name: "Fakt".into(),
            emails: vec![LabeledEmail {
                label: "work".into(),
                value: Email::parse(email).unwrap(),
            }],
            ..Default::default()
        },
    }
}

fn won_deal(
    s: &Store,
    person: Option<PersonId>,
    org: Option<klar_domain::ids::OrganizationId>,
) -> klar_domain::ids::DealId {
    s.create_deal(
        Actor::system(),
        DealEdit {
            title: "Maschine".into(),
            value_cents: 10_000,
            currency: Currency::parse("EUR").unwrap(),
            stage: "won".into(),
            person_id: person,
            organization_id: org,
            owner_id: None,
            expected_close_date: None,
            lost_reason: None,
            custom: Default::default(),
        },
    )
    .unwrap()
    .id
}

fn event(
    purpose: &str,
    channel: Channel,
    kind: ConsentEventKind,
    source: ConsentSource,
    evidence: Option<&str>,
) -> ConsentEvent {
    ConsentEvent {
        at: jiff::Timestamp::from_second(1_780_000_000).unwrap(),
        purpose: purpose.into(),
        channel,
        kind,
        source,
        wording_version: format!("{purpose}-de-1"),
        evidence: evidence.map(str::to_owned),
    }
}

#[test]
fn facts_read_in_bulk_equal_facts_read_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&StoreConfig::new(dir.path()), Arc::new(SystemClock)).unwrap();
    let staff = s
        .create_user("dsb@staff.example", Role::PrivacyOfficer, "x")
        .unwrap();
    let org = s
        .create_organization(
            Actor::system(),
            OrganizationEdit {
                name: "Kunde AG".into(),
                address: None,
                website: None,
                industry: None,
                owner_id: None,
                custom: Default::default(),
            },
        )
        .unwrap();
    let mk = |kind, email: &str, org| {
        s.create_person(Actor::system(), person(kind, email, org))
            .unwrap()
            .id
    };
    let plain = mk(PersonKind::Consumer, "plain@k.example", None);
    let consented = mk(PersonKind::Consumer, "consent@k.example", None);
    let objected = mk(PersonKind::Consumer, "objected@k.example", None);
    let restricted = mk(PersonKind::Consumer, "restricted@k.example", None);
    let contact_of_customer = mk(PersonKind::Business, "b2b@kunde.example", Some(org.id));
    let party = mk(PersonKind::Consumer, "party@k.example", None);
    let presumed = mk(PersonKind::Business, "presumed@kunde.example", None);
    let marked = mk(PersonKind::Consumer, "marked@k.example", None);
    let existing = mk(PersonKind::Consumer, "existing@k.example", None);
    // Same address as the objected person: suppressed by the list, without an objection.
    let twin = mk(PersonKind::Consumer, "objected@k.example", None);

    let append =
        |pid, e: ConsentEvent| s.append_consent_event(Actor::system(), pid, 1, &e).unwrap();
    append(
        consented,
        event(
            "newsletter",
            Channel::Email,
            ConsentEventKind::Grant,
            ConsentSource::Person,
            None,
        ),
    );
    append(
        consented,
        event(
            "newsletter",
            Channel::Email,
            ConsentEventKind::Confirm,
            ConsentSource::Person,
            Some("click"),
        ),
    );
    append(
        consented,
        event(
            "phone_marketing",
            Channel::Phone,
            ConsentEventKind::Grant,
            ConsentSource::Staff,
            Some("Aufnahme 7"),
        ),
    );
    append(
        party,
        event(
            "newsletter",
            Channel::Email,
            ConsentEventKind::Grant,
            ConsentSource::Staff,
            None,
        ),
    );
    s.record_objection(
        Actor::system(),
        objected,
        &ObjectionScope::DirectMarketing,
        "staff",
    )
    .unwrap();
    s.record_objection(
        Actor::system(),
        party,
        &ObjectionScope::Purpose("profiling".into()),
        "staff",
    )
    .unwrap();
    s.restrict(Actor::system(), restricted, "bestritten")
        .unwrap();
    won_deal(&s, None, Some(org.id));
    won_deal(&s, Some(party), None);
    s.record_presumed_consent(Actor::user(staff.id), presumed, "Anfrage vom 3. März")
        .unwrap();
    s.set_advertising_marker(Actor::system(), marked, true)
        .unwrap();
    let sale = won_deal(&s, Some(existing), None);
    s.record_existing_customer(
        Actor::user(staff.id),
        existing,
        sale,
        &Email::parse("existing@k.example").unwrap(),
        "maschinen",
        "existing_customer_email-de-1",
    )
    .unwrap();

    let all = [
        plain,
        consented,
        objected,
        restricted,
        contact_of_customer,
        party,
        presumed,
        marked,
        existing,
        twin,
    ];
    let subjects: Vec<Subject> = all
        .iter()
        .map(|id| {
            let p = s.get_person(*id).unwrap();
            Subject {
                id: p.id,
                kind: p.kind,
                organization_id: p.organization_id,
            }
        })
        .collect();
    for goods in [None, Some("maschinen"), Some("möbel")] {
        let bulk = s.privacy_facts_many(&subjects, goods).unwrap();
        // Reading whole tables (as for large segments) gives the same.
        assert_eq!(
            s.privacy_facts_scanning_above(&subjects, goods, 3).unwrap(),
            bulk
        );
        assert_eq!(bulk.len(), all.len());
        for (id, b) in all.iter().zip(&bulk) {
            let single = s
                .privacy_facts_for(&s.get_person(*id).unwrap(), goods)
                .unwrap();
            assert_eq!(&single, b, "person {id} with goods {goods:?}");
        }
    }
    // The facts are not trivially empty: each kind of fact was found.
    let bulk = s.privacy_facts_many(&subjects, Some("maschinen")).unwrap();
    assert!(bulk[1].consents.len() == 3);
    assert!(
        bulk[2].suppressed.contains(&Channel::Email)
            && bulk[9].suppressed.contains(&Channel::Email)
    );
    assert!(bulk[3].restricted);
    assert!(bulk[6].presumed_consent.is_some());
    assert!(bulk[7].no_advertising_marker);
    assert!(
        bulk[8]
            .existing_customer
            .as_ref()
            .is_some_and(|e| e.address_from_sale && e.similar_goods)
    );
    // Ids in chunks larger than one IN list are all found.
    let many: Vec<Subject> = (0..1_200)
        .map(|i| subjects[i % subjects.len()].clone())
        .collect();
    let facts = s.privacy_facts_many(&many, None).unwrap();
    assert_eq!(facts.len(), 1_200);
    let one = s.privacy_facts_many(&subjects, None).unwrap();
    for (i, f) in facts.iter().enumerate() {
        assert_eq!(f, &one[i % subjects.len()], "row {i}");
    }
}
