//! The audit chain at the store level: entries written before the chain existed are chained
//! when the store opens, and the chain verifies across reopenings and processes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use klar_domain::clock::SystemClock;
use klar_store::audit::{AuditAction, AuditActor, AuditEntry};
use klar_store::{Store, StoreConfig};
use std::sync::Arc;

fn open(dir: &std::path::Path) -> Store {
    Store::open(&StoreConfig::new(dir), Arc::new(SystemClock)).unwrap()
}

#[test]
fn entries_from_before_the_chain_are_chained_on_open_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        for _ in 0..25 {
            s.audit(AuditEntry::new(AuditActor::System, AuditAction::RopaRead));
        }
        s.audit_flush().unwrap();
        assert_eq!(s.verify_audit().unwrap().broken, None);
        // As a database from before the migration: no hashes.
        s.db()
            .write(|c| c.execute("UPDATE audit_log SET prev_hash = NULL, hash = NULL", &[]))
            .unwrap();
        assert!(s.verify_audit().unwrap().broken.is_some());
    }
    let s = open(dir.path());
    let r = s.verify_audit().unwrap();
    // 25 and the default wordings stored when the installation was created.
    let n = r.entries;
    assert!(n >= 25);
    assert_eq!(r.broken, None);
    // A second process appends to the same chain.
    let other = open(dir.path());
    other.audit(AuditEntry::new(AuditActor::System, AuditAction::RopaRead));
    other.audit_flush().unwrap();
    s.audit(AuditEntry::new(AuditActor::System, AuditAction::RopaRead));
    assert_eq!(s.audit_checkpoint().unwrap(), Some(n as i64 + 2));
    let r = s.verify_audit().unwrap();
    assert_eq!((r.entries, r.checkpoints, r.broken), (n + 2, 1, None));
}
