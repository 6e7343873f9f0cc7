//! Persons: the metadata in clear, every personal field encrypted under the person's
//! own data key, and blind indexes for lookups.

use crate::audit::{AuditAction, AuditEntry};
use crate::db::{Conn, Row, Val};
use crate::error::{Result, StoreError};
use crate::{Actor, Page, Store, from_ms, id, ms, opt_id};
use klar_crypto::{BlindKind, Context, DataKey, Keyring};
use klar_domain::email::{Email, looks_like_email};
use klar_domain::error::Errors;
use klar_domain::ids::{OrganizationId, PersonId, TagId, UserId};
use klar_domain::phone::{Phone, looks_like_phone};
use klar_domain::records::{Person, PersonKind, PersonalData, RecordType, Stamp};
use klar_domain::search::{MIN_PREFIX, name_prefixes, query_tokens};

const KEY_VERSION: u32 = 1;

/// What a new person is made of; every value already parsed.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub kind: PersonKind,
    pub organization_id: Option<OrganizationId>,
    pub owner_id: Option<UserId>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub personal: PersonalData,
}

/// The editable part of a person, handed to the closure of [`Store::update_person`].
#[derive(Debug, Clone)]
pub struct PersonEdit {
    pub kind: PersonKind,
    pub organization_id: Option<OrganizationId>,
    pub owner_id: Option<UserId>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub personal: PersonalData,
}

#[derive(Debug, Clone, Default)]
pub struct PersonFilter {
    /// Name prefix(es), an email address or a phone number.
    pub q: Option<String>,
    pub tag: Option<String>,
    pub owner: Option<UserId>,
    pub organization: Option<OrganizationId>,
    pub kind: Option<PersonKind>,
    pub cursor: Option<String>,
    pub limit: usize,
}

macro_rules! person_columns {
    () => {
        "p.id, p.kind, p.organization_id, p.owner_id, p.source, p.personal, p.created_at, p.created_by, \
         p.updated_at, p.updated_by, k.wrapped_key, p.tags, k.kek_generation"
    };
}
const COLUMNS: &str = person_columns!();
const SELECT: &str = concat!(
    "SELECT ",
    person_columns!(),
    " FROM persons p JOIN person_keys k ON k.person_id = p.id"
);

fn personal_ctx(id: &str) -> Context<'_> {
    Context {
        table: "persons",
        column: "personal",
        row_id: id,
        key_version: KEY_VERSION,
    }
}

pub(crate) fn tag_norm(t: &str) -> String {
    t.trim().to_lowercase()
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub fn create_person(&self, actor: Actor, new: NewPerson) -> Result<Person> {
        let now = self.now();
        let ids = self.create_persons(actor, vec![new.clone()])?;
        let pid = ids.first().copied().ok_or(StoreError::NotFound)?;
        tracing::info!(person_id = %pid, "person created");
        Ok(Person {
            id: pid,
            kind: new.kind,
            organization_id: new.organization_id,
            owner_id: new.owner_id,
            source: new.source,
            tags: sorted_dedup_tags(new.tags),
            personal: new.personal,
            stamp: Stamp {
                created_at: now,
                created_by: actor.user_id,
                updated_at: now,
                updated_by: actor.user_id,
            },
        })
    }

    /// Creates several persons in one transaction (imports, demo data): all or none.
    #[tracing::instrument(skip_all, fields(count = news.len()))]
    pub fn create_persons(&self, actor: Actor, news: Vec<NewPerson>) -> Result<Vec<PersonId>> {
        let now = self.now();
        let mut rng = rand::rngs::OsRng;
        let mut prepared = Vec::with_capacity(news.len());
        for new in news {
            let pid = PersonId::from_uuid(self.next_id());
            let sid = pid.to_string();
            let dek = DataKey::generate(&mut rng);
            let sealed = seal_personal(&dek, &sid, &new.personal)?;
            let lookups = lookups(&self.keys, &new.personal);
            prepared.push((pid, sid, dek, sealed, lookups, new));
        }
        self.db.write(|c| {
            // The current key-encryption key generation, read in the writing transaction: a
            // rotation that made a new one current committed before, or re-wraps this key after.
            let kek = self.keks.get(crate::keys::current_generation(c)?)?;
            for (_, sid, dek, sealed, lookups, new) in &prepared {
                check_refs(c, new.organization_id, new.owner_id)?;
                crate::custom_fields::check_values(c, RecordType::Person, &new.personal.custom)?;
                let wrapped = kek.wrap(dek, sid, &mut rng)?;
                c.execute(
                    "INSERT INTO person_keys (person_id, key_version, wrapped_key, created_at, kek_generation) VALUES ($1, $2, $3, $4, $5)",
                    &[sid.as_str().into(), Val::Int(KEY_VERSION.into()), Val::Blob(wrapped.bytes), Val::Int(ms(now)), Val::Int(wrapped.generation.into())],
                )?;
                c.execute(
                    "INSERT INTO persons (id, kind, organization_id, owner_id, source, personal, created_at, created_by, updated_at, updated_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $8)",
                    &[
                        sid.as_str().into(),
                        new.kind.as_str().into(),
                        new.organization_id.map(|o| o.to_string()).into(),
                        new.owner_id.map(|o| o.to_string()).into(),
                        new.source.clone().into(),
                        Val::Blob(sealed.clone()),
                        Val::Int(ms(now)),
                        actor.user_id.map(|u| u.to_string()).into(),
                    ],
                )?;
                write_lookups(c, sid, lookups)?;
                set_tags(c, sid, &new.tags, now)?;
            }
            Ok(())
        })?;
        let ids: Vec<PersonId> = prepared.into_iter().map(|p| p.0).collect();
        self.audit_all(
            ids.iter()
                .map(|pid| AuditEntry::new(actor, AuditAction::PersonCreate).person(*pid)),
        );
        Ok(ids)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(person_id = %pid))]
    pub fn get_person(&self, pid: PersonId) -> Result<Person> {
        self.db.read(|c| {
            let row = c.query_one(
                &format!("{SELECT} WHERE p.id = $1"),
                &[pid.to_string().into()],
            )?;
            decode_person(self, &row)
        })
    }

    /// The kind of a person (consumer or business) without decrypting her record.
    pub fn person_kind(&self, pid: PersonId) -> Result<PersonKind> {
        self.db.read(|c| {
            let r = c.query_one(
                "SELECT kind FROM persons WHERE id = $1",
                &[pid.to_string().into()],
            )?;
            PersonKind::parse(&r.get::<String>(0)?)
                .map_err(|_| StoreError::Corrupt("person kind".into()))
        })
    }

    /// Several persons at once, in one query (unknown ids are left out).
    pub fn persons_by_ids(&self, ids: &[PersonId]) -> Result<Vec<Person>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let params: Vec<Val> = ids.iter().map(|i| Val::Text(i.to_string())).collect();
        self.db.read(|c| {
            c.query(
                &format!(
                    "{SELECT} WHERE p.id IN ({})",
                    Conn::placeholders(1, ids.len())
                ),
                &params,
            )?
            .iter()
            .map(|r| decode_person(self, r))
            .collect()
        })
    }

    /// Changes a person in one transaction: the closure sees the current values and
    /// edits them; the result is validated, re-encrypted and re-indexed.
    #[tracing::instrument(skip_all, fields(person_id = %pid))]
    pub fn update_person(
        &self,
        actor: Actor,
        pid: PersonId,
        edit: impl FnOnce(&mut PersonEdit) -> std::result::Result<(), klar_domain::DomainError>,
    ) -> Result<Person> {
        let now = self.now();
        let sid = pid.to_string();
        let updated = self.db.write(|c| {
            let row = c.query_one(&format!("{SELECT} WHERE p.id = $1"), &[sid.as_str().into()])?;
            let current = decode_person(self, &row)?;
            let mut e = PersonEdit {
                kind: current.kind,
                organization_id: current.organization_id,
                owner_id: current.owner_id,
                source: current.source.clone(),
                tags: current.tags.clone(),
                personal: current.personal.clone(),
            };
            edit(&mut e)?;
            check_refs(c, e.organization_id, e.owner_id)?;
            crate::custom_fields::check_values(c, RecordType::Person, &e.personal.custom)?;
            let dek = self
                .keks
                .unwrap(&crate::keys::wrapped_at(&row, 10, 12)?, &sid)?;
            let sealed = seal_personal(&dek, &sid, &e.personal)?;
            c.execute(
                "UPDATE persons SET kind = $2, organization_id = $3, owner_id = $4, source = $5, personal = $6, \
                 updated_at = $7, updated_by = $8 WHERE id = $1",
                &[
                    sid.as_str().into(),
                    e.kind.as_str().into(),
                    e.organization_id.map(|o| o.to_string()).into(),
                    e.owner_id.map(|o| o.to_string()).into(),
                    e.source.clone().into(),
                    Val::Blob(sealed),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            if e.personal != current.personal {
                c.execute("DELETE FROM person_lookup WHERE person_id = $1", &[sid.as_str().into()])?;
                write_lookups(c, &sid, &lookups(&self.keys, &e.personal))?;
            }
            if e.tags != current.tags {
                c.execute("DELETE FROM person_tags WHERE person_id = $1", &[sid.as_str().into()])?;
                set_tags(c, &sid, &e.tags, now)?;
            }
            tracing::info!("person updated");
            Ok(Person {
                id: pid,
                kind: e.kind,
                organization_id: e.organization_id,
                owner_id: e.owner_id,
                source: e.source,
                tags: sorted_dedup_tags(e.tags),
                personal: e.personal,
                stamp: Stamp {
                    created_at: current.stamp.created_at,
                    created_by: current.stamp.created_by,
                    updated_at: now,
                    updated_by: actor.user_id,
                },
            })
        })?;
        self.audit(AuditEntry::new(actor, AuditAction::PersonUpdate).person(pid));
        Ok(updated)
    }

    /// Erases a person (Art. 17), in one transaction: every row that holds her data, her
    /// ciphertext, her blind-index entries or a reference to her (activities about her,
    /// the consent ledger and double opt-in requests, the grounds, objections, restriction,
    /// tags only she carried, the idempotency records of what was created about her), and
    /// last her data key (crypto-shredding: any copy of her ciphertext elsewhere becomes
    /// unreadable). Deals stay, without her. What is kept: the audit trail (ids only), the
    /// suppression list (keyed hashes) and an id-only tombstone in the erasure journal.
    /// Then the WAL is checkpointed and truncated, so that with `secure_delete` the freed
    /// pages are overwritten in the database file and no old frame survives in the WAL.
    ///
    /// `Erased` when she was erased before (nothing changes), `NotFound` for an id that
    /// never named a person.
    #[tracing::instrument(skip_all, fields(person_id = %pid))]
    pub fn erase_person(&self, actor: Actor, pid: PersonId) -> Result<ErasureOutcome> {
        let sid = pid.to_string();
        let now = self.now();
        let outcome = self.db.write(|c| {
            let p = || -> Vec<Val> { vec![sid.as_str().into()] };
            if c.query_opt("SELECT id FROM persons WHERE id = $1", &p())?
                .is_none()
            {
                let erased = c
                    .query_opt("SELECT person_id FROM erasures WHERE person_id = $1", &p())?
                    .is_some();
                return Err(if erased {
                    StoreError::Erased
                } else {
                    StoreError::NotFound
                });
            }
            // What was created about her with an Idempotency-Key: the client's key and the
            // hash of a body that held her data go with her.
            c.execute(
                "DELETE FROM idempotency_keys WHERE resource_id = $1 \
                 OR resource_id IN (SELECT id FROM activities WHERE person_id = $1) \
                 OR resource_id IN (SELECT id FROM consent_events WHERE person_id = $1) \
                 OR resource_id IN (SELECT id FROM objections WHERE person_id = $1) \
                 OR resource_id IN (SELECT id FROM presumed_consents WHERE person_id = $1)",
                &p(),
            )?;
            // Art. 17(3)(b): the emails of a concluded (won) deal are business letters the
            // company must keep for six years (§257 HGB). They stay, re-sealed under the
            // installation key, without her id, hidden from every view until the period
            // ends; everything else about her goes.
            let outcome = retain_letters(self, c, &sid)?;
            // Every table that names her, explicitly (not by relying on ON DELETE CASCADE,
            // so the list is visible here and checked by the erasure tests).
            for table in [
                "access_grants",
                "activities",
                "campaign_outbox",
                "campaign_events",
                "mail_tokens",
                "consent_events",
                "doi_requests",
                "presumed_consents",
                "existing_customer_facts",
                "advertising_markers",
                "objections",
                "restrictions",
                "legal_holds",
                "art14_notices",
                "person_lookup",
            ] {
                c.execute(&format!("DELETE FROM {table} WHERE person_id = $1"), &p())?;
            }
            c.execute(
                "UPDATE deals SET person_id = NULL WHERE person_id = $1",
                &p(),
            )?;
            let her_tags: Vec<String> = c
                .query("SELECT tag_id FROM person_tags WHERE person_id = $1", &p())?
                .iter()
                .map(|r| r.get(0))
                .collect::<Result<_>>()?;
            c.execute("DELETE FROM person_tags WHERE person_id = $1", &p())?;
            // A tag no one else carries may describe her: it goes too.
            for tag in &her_tags {
                c.execute(
                    "DELETE FROM tags WHERE id = $1 AND NOT EXISTS \
                     (SELECT 1 FROM person_tags pt WHERE pt.tag_id = $1)",
                    &[tag.as_str().into()],
                )?;
            }
            c.execute("DELETE FROM persons WHERE id = $1", &p())?;
            // Last, the key: with secure_delete on, its bytes are overwritten on disk.
            c.execute("DELETE FROM person_keys WHERE person_id = $1", &p())?;
            c.execute(
                "INSERT INTO erasures (person_id, erased_at, actor) VALUES ($1, $2, $3)",
                &[
                    sid.as_str().into(),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok(outcome)
        })?;
        tracing::info!(retained_letters = outcome.retained_letters, "person erased");
        // The erasure is committed; the journal outside the database lets a restore replay it
        // (the database's own `erasures` table is the second copy).
        if let Err(e) = self.journal_erasure(&sid, ms(now)) {
            tracing::error!(error = %e, "erasure not written to the journal file");
        }
        self.audit(AuditEntry::new(actor, AuditAction::PersonErase).person(pid));
        // The erasure is committed; if a reader still holds an old snapshot, the WAL is
        // truncated by the next checkpoint instead (after the next erasure, or a backup).
        if let Err(e) = self.db.checkpoint() {
            tracing::warn!(error = %e, "WAL not truncated after an erasure");
        }
        Ok(outcome)
    }

    /// When a person was erased, from the erasure journal; `None` when this id was never
    /// erased.
    pub fn erased_at(&self, pid: PersonId) -> Result<Option<jiff::Timestamp>> {
        self.db.read(|c| {
            c.query_opt(
                "SELECT erased_at FROM erasures WHERE person_id = $1",
                &[pid.to_string().into()],
            )?
            .map(|r| from_ms(r.get(0)?))
            .transpose()
        })
    }

    #[tracing::instrument(skip_all, fields(limit = f.limit))]
    pub fn list_persons(&self, f: &PersonFilter) -> Result<Page<Person>> {
        let limit = f.limit.clamp(1, 200);
        let mut params: Vec<Val> = Vec::new();
        // Without a search, persons are listed newest first. With one, the blind index of
        // the most selective query word drives the scan in person-id order (an index range,
        // stopping after one page); the other words are point lookups.
        let (mut sql, order_col) = match f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            None => (format!("{SELECT} WHERE 1 = 1"), "p.id"),
            Some(q) => {
                let Some((kind, hashes)) = self.query_hashes(q) else {
                    return Ok(Page {
                        items: vec![],
                        next_cursor: None,
                    });
                };
                params.push(kind.as_str().into());
                let mut sql = format!(
                    "SELECT {COLUMNS} FROM person_lookup l CROSS JOIN persons p CROSS JOIN person_keys k \
                     WHERE p.id = l.person_id AND k.person_id = p.id AND l.kind = $1"
                );
                for (i, h) in hashes.into_iter().enumerate() {
                    params.push(Val::Blob(h));
                    if i == 0 {
                        sql.push_str(&format!(" AND l.hash = ${}", params.len()));
                    } else {
                        sql.push_str(&format!(
                            " AND EXISTS (SELECT 1 FROM person_lookup l2 WHERE l2.kind = $1 AND l2.hash = ${} \
                             AND l2.person_id = l.person_id)",
                            params.len()
                        ));
                    }
                }
                (sql, "l.person_id")
            }
        };
        if let Some(org) = f.organization {
            params.push(org.to_string().into());
            sql.push_str(&format!(" AND p.organization_id = ${}", params.len()));
        }
        if let Some(owner) = f.owner {
            params.push(owner.to_string().into());
            sql.push_str(&format!(" AND p.owner_id = ${}", params.len()));
        }
        if let Some(kind) = f.kind {
            params.push(kind.as_str().into());
            sql.push_str(&format!(" AND p.kind = ${}", params.len()));
        }
        if let Some(tag) = &f.tag {
            params.push(tag_norm(tag).into());
            sql.push_str(&format!(
                " AND p.id IN (SELECT pt.person_id FROM person_tags pt JOIN tags t ON t.id = pt.tag_id WHERE t.name_norm = ${})",
                params.len()
            ));
        }
        crate::fetch_page::<_, PersonId>(
            &self.db,
            sql,
            params,
            crate::Order::Id(order_col),
            f.cursor.as_deref(),
            limit,
            |r| decode_person(self, r),
            |x| x.id.to_string(),
        )
    }

    /// Persons whose primary or other email equals `email` (duplicate check).
    pub fn find_persons_by_email(&self, email: &Email) -> Result<Vec<PersonId>> {
        let h = self
            .keys
            .blind()
            .compute(BlindKind::Email, &email.normalized());
        self.db.read(|c| {
            c.query(
                "SELECT person_id FROM person_lookup WHERE kind = $1 AND hash = $2",
                &[BlindKind::Email.as_str().into(), Val::Blob(h)],
            )?
            .iter()
            .map(|r| id(r.get::<String>(0)?))
            .collect()
        })
    }

    pub fn count_persons(&self) -> Result<i64> {
        self.db
            .read(|c| c.query_one("SELECT COUNT(*) FROM persons", &[])?.get(0))
    }

    /// All tag names in use, sorted.
    pub fn list_tags(&self) -> Result<Vec<String>> {
        self.db.read(|c| {
            c.query("SELECT name FROM tags ORDER BY name_norm", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect()
        })
    }

    fn query_hashes(&self, q: &str) -> Option<(BlindKind, Vec<Vec<u8>>)> {
        let b = self.keys.blind();
        if looks_like_email(q) {
            let e = Email::parse(q).ok()?;
            return Some((
                BlindKind::Email,
                vec![b.compute(BlindKind::Email, &e.normalized())],
            ));
        }
        if looks_like_phone(q) {
            let p = Phone::parse(q).ok()?;
            return Some((
                BlindKind::Phone,
                vec![b.compute(BlindKind::Phone, p.as_str())],
            ));
        }
        let mut toks: Vec<String> = query_tokens(q)
            .into_iter()
            .filter(|t| t.chars().count() >= MIN_PREFIX)
            .collect();
        // The longest prefix is the most selective: it drives the scan.
        toks.sort_by_key(|t| std::cmp::Reverse(t.chars().count()));
        let toks: Vec<Vec<u8>> = toks
            .iter()
            .map(|t| b.compute(BlindKind::NamePrefix, t))
            .collect();
        (!toks.is_empty()).then_some((BlindKind::NamePrefix, toks))
    }
}

fn sorted_dedup_tags(mut tags: Vec<String>) -> Vec<String> {
    tags.sort_by_key(|t| tag_norm(t));
    tags.dedup_by_key(|t| tag_norm(t));
    tags
}

fn seal_personal(dek: &DataKey, sid: &str, p: &PersonalData) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(p)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode person: {e}")))?;
    Ok(dek.seal(&personal_ctx(sid), &json, &mut rand::rngs::OsRng)?)
}

fn lookups(keys: &Keyring, p: &PersonalData) -> Vec<(BlindKind, Vec<u8>)> {
    let b = keys.blind();
    let mut out = Vec::new();
    for e in &p.emails {
        out.push((
            BlindKind::Email,
            b.compute(BlindKind::Email, &e.value.normalized()),
        ));
    }
    for ph in &p.phones {
        out.push((
            BlindKind::Phone,
            b.compute(BlindKind::Phone, ph.value.as_str()),
        ));
    }
    for pre in name_prefixes([p.first_name.as_str(), p.last_name.as_str()]) {
        out.push((
            BlindKind::NamePrefix,
            b.compute(BlindKind::NamePrefix, &pre),
        ));
    }
    out
}

fn write_lookups(c: &Conn<'_>, sid: &str, lookups: &[(BlindKind, Vec<u8>)]) -> Result<()> {
    for (kind, hash) in lookups {
        c.execute(
            "INSERT INTO person_lookup (kind, hash, person_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[kind.as_str().into(), Val::Blob(hash.clone()), sid.into()],
        )?;
    }
    Ok(())
}

fn set_tags(c: &Conn<'_>, sid: &str, tags: &[String], now: jiff::Timestamp) -> Result<()> {
    let names = sorted_dedup_tags(tags.iter().map(|t| t.trim().to_string()).collect());
    let json = serde_json::to_string(&names).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    c.execute(
        "UPDATE persons SET tags = $2 WHERE id = $1",
        &[sid.into(), json.into()],
    )?;
    for t in tags {
        let norm = tag_norm(t);
        let tid = TagId::generate(now, &mut rand::rngs::OsRng);
        c.execute(
            "INSERT INTO tags (id, name, name_norm) VALUES ($1, $2, $3) ON CONFLICT (name_norm) DO NOTHING",
            &[tid.to_string().into(), t.trim().into(), norm.as_str().into()],
        )?;
        c.execute(
            "INSERT INTO person_tags (person_id, tag_id) SELECT $1, id FROM tags WHERE name_norm = $2 ON CONFLICT DO NOTHING",
            &[sid.into(), norm.into()],
        )?;
    }
    Ok(())
}

pub(crate) fn check_refs(
    c: &Conn<'_>,
    org: Option<OrganizationId>,
    owner: Option<UserId>,
) -> Result<()> {
    let mut errs = Errors::new();
    if let Some(o) = org
        && c.query_opt(
            "SELECT id FROM organizations WHERE id = $1",
            &[o.to_string().into()],
        )?
        .is_none()
    {
        errs.push("organization_id", "names no existing organization");
    }
    if let Some(u) = owner
        && c.query_opt(
            "SELECT id FROM users WHERE id = $1 AND active = 1",
            &[u.to_string().into()],
        )?
        .is_none()
    {
        errs.push("owner_id", "names no active staff account");
    }
    Ok(errs.finish()?)
}

fn decode_person(store: &Store, r: &Row) -> Result<Person> {
    let sid: String = r.get(0)?;
    let dek = store
        .keks
        .unwrap(&crate::keys::wrapped_at(r, 10, 12)?, &sid)?;
    let plain = dek.open(&personal_ctx(&sid), &r.get::<Vec<u8>>(5)?)?;
    let personal: PersonalData = serde_json::from_slice(&plain)
        .map_err(|_| StoreError::Corrupt("person record does not decode".into()))?;
    Ok(Person {
        id: id(sid.clone())?,
        kind: PersonKind::parse(&r.get::<String>(1)?)
            .map_err(|_| StoreError::Corrupt("person kind".into()))?,
        organization_id: opt_id(r.get(2)?)?,
        owner_id: opt_id(r.get(3)?)?,
        source: r.get(4)?,
        tags: serde_json::from_str(&r.get::<String>(11)?)
            .map_err(|_| StoreError::Corrupt("person tags".into()))?,
        personal,
        stamp: Stamp {
            created_at: from_ms(r.get(6)?)?,
            created_by: opt_id(r.get(7)?)?,
            updated_at: from_ms(r.get(8)?)?,
            updated_by: opt_id(r.get(9)?)?,
        },
    })
}

/// What an erasure left behind for a legal retention duty (ids and dates only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErasureOutcome {
    /// Business letters kept, restricted, for §257 HGB.
    pub retained_letters: usize,
    /// Until when the last of them must be kept.
    pub retained_until: Option<jiff::Timestamp>,
}

/// Re-seals her emails linked to won deals under the installation key, detaches them from
/// her and marks them retained until the end of their period.
fn retain_letters(store: &Store, c: &Conn<'_>, sid: &str) -> Result<ErasureOutcome> {
    use klar_domain::retention::{BUSINESS_LETTERS, BUSINESS_LETTERS_YEARS, retain_until};
    let rows = c.query(
        "SELECT a.id, a.text, a.occurred_at, k.wrapped_key, k.kek_generation FROM activities a \
         JOIN deals d ON d.id = a.deal_id JOIN person_keys k ON k.person_id = a.person_id \
         WHERE a.person_id = $1 AND a.kind = 'email' AND d.status = 'won'",
        &[sid.into()],
    )?;
    let mut out = ErasureOutcome::default();
    for r in &rows {
        let id: String = r.get(0)?;
        let dek = store.keks.unwrap(&crate::keys::wrapped_at(r, 3, 4)?, sid)?;
        let plain = dek.open(&crate::activities::ctx(&id), &r.get::<Vec<u8>>(1)?)?;
        let resealed = store.keys.installation_key().seal(
            &crate::activities::ctx(&id),
            &plain,
            &mut rand::rngs::OsRng,
        )?;
        let until = retain_until(from_ms(r.get(2)?)?, BUSINESS_LETTERS_YEARS);
        c.execute(
            "UPDATE activities SET person_id = NULL, text = $2, retained_until = $3, retention_class = $4, \
             owner_id = NULL, created_by = NULL, updated_by = NULL WHERE id = $1",
            &[
                id.as_str().into(),
                Val::Blob(resealed),
                Val::Int(ms(until)),
                BUSINESS_LETTERS.into(),
            ],
        )?;
        out.retained_letters += 1;
        out.retained_until = out.retained_until.max(Some(until));
    }
    Ok(out)
}
