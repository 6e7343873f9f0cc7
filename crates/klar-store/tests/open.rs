//! Opening the store: keys, migrations and the refusal to run with the wrong key.

use klar_domain::clock::SystemClock;
use klar_domain::records::{PersonKind, PersonalData};
use klar_store::persons::NewPerson;
use klar_store::{Actor, Store, StoreConfig};
use std::sync::Arc;

fn open(cfg: &StoreConfig) -> Result<Store, klar_store::StoreError> {
    Store::open(cfg, Arc::new(SystemClock))
}

fn person() -> NewPerson {
    NewPerson {
        kind: PersonKind::Consumer,
        organization_id: None,
        owner_id: None,
        source: None,
        tags: vec![],
        personal: PersonalData {
            first_name: "Erika".into(),
            last_name: "Mustermann".into(),
            ..Default::default()
        },
    }
}

#[test]
fn a_new_installation_gets_a_private_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path().join("data"));
    open(&cfg).unwrap();
    let key = dir.path().join("data/master.key");
    assert!(key.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(dir.path().join("data"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
    }
}

#[test]
fn an_existing_database_without_its_key_is_refused_and_no_key_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path());
    let s = open(&cfg).unwrap();
    s.create_person(Actor::system(), person()).unwrap();
    drop(s);
    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    let err = open(&cfg).unwrap_err().to_string();
    assert!(err.contains("master key is missing"), "{err}");
    assert!(
        !dir.path().join("master.key").exists(),
        "no new key was made silently"
    );
}

#[test]
fn a_wrong_master_key_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path());
    let s = open(&cfg).unwrap();
    let p = s.create_person(Actor::system(), person()).unwrap();
    drop(s);
    let other = klar_crypto::MasterKey::generate(&mut rand::rngs::OsRng);
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, other.to_file_contents()).unwrap();
    let mut with_wrong = cfg.clone();
    with_wrong.master_key_file = Some(wrong);
    let err = open(&with_wrong).unwrap_err().to_string();
    assert!(err.contains("does not belong to this database"), "{err}");
    let mut missing = cfg.clone();
    missing.master_key_file = Some(dir.path().join("nope.key"));
    assert!(
        open(&missing)
            .unwrap_err()
            .to_string()
            .contains("does not exist")
    );
    // The right key still opens it, and the data is intact.
    let s = open(&cfg).unwrap();
    assert_eq!(s.get_person(p.id).unwrap().personal.last_name, "Mustermann");
}

#[test]
fn reopening_applies_no_migration_twice() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path());
    let s = open(&cfg).unwrap();
    assert!(klar_store::migrate::migrate(s.db(), 0).unwrap().is_empty());
    drop(s);
    open(&cfg).unwrap();
}

#[test]
fn a_ciphertext_moved_to_another_person_does_not_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&StoreConfig::new(dir.path())).unwrap();
    let a = s.create_person(Actor::system(), person()).unwrap();
    let b = s.create_person(Actor::system(), person()).unwrap();
    s.db()
        .write(|c| {
            c.execute(
                "UPDATE persons SET personal = (SELECT personal FROM persons WHERE id = $1) WHERE id = $2",
                &[a.id.to_string().into(), b.id.to_string().into()],
            )
        })
        .unwrap();
    assert!(s.get_person(b.id).is_err());
    assert!(s.get_person(a.id).is_ok());
}
