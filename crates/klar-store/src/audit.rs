//! The audit trail (Art. 5(2) accountability): every read and change of a person's data,
//! every decision of the policy gate, every consent event, every login.
//!
//! Entries hold ids, codes and rule ids, never personal data. They are handed to a
//! background writer that commits them in batches, so auditing a read costs a channel
//! send, not a write transaction; [`Store::audit_flush`] waits until everything handed
//! over so far is committed (queries of the trail flush first, and so does dropping the
//! last handle of the store). See decision 0005.

use crate::db::{Db, Val};
use crate::error::{Result, StoreError};
use crate::{Actor, Page, Store, from_ms, ms};
use klar_domain::ids::{PersonId, UserId};
use klar_domain::policy::{Channel, Decision};
use std::sync::Arc;
use std::sync::mpsc;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditActor {
    /// A staff account (session or API token).
    User(UserId),
    /// Klar itself (background jobs, demo data).
    System,
    /// The person the data is about, on a public page (confirmation link, request form).
    DataSubject,
    /// Someone not (yet) known: a failed login.
    Anonymous,
}

impl AuditActor {
    pub fn as_string(self) -> String {
        match self {
            Self::User(u) => format!("user:{u}"),
            Self::System => "system".into(),
            Self::DataSubject => "data_subject".into(),
            Self::Anonymous => "anonymous".into(),
        }
    }
}

impl From<Actor> for AuditActor {
    fn from(a: Actor) -> Self {
        a.user_id.map_or(Self::System, Self::User)
    }
}

/// What happened. The names are stable: auditors filter by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    PersonCreate,
    PersonRead,
    /// The person appeared in a list or search result (name and address shown).
    PersonList,
    PersonUpdate,
    PersonErase,
    ActivityCreate,
    Decision,
    ConsentGrant,
    ConsentConfirm,
    ConsentWithdraw,
    ConsentExpire,
    ConsentRead,
    DoiMailSent,
    ObjectionRecord,
    RestrictionOn,
    RestrictionOff,
    PurposeCreate,
    PurposeUpdate,
    SettingsUpdate,
    LoginOk,
    LoginFailed,
    Logout,
    AuditRead,
    RopaRead,
    InterestAssessment,
    PresumedConsent,
    AdvertisingMarker,
    ExistingCustomer,
    WordingCreate,
    DsrCreate,
    DsrStep,
    DsrExtend,
    /// An Art. 15 answer or Art. 20 copy of a person's data was compiled.
    PersonExport,
    ProcessorCreate,
    /// Data of a person went to a recipient (Art. 19 disclosure log).
    DisclosureRecord,
    CampaignCreate,
    CampaignUpdate,
    /// A campaign was sent (its lawful recipients queued in the outbox).
    CampaignSend,
    /// A campaign's test mail went to the marketer himself.
    CampaignTestSend,
    /// One campaign mail left for one person.
    CampaignMailSent,
    /// A new key-encryption key generation; every data key re-wrapped under it.
    KeyRotate,
    /// An old key-encryption key generation's file was destroyed.
    KeyDestroy,
    /// A login attempt refused unchecked because of earlier failures.
    LoginThrottled,
    /// A wrong or replayed second-factor code (TOTP or recovery code).
    LoginCodeFailed,
    TotpEnroll,
    /// The operator removed an account's authenticator (lost device).
    TotpReset,
    RecoveryCodesNew,
    /// A user ended one or all of his sessions.
    SessionRevoke,
    /// A session ran out (idle or absolute timeout).
    SessionExpired,
    /// A revoked token or a token of a disabled account was presented.
    AuthRefused,
    /// An administrator asked for break-glass access to one person (decision 0016).
    AccessGrantRequest,
    AccessGrantApprove,
    AccessGrantRefuse,
    /// A legal hold was placed on a person (reason kept with the hold, not here).
    LegalHoldOn,
    LegalHoldOff,
    /// One run of the retention job (outcome: `dry_run` or `applied`).
    RetentionRun,
    /// The retention job's decision about one person (outcome: erase, restrict, legal_hold).
    RetentionDecision,
    /// Staff recorded that a person was given the Art. 14 information.
    Art14Notice,
}

impl AuditAction {
    pub const ALL: [Self; 58] = [
        Self::PersonCreate,
        Self::PersonRead,
        Self::PersonList,
        Self::PersonUpdate,
        Self::PersonErase,
        Self::ActivityCreate,
        Self::Decision,
        Self::ConsentGrant,
        Self::ConsentConfirm,
        Self::ConsentWithdraw,
        Self::ConsentExpire,
        Self::ConsentRead,
        Self::DoiMailSent,
        Self::ObjectionRecord,
        Self::RestrictionOn,
        Self::RestrictionOff,
        Self::PurposeCreate,
        Self::PurposeUpdate,
        Self::SettingsUpdate,
        Self::LoginOk,
        Self::LoginFailed,
        Self::Logout,
        Self::AuditRead,
        Self::RopaRead,
        Self::InterestAssessment,
        Self::PresumedConsent,
        Self::AdvertisingMarker,
        Self::ExistingCustomer,
        Self::WordingCreate,
        Self::DsrCreate,
        Self::DsrStep,
        Self::DsrExtend,
        Self::PersonExport,
        Self::ProcessorCreate,
        Self::DisclosureRecord,
        Self::CampaignCreate,
        Self::CampaignUpdate,
        Self::CampaignSend,
        Self::CampaignTestSend,
        Self::CampaignMailSent,
        Self::KeyRotate,
        Self::KeyDestroy,
        Self::LoginThrottled,
        Self::LoginCodeFailed,
        Self::TotpEnroll,
        Self::TotpReset,
        Self::RecoveryCodesNew,
        Self::SessionRevoke,
        Self::SessionExpired,
        Self::AuthRefused,
        Self::AccessGrantRequest,
        Self::AccessGrantApprove,
        Self::AccessGrantRefuse,
        Self::LegalHoldOn,
        Self::LegalHoldOff,
        Self::RetentionRun,
        Self::RetentionDecision,
        Self::Art14Notice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PersonCreate => "person.create",
            Self::PersonRead => "person.read",
            Self::PersonList => "person.list",
            Self::PersonUpdate => "person.update",
            Self::PersonErase => "person.erase",
            Self::ActivityCreate => "activity.create",
            Self::Decision => "decision",
            Self::ConsentGrant => "consent.grant",
            Self::ConsentConfirm => "consent.confirm",
            Self::ConsentWithdraw => "consent.withdraw",
            Self::ConsentExpire => "consent.expire",
            Self::ConsentRead => "consent.read",
            Self::DoiMailSent => "doi.mail_sent",
            Self::ObjectionRecord => "objection.record",
            Self::RestrictionOn => "restriction.on",
            Self::RestrictionOff => "restriction.off",
            Self::PurposeCreate => "purpose.create",
            Self::PurposeUpdate => "purpose.update",
            Self::SettingsUpdate => "settings.update",
            Self::LoginOk => "login.ok",
            Self::LoginFailed => "login.failed",
            Self::Logout => "logout",
            Self::AuditRead => "audit.read",
            Self::RopaRead => "ropa.read",
            Self::InterestAssessment => "interest_assessment",
            Self::PresumedConsent => "presumed_consent",
            Self::AdvertisingMarker => "advertising_marker",
            Self::ExistingCustomer => "existing_customer",
            Self::WordingCreate => "wording.create",
            Self::DsrCreate => "dsr.create",
            Self::DsrStep => "dsr.step",
            Self::DsrExtend => "dsr.extend",
            Self::PersonExport => "person.export",
            Self::ProcessorCreate => "processor.create",
            Self::DisclosureRecord => "disclosure.record",
            Self::CampaignCreate => "campaign.create",
            Self::CampaignUpdate => "campaign.update",
            Self::CampaignSend => "campaign.send",
            Self::CampaignTestSend => "campaign.test_send",
            Self::CampaignMailSent => "campaign.mail_sent",
            Self::KeyRotate => "key.rotate",
            Self::KeyDestroy => "key.destroy",
            Self::LoginThrottled => "login.throttled",
            Self::LoginCodeFailed => "login.code_failed",
            Self::TotpEnroll => "totp.enroll",
            Self::TotpReset => "totp.reset",
            Self::RecoveryCodesNew => "totp.recovery_codes",
            Self::SessionRevoke => "session.revoke",
            Self::SessionExpired => "session.expired",
            Self::AuthRefused => "auth.refused",
            Self::AccessGrantRequest => "access_grant.request",
            Self::AccessGrantApprove => "access_grant.approve",
            Self::AccessGrantRefuse => "access_grant.refuse",
            Self::LegalHoldOn => "legal_hold.on",
            Self::LegalHoldOff => "legal_hold.off",
            Self::RetentionRun => "retention.run",
            Self::RetentionDecision => "retention.decision",
            Self::Art14Notice => "art14.notice",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }
}

/// One entry, before the store stamps it with time and sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: AuditActor,
    pub action: AuditAction,
    pub person_id: Option<PersonId>,
    /// Another record concerned, as `kind:id` (e.g. `activity:…`, `purpose:newsletter`).
    pub object: Option<String>,
    pub purpose: Option<String>,
    pub channel: Option<Channel>,
    /// The rule of LAW.md that decided (decisions).
    pub rule: Option<String>,
    /// A code: the gate's `reason_code`, or `ok` / `failed`.
    pub outcome: Option<String>,
}

impl AuditEntry {
    pub fn new(actor: impl Into<AuditActor>, action: AuditAction) -> Self {
        Self {
            actor: actor.into(),
            action,
            person_id: None,
            object: None,
            purpose: None,
            channel: None,
            rule: None,
            outcome: None,
        }
    }

    pub fn person(mut self, pid: PersonId) -> Self {
        self.person_id = Some(pid);
        self
    }

    pub fn object(mut self, kind: &str, id: impl std::fmt::Display) -> Self {
        self.object = Some(format!("{kind}:{id}"));
        self
    }

    pub fn purpose(mut self, key: &str) -> Self {
        self.purpose = Some(key.to_owned());
        self
    }

    pub fn channel(mut self, c: Channel) -> Self {
        self.channel = Some(c);
        self
    }

    pub fn outcome(mut self, code: &str) -> Self {
        self.outcome = Some(code.to_owned());
        self
    }

    /// A decision of the gate for `purpose` on `channel`, with its rule and reason code.
    pub fn decision(
        actor: impl Into<AuditActor>,
        pid: PersonId,
        purpose: &str,
        channel: Channel,
        d: &Decision,
    ) -> Self {
        let mut e = Self::new(actor, AuditAction::Decision)
            .person(pid)
            .purpose(purpose)
            .channel(channel)
            .outcome(d.reason_code.as_str());
        e.rule = Some(d.rule.to_owned());
        e
    }
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: jiff::Timestamp,
    pub actor: String,
    pub action: String,
    pub person_id: Option<String>,
    pub object: Option<String>,
    pub purpose: Option<String>,
    pub channel: Option<String>,
    pub rule: Option<String>,
    pub outcome: Option<String>,
}

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub person_id: Option<PersonId>,
    /// `user:ID`, `system`, `data_subject` or `anonymous`.
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    pub since: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
    /// Entries with a smaller `seq` than this (the cursor).
    pub before_seq: Option<i64>,
    pub limit: usize,
}

struct Stamped {
    at: i64,
    entry: AuditEntry,
}

enum Msg {
    Entry(Stamped),
    Flush(mpsc::SyncSender<()>),
}

/// Hands entries to the background writer; joins it when the last store handle goes.
pub(crate) struct AuditSink {
    tx: Option<mpsc::Sender<Msg>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

/// The most entries the writer puts into one transaction.
const BATCH: usize = 4096;

/// How long the writer waits for more entries before it commits a batch.
const LINGER: std::time::Duration = std::time::Duration::from_millis(100);

impl AuditSink {
    pub(crate) fn start(db: Arc<Db>, keys: Arc<klar_crypto::Keyring>) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let worker = std::thread::Builder::new()
            .name("klar-audit".into())
            .spawn(move || writer(&db, &keys, &rx))
            .map_err(|e| StoreError::Config(format!("cannot start the audit writer: {e}")))?;
        Ok(Self {
            tx: Some(tx),
            worker: Some(worker),
        })
    }

    fn send(&self, m: Msg) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(m).is_ok())
    }

    /// Ends the writer's lingering now (after a flush request).
    fn wake(&self) {
        if let Some(w) = &self.worker {
            w.thread().unpark();
        }
    }
}

impl Drop for AuditSink {
    fn drop(&mut self) {
        // Closing the channel lets the writer commit what is queued and stop.
        self.tx.take();
        self.wake();
        if let Some(h) = self.worker.take() {
            let _ = h.join();
        }
    }
}

fn writer(db: &Db, keys: &klar_crypto::Keyring, rx: &mpsc::Receiver<Msg>) {
    let mut pending: Vec<Stamped> = Vec::new();
    let mut waiters: Vec<mpsc::SyncSender<()>> = Vec::new();
    let mut closed = false;
    while !closed {
        match rx.recv() {
            Ok(Msg::Entry(s)) => pending.push(s),
            Ok(Msg::Flush(w)) => waiters.push(w),
            Err(_) => closed = true,
        }
        // Linger a moment so that one transaction carries many entries, and so that the
        // request threads sending them never have to wake this thread (a wake-up per entry
        // costs more than the insert). A flush request skips the wait.
        if !closed && waiters.is_empty() {
            // A flush or the closing store unparks the thread early.
            std::thread::park_timeout(LINGER);
        }
        // Whatever is queued by now goes into the same batch.
        while pending.len() < BATCH {
            match rx.try_recv() {
                Ok(Msg::Entry(s)) => pending.push(s),
                Ok(Msg::Flush(w)) => waiters.push(w),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if !pending.is_empty() {
            match write_batch(db, keys, &pending) {
                Ok(()) => pending.clear(),
                Err(e) => {
                    // Kept and retried with the next batch; the error names no data.
                    tracing::error!(entries = pending.len(), error = %e, "audit entries not written yet");
                    if closed {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        }
        if pending.is_empty() {
            for w in waiters.drain(..) {
                let _ = w.send(());
            }
        }
    }
}

/// Rows per INSERT statement: one statement per row costs more than the row.
const ROWS_PER_INSERT: usize = 64;

/// Checkpoint the chain head every this many entries.
pub const CHECKPOINT_EVERY: i64 = 10_000;

/// The fields an entry's hash covers, as stored.
struct Fields<'a> {
    seq: i64,
    at: i64,
    actor: &'a str,
    action: &'a str,
    person_id: Option<&'a str>,
    object: Option<&'a str>,
    purpose: Option<&'a str>,
    channel: Option<&'a str>,
    rule: Option<&'a str>,
    outcome: Option<&'a str>,
}

/// SHA-256 over the predecessor's hash and every field, each length-prefixed (absent fields
/// are marked as such), so no two different entries hash alike.
fn entry_hash(prev: &[u8], f: &Fields<'_>) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"klar-audit-v1");
    h.update(prev);
    h.update(f.seq.to_be_bytes());
    h.update(f.at.to_be_bytes());
    for v in [
        Some(f.actor),
        Some(f.action),
        f.person_id,
        f.object,
        f.purpose,
        f.channel,
        f.rule,
        f.outcome,
    ] {
        match v {
            None => h.update(u32::MAX.to_be_bytes()),
            Some(s) => {
                h.update((s.len() as u32).to_be_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    h.finalize().to_vec()
}

/// The hash before the first entry.
const GENESIS: [u8; 32] = [0; 32];

/// The chain head: the last entry's sequence number and hash.
fn head(c: &crate::db::Conn<'_>) -> Result<(i64, Vec<u8>)> {
    Ok(
        match c.query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )? {
            None => (0, GENESIS.to_vec()),
            Some(r) => (
                r.get(0)?,
                r.get::<Option<Vec<u8>>>(1)?
                    .ok_or_else(|| StoreError::Corrupt("audit entry without hash".into()))?,
            ),
        },
    )
}

fn checkpoint_message(seq: i64, head: &[u8]) -> Vec<u8> {
    let mut m = b"klar-audit-checkpoint-v1".to_vec();
    m.extend(seq.to_be_bytes());
    m.extend(head);
    m
}

fn write_checkpoint(
    c: &crate::db::Conn<'_>,
    keys: &klar_crypto::Keyring,
    seq: i64,
    head: &[u8],
    at: i64,
) -> Result<()> {
    let sig = keys.sign_audit(&checkpoint_message(seq, head));
    c.execute(
        "INSERT INTO audit_checkpoints (seq, head_hash, signature, public_key, signed_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (seq) DO NOTHING",
        &[
            Val::Int(seq),
            Val::Blob(head.to_vec()),
            Val::Blob(sig.to_vec()),
            Val::Blob(keys.audit_verifying_key().to_vec()),
            Val::Int(at),
        ],
    )?;
    Ok(())
}

fn write_batch(db: &Db, keys: &klar_crypto::Keyring, batch: &[Stamped]) -> Result<()> {
    db.write(|c| {
        let (mut seq, mut prev) = head(c)?;
        for chunk in batch.chunks(ROWS_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO audit_log (seq, at, actor, action, person_id, object, purpose, channel, rule, outcome, prev_hash, hash) VALUES ",
            );
            let mut params: Vec<Val> = Vec::with_capacity(chunk.len() * 12);
            for (i, s) in chunk.iter().enumerate() {
                seq += 1;
                let e = &s.entry;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("({})", crate::db::Conn::placeholders(i * 12 + 1, 12)));
                let actor = e.actor.as_string();
                let person = e.person_id.map(|p| p.to_string());
                let hash = entry_hash(
                    &prev,
                    &Fields {
                        seq,
                        at: s.at,
                        actor: &actor,
                        action: e.action.as_str(),
                        person_id: person.as_deref(),
                        object: e.object.as_deref(),
                        purpose: e.purpose.as_deref(),
                        channel: e.channel.map(|c| c.as_str()),
                        rule: e.rule.as_deref(),
                        outcome: e.outcome.as_deref(),
                    },
                );
                params.extend([
                    Val::Int(seq),
                    Val::Int(s.at),
                    actor.into(),
                    e.action.as_str().into(),
                    person.into(),
                    e.object.clone().into(),
                    e.purpose.clone().into(),
                    e.channel.map(|c| c.as_str()).into(),
                    e.rule.clone().into(),
                    e.outcome.clone().into(),
                    Val::Blob(prev.clone()),
                    Val::Blob(hash.clone()),
                ]);
                if seq % CHECKPOINT_EVERY == 0 {
                    write_checkpoint(c, keys, seq, &hash, s.at)?;
                }
                prev = hash;
            }
            c.execute(&sql, &params)?;
        }
        Ok(())
    })
}

/// Chains entries written before the chain existed (run once, when the store opens).
pub(crate) fn backfill_chain(db: &Db) -> Result<usize> {
    // Unchained entries can only be the oldest ones (written before the migration, chained
    // in one transaction here before anything new is written), so the first entry tells.
    let pending = db.read(|c| {
        Ok(
            c.query_opt("SELECT hash FROM audit_log ORDER BY seq LIMIT 1", &[])?
                .map(|r| r.get::<Option<Vec<u8>>>(0))
                .transpose()?
                .is_some_and(|h| h.is_none()),
        )
    })?;
    if !pending {
        return Ok(0);
    }
    db.write(|c| {
        let mut prev = GENESIS.to_vec();
        let rows = c.query(
            "SELECT seq, at, actor, action, person_id, object, purpose, channel, rule, outcome, hash FROM audit_log ORDER BY seq",
            &[],
        )?;
        let mut n = 0;
        for r in &rows {
            let stored: Option<Vec<u8>> = r.get(10)?;
            let f = read_fields(r)?;
            let hash = match stored {
                Some(h) => h,
                None => {
                    let h = entry_hash(&prev, &f.as_fields());
                    c.execute(
                        "UPDATE audit_log SET prev_hash = $2, hash = $3 WHERE seq = $1",
                        &[Val::Int(f.seq), Val::Blob(prev.clone()), Val::Blob(h.clone())],
                    )?;
                    n += 1;
                    h
                }
            };
            prev = hash;
        }
        Ok(n)
    })
}

/// An entry's fields as read back.
struct Owned {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    person_id: Option<String>,
    object: Option<String>,
    purpose: Option<String>,
    channel: Option<String>,
    rule: Option<String>,
    outcome: Option<String>,
}

impl Owned {
    fn as_fields(&self) -> Fields<'_> {
        Fields {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            person_id: self.person_id.as_deref(),
            object: self.object.as_deref(),
            purpose: self.purpose.as_deref(),
            channel: self.channel.as_deref(),
            rule: self.rule.as_deref(),
            outcome: self.outcome.as_deref(),
        }
    }
}

fn read_fields(r: &crate::db::Row) -> Result<Owned> {
    Ok(Owned {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        person_id: r.get(4)?,
        object: r.get(5)?,
        purpose: r.get(6)?,
        channel: r.get(7)?,
        rule: r.get(8)?,
        outcome: r.get(9)?,
    })
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub entries: u64,
    pub checkpoints: u64,
    /// The first break: the entry's sequence number and what is wrong.
    pub broken: Option<(i64, String)>,
}

impl Store {
    /// Records an entry. Never blocks on the database; see [`Store::audit_flush`].
    pub fn audit(&self, entry: AuditEntry) {
        let at = ms(self.now());
        if !self.audit.send(Msg::Entry(Stamped { at, entry })) {
            tracing::error!("the audit writer is gone; an entry was lost");
        }
    }

    /// Records several entries (one per person of a list).
    pub fn audit_all(&self, entries: impl IntoIterator<Item = AuditEntry>) {
        for e in entries {
            self.audit(e);
        }
    }

    /// Waits until every entry recorded before this call is committed.
    pub fn audit_flush(&self) -> Result<()> {
        let (tx, rx) = mpsc::sync_channel(1);
        if !self.audit.send(Msg::Flush(tx)) {
            return Err(StoreError::Config("the audit writer is gone".into()));
        }
        self.audit.wake();
        rx.recv()
            .map_err(|_| StoreError::Config("the audit writer stopped".into()))
    }

    /// Entries matching `f`, newest first.
    pub fn audit_entries(&self, f: &AuditFilter) -> Result<Page<AuditRecord>> {
        self.audit_flush()?;
        let mut sql = String::from(
            "SELECT seq, at, actor, action, person_id, object, purpose, channel, rule, outcome FROM audit_log WHERE 1 = 1",
        );
        let mut params: Vec<Val> = Vec::new();
        let mut cond = |sql: &mut String, col: &str, op: &str, v: Val| {
            params.push(v);
            sql.push_str(&format!(" AND {col} {op} ${}", params.len()));
        };
        if let Some(p) = f.person_id {
            cond(&mut sql, "person_id", "=", p.to_string().into());
        }
        if let Some(a) = &f.actor {
            cond(&mut sql, "actor", "=", a.as_str().into());
        }
        if let Some(a) = f.action {
            cond(&mut sql, "action", "=", a.as_str().into());
        }
        if let Some(t) = f.since {
            cond(&mut sql, "at", ">=", Val::Int(ms(t)));
        }
        if let Some(t) = f.until {
            cond(&mut sql, "at", "<", Val::Int(ms(t)));
        }
        if let Some(s) = f.before_seq {
            cond(&mut sql, "seq", "<", Val::Int(s));
        }
        let limit = f.limit.clamp(1, 1000);
        params.push(Val::Int(limit as i64 + 1));
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", params.len()));
        self.db.read(|c| {
            let rows = c.query(&sql, &params)?;
            let more = rows.len() > limit;
            let items = rows
                .iter()
                .take(limit)
                .map(|r| {
                    Ok(AuditRecord {
                        seq: r.get(0)?,
                        at: from_ms(r.get(1)?)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        person_id: r.get(4)?,
                        object: r.get(5)?,
                        purpose: r.get(6)?,
                        channel: r.get(7)?,
                        rule: r.get(8)?,
                        outcome: r.get(9)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let next_cursor = if more {
                items
                    .last()
                    .map(|x| crate::cursor::encode(&x.seq.to_string()))
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
    }
}

impl Store {
    /// Signs the current chain head now (also done every [`CHECKPOINT_EVERY`] entries).
    pub fn audit_checkpoint(&self) -> Result<Option<i64>> {
        self.audit_flush()?;
        let at = ms(self.now());
        self.db.write(|c| {
            let (seq, hash) = head(c)?;
            if seq == 0 {
                return Ok(None);
            }
            write_checkpoint(c, &self.keys, seq, &hash, at)?;
            Ok(Some(seq))
        })
    }

    /// The hex public key that verifies this installation's checkpoints.
    pub fn audit_public_key(&self) -> String {
        self.keys
            .audit_verifying_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Walks the whole chain: every entry's hash, its link to the predecessor, the sequence
    /// without gaps, and every checkpoint's signature and head. Reports the first break.
    pub fn verify_audit(&self) -> Result<ChainReport> {
        self.audit_flush()?;
        let public = self.keys.audit_verifying_key();
        let mut report = ChainReport {
            entries: 0,
            checkpoints: 0,
            broken: None,
        };
        let mut prev = GENESIS.to_vec();
        let mut expected = 1i64;
        let mut after = 0i64;
        let mut hashes: std::collections::HashMap<i64, Vec<u8>> = std::collections::HashMap::new();
        let checkpoints = self.db.read(|c| {
            c.query(
                "SELECT seq, head_hash, signature, public_key FROM audit_checkpoints ORDER BY seq",
                &[],
            )
        })?;
        let wanted: std::collections::HashSet<i64> = checkpoints
            .iter()
            .map(|r| r.get::<i64>(0))
            .collect::<Result<_>>()?;
        'walk: loop {
            let rows = self.db.read(|c| {
                c.query(
                    "SELECT seq, at, actor, action, person_id, object, purpose, channel, rule, outcome, prev_hash, hash \
                     FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000",
                    &[Val::Int(after)],
                )
            })?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let f = read_fields(r)?;
                let stored_prev: Option<Vec<u8>> = r.get(10)?;
                let stored: Option<Vec<u8>> = r.get(11)?;
                after = f.seq;
                report.entries += 1;
                if f.seq != expected {
                    report.broken =
                        Some((expected, format!("entry {expected} is missing (removed)")));
                    break 'walk;
                }
                if stored_prev.as_deref() != Some(prev.as_slice()) {
                    report.broken = Some((
                        f.seq,
                        format!(
                            "entry {} does not follow its predecessor (removed or reordered entries)",
                            f.seq
                        ),
                    ));
                    break 'walk;
                }
                let h = entry_hash(&prev, &f.as_fields());
                if stored.as_deref() != Some(h.as_slice()) {
                    report.broken = Some((f.seq, format!("entry {} was changed", f.seq)));
                    break 'walk;
                }
                if wanted.contains(&f.seq) {
                    hashes.insert(f.seq, h.clone());
                }
                prev = h;
                expected += 1;
            }
        }
        if report.broken.is_some() {
            return Ok(report);
        }
        for r in &checkpoints {
            let seq: i64 = r.get(0)?;
            let head_hash: Vec<u8> = r.get(1)?;
            let sig: Vec<u8> = r.get(2)?;
            let key: Vec<u8> = r.get(3)?;
            report.checkpoints += 1;
            if key.as_slice() != public.as_slice()
                || !klar_crypto::verify_audit_signature(
                    &public,
                    &checkpoint_message(seq, &head_hash),
                    &sig,
                )
            {
                report.broken = Some((
                    seq,
                    format!("the checkpoint at entry {seq} is not signed by this installation"),
                ));
                return Ok(report);
            }
            match hashes.get(&seq) {
                None => {
                    report.broken = Some((
                        seq,
                        format!(
                            "entry {seq}, signed in a checkpoint, is missing (entries were removed)"
                        ),
                    ));
                    return Ok(report);
                }
                Some(h) if h != &head_hash => {
                    report.broken = Some((
                        seq,
                        format!("entry {seq} differs from the signed checkpoint"),
                    ));
                    return Ok(report);
                }
                Some(_) => {}
            }
        }
        Ok(report)
    }

    /// Entries of a period as JSON lines (with their hashes), followed by the checkpoints
    /// that sign a head inside it, so the range can be verified elsewhere.
    pub fn export_audit(
        &self,
        since: Option<jiff::Timestamp>,
        until: Option<jiff::Timestamp>,
        out: &mut dyn std::io::Write,
    ) -> Result<u64> {
        self.audit_flush()?;
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let lo = since.map_or(i64::MIN, ms);
        let hi = until.map_or(i64::MAX, ms);
        let mut after = 0i64;
        let mut n = 0u64;
        let (mut first, mut last) = (None, None);
        loop {
            let rows = self.db.read(|c| {
                c.query(
                    "SELECT seq, at, actor, action, person_id, object, purpose, channel, rule, outcome, prev_hash, hash \
                     FROM audit_log WHERE seq > $1 AND at >= $2 AND at < $3 ORDER BY seq LIMIT 5000",
                    &[Val::Int(after), Val::Int(lo), Val::Int(hi)],
                )
            })?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let f = read_fields(r)?;
                after = f.seq;
                first.get_or_insert(f.seq);
                last = Some(f.seq);
                let line = serde_json::json!({
                    "type": "entry",
                    "seq": f.seq,
                    "at": from_ms(f.at)?.to_string(),
                    "at_ms": f.at,
                    "actor": f.actor,
                    "action": f.action,
                    "person_id": f.person_id,
                    "object": f.object,
                    "purpose": f.purpose,
                    "channel": f.channel,
                    "rule": f.rule,
                    "outcome": f.outcome,
                    "prev_hash": hex(&r.get::<Option<Vec<u8>>>(10)?.unwrap_or_default()),
                    "hash": hex(&r.get::<Option<Vec<u8>>>(11)?.unwrap_or_default()),
                });
                writeln!(out, "{line}")
                    .map_err(|e| StoreError::Config(format!("cannot write the export: {e}")))?;
                n += 1;
            }
        }
        if let (Some(a), Some(b)) = (first, last) {
            let cps = self.db.read(|c| {
                c.query(
                    "SELECT seq, head_hash, signature, public_key, signed_at FROM audit_checkpoints WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
                    &[Val::Int(a), Val::Int(b)],
                )
            })?;
            for r in &cps {
                let line = serde_json::json!({
                    "type": "checkpoint",
                    "seq": r.get::<i64>(0)?,
                    "head_hash": hex(&r.get::<Vec<u8>>(1)?),
                    "signature": hex(&r.get::<Vec<u8>>(2)?),
                    "public_key": hex(&r.get::<Vec<u8>>(3)?),
                    "signed_at": from_ms(r.get(4)?)?.to_string(),
                });
                writeln!(out, "{line}")
                    .map_err(|e| StoreError::Config(format!("cannot write the export: {e}")))?;
            }
        }
        Ok(n)
    }
}
