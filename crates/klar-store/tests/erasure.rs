//! Erasure in the store: what it leaves, what a second erasure is told, and the SQLite
//! settings it relies on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use klar_domain::clock::SystemClock;
use klar_domain::ids::PersonId;
use klar_domain::records::{PersonKind, PersonalData};
use klar_store::persons::NewPerson;
use klar_store::{Actor, Store, StoreConfig, StoreError};
use std::sync::Arc;

fn store(dir: &std::path::Path) -> Store {
    Store::open(&StoreConfig::new(dir), Arc::new(SystemClock)).unwrap()
}

fn person(last: &str) -> NewPerson {
    NewPerson {
        kind: PersonKind::Consumer,
        organization_id: None,
        owner_id: None,
        source: None,
        tags: vec!["Nur-Sie".into(), "Stammkunde".into()],
        personal: PersonalData {
            first_name: "Wiebke".into(),
            last_name: last.into(),
            ..Default::default()
        },
    }
}

#[test]
fn every_connection_overwrites_deleted_content() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let pragma = |c: &klar_store::db::Conn<'_>| -> Result<i64, StoreError> {
        c.query_one("PRAGMA secure_delete", &[])?.get(0)
    };
    assert_eq!(s.db().read(pragma).unwrap(), 1, "reader");
    assert_eq!(s.db().write(pragma).unwrap(), 1, "writer");
}

#[test]
fn an_erased_person_leaves_a_tombstone_and_a_second_erasure_is_told_so() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let her = s
        .create_person(Actor::system(), person("Jürgensmeyer"))
        .unwrap();
    let other = s.create_person(Actor::system(), person("Andere")).unwrap();
    // "Nur-Sie" is carried by both until the other one drops it.
    s.update_person(Actor::system(), other.id, |e| {
        e.tags = vec!["Stammkunde".into()];
        Ok(())
    })
    .unwrap();
    assert_eq!(s.erased_at(her.id).unwrap(), None);

    s.erase_person(Actor::system(), her.id).unwrap();
    assert!(matches!(s.get_person(her.id), Err(StoreError::NotFound)));
    let at = s.erased_at(her.id).unwrap();
    assert!(at.is_some());
    // A tag only she carried goes with her; a shared one stays.
    assert_eq!(s.list_tags().unwrap(), vec!["Stammkunde".to_string()]);

    assert!(matches!(
        s.erase_person(Actor::system(), her.id),
        Err(StoreError::Erased)
    ));
    assert_eq!(s.erased_at(her.id).unwrap(), at);
    assert_eq!(s.count_persons().unwrap(), 1);

    let never: PersonId = "0190a000-0000-7000-8000-000000000000".parse().unwrap();
    assert!(matches!(
        s.erase_person(Actor::system(), never),
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.erased_at(never).unwrap(), None);
}
