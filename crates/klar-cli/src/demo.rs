//! Demo data: staff accounts to log in with and a realistic German CRM to look at.

use anyhow::Result;
use klar_domain::demo::{DemoSizes, generate};
use klar_domain::ids::{DealId, OrganizationId, PersonId, UserId};
use klar_domain::role::Role;
use klar_store::activities::ActivityEdit;
use klar_store::deals::DealEdit;
use klar_store::organizations::OrganizationEdit;
use klar_store::persons::NewPerson;
use klar_store::{Actor, Store};
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::io::Write;

/// Sizes for `klar seed --persons N`.
pub fn sizes_for(persons: usize) -> DemoSizes {
    DemoSizes {
        persons,
        organizations: (persons / 4).max(1),
        deals: (persons / 2).max(1),
        activities: persons.saturating_mul(2),
    }
}

const DEMO_USERS: [(&str, Role); 4] = [
    ("vertrieb@demo.example", Role::Sales),
    ("marketing@demo.example", Role::Marketing),
    ("datenschutz@demo.example", Role::PrivacyOfficer),
    ("admin@demo.example", Role::Admin),
];

/// Creates the demo staff accounts if the installation has none; remembers the
/// one-time passwords in the data dir's log output only.
fn demo_users(store: &Store) -> Result<(UserId, Vec<(String, String)>)> {
    let existing = store.list_users()?;
    if let Some(u) = existing.iter().find(|u| u.role == Role::Sales) {
        return Ok((u.id, vec![]));
    }
    let mut logins = Vec::new();
    let mut sales = None;
    for (email, role) in DEMO_USERS {
        if existing.iter().any(|u| u.email == email) {
            continue;
        }
        let password = klar_crypto::new_token("", &mut rand::rngs::OsRng)[..16].to_string();
        let hash = klar_crypto::hash_password(
            &password,
            klar_crypto::PasswordParams::default(),
            &mut rand::rngs::OsRng,
        )?;
        let u = store.create_user(email, role, &hash)?;
        if role == Role::Sales {
            sales = Some(u.id);
        }
        logins.push((email.to_string(), password));
    }
    let sales = sales.ok_or_else(|| anyhow::anyhow!("no sales account for the demo data"))?;
    Ok((sales, logins))
}

static LOGINS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

pub fn print_demo_logins(store: &Store) -> Result<()> {
    let logins = LOGINS.lock().map(|l| l.clone()).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if logins.is_empty() {
        let users = store.list_users()?;
        if !users.is_empty() {
            writeln!(
                out,
                "demo: accounts exist already; create more with `klar user add`"
            )?;
        }
        return Ok(());
    }
    writeln!(out, "demo accounts (passwords are shown once):")?;
    for (email, pw) in logins {
        writeln!(out, "  {email:<28} {pw}")?;
    }
    Ok(())
}

/// Fills the store with generated data. `progress` prints a progress line to stderr.
pub fn seed(store: &Store, sizes: DemoSizes, progress: bool) -> Result<()> {
    let started = std::time::Instant::now();
    let (owner, logins) = demo_users(store)?;
    if let Ok(mut l) = LOGINS.lock() {
        *l = logins;
    }
    let actor = Actor::user(owner);
    let today = store
        .now()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or(jiff::tz::TimeZone::UTC))
        .date();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let data = generate(&sizes, today, &mut rng);
    let total =
        data.organizations.len() + data.persons.len() + data.deals.len() + data.activities.len();
    let bar = if progress {
        indicatif::ProgressBar::new(total as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "seeding {bar:40} {pos}/{len} records ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let tick = |n: usize| bar.inc(n as u64);
    let mut org_ids: Vec<OrganizationId> = Vec::with_capacity(data.organizations.len());
    for o in data.organizations {
        let org = store.create_organization(
            actor,
            OrganizationEdit {
                name: o.name,
                address: Some(o.address),
                website: o.website,
                industry: o.industry,
                owner_id: Some(owner),
                custom: BTreeMap::new(),
            },
        )?;
        org_ids.push(org.id);
        tick(1);
    }
    let mut person_ids: Vec<PersonId> = Vec::with_capacity(data.persons.len());
    for chunk in data.persons.chunks(500) {
        let batch: Vec<NewPerson> = chunk
            .iter()
            .map(|p| NewPerson {
                kind: p.kind,
                organization_id: p.organization.and_then(|i| org_ids.get(i).copied()),
                owner_id: Some(owner),
                source: p.source.clone(),
                tags: p.tags.clone(),
                personal: p.personal.clone(),
            })
            .collect();
        let n = batch.len();
        person_ids.extend(store.create_persons(actor, batch)?);
        tick(n);
    }
    let mut deal_ids: Vec<DealId> = Vec::with_capacity(data.deals.len());
    for d in data.deals {
        let deal = store.create_deal(
            actor,
            DealEdit {
                title: d.title,
                value_cents: d.value_cents,
                currency: d.currency,
                stage: d.stage,
                person_id: d.person.and_then(|i| person_ids.get(i).copied()),
                organization_id: d.organization.and_then(|i| org_ids.get(i).copied()),
                owner_id: Some(owner),
                expected_close_date: d.expected_close_date,
                lost_reason: d.lost_reason,
                custom: BTreeMap::new(),
            },
        )?;
        deal_ids.push(deal.id);
        tick(1);
    }
    let now = store.now();
    for a in data.activities {
        let occurred_at = now
            .checked_sub(jiff::SignedDuration::from_hours(a.days_ago * 24))
            .unwrap_or(now);
        store.create_activity(
            actor,
            ActivityEdit {
                kind: a.kind,
                person_id: a.person.and_then(|i| person_ids.get(i).copied()),
                organization_id: a.organization.and_then(|i| org_ids.get(i).copied()),
                deal_id: a.deal.and_then(|i| deal_ids.get(i).copied()),
                text: a.text,
                purpose: None,
                occurred_at,
                due_date: a.due_date,
                done: a.done,
                owner_id: Some(owner),
            },
        )?;
        tick(1);
    }
    tracing::info!(
        records = total,
        ms = started.elapsed().as_millis() as u64,
        "demo data created"
    );
    Ok(())
}

/// What a marketer needs to try a campaign in the demo: the controller's identity and
/// imprint, a mail provider with a processing contract for the newsletter, and a confirmed
/// newsletter consent (as a double opt-in leaves it) for every fifth person with an address.
/// Only for `serve --demo` on an empty database; `klar seed` adds records only.
pub fn seed_privacy(store: &Store) -> Result<()> {
    use klar_domain::installation::{Installation, Party};
    use klar_domain::policy::{Channel, ConsentEvent, ConsentEventKind, ConsentSource};
    use klar_domain::processor::{ProcessorRole, ProcessorSpec, TransferMechanism};
    let actor = Actor::system();
    if store.installation()?.controller.is_empty() {
        store.set_installation(
            actor,
            &Installation {
                controller: Party {
                    name: "Muster Maschinenbau GmbH".into(),
                    address: "Hafenstraße 1\n20457 Hamburg".into(),
                    email: "info@muster-maschinenbau.example".into(),
                    phone: "+49 40 1234560".into(),
                },
                representative: Party::default(),
                dpo: Party {
                    name: "Dr. Jana Schutz".into(),
                    address: String::new(),
                    email: "datenschutz@muster-maschinenbau.example".into(),
                    phone: String::new(),
                },
                imprint: "Amtsgericht Hamburg HRB 123456\nGeschäftsführer: Max Muster\nUSt-IdNr. DE123456789".into(),
                measures_text: String::new(),
            },
        )?;
    }
    if store.processors()?.is_empty() {
        store.create_processor(
            actor,
            &ProcessorSpec {
                name: "Mailversand Demo GmbH".into(),
                role: ProcessorRole::Processor,
                contract_signed_at: jiff::civil::Date::new(2026, 1, 15).ok(),
                purposes: vec!["newsletter".into()],
                data_categories: vec!["contact".into()],
                country: "DE".into(),
                transfer_mechanism: TransferMechanism::None,
                services: vec!["email_delivery".into()],
            },
        )?;
    }
    let mut cursor = None;
    let mut n = 0usize;
    loop {
        let page = store.list_persons(&klar_store::persons::PersonFilter {
            cursor: cursor.clone(),
            limit: 500,
            ..Default::default()
        })?;
        for p in &page.items {
            n += 1;
            if !n.is_multiple_of(5) || p.personal.emails.is_empty() {
                continue;
            }
            for kind in [ConsentEventKind::Grant, ConsentEventKind::Confirm] {
                store.append_consent_event(
                    actor,
                    p.id,
                    1,
                    &ConsentEvent {
                        at: store.now(),
                        purpose: "newsletter".into(),
                        channel: Channel::Email,
                        kind,
                        source: ConsentSource::Person,
                        wording_version: "newsletter-de-1".into(),
                        evidence: Some("Demo: Anmeldeformular, per Double-Opt-In bestätigt".into()),
                    },
                )?;
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(())
}
