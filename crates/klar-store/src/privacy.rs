//! Objections, restriction and the suppression list: the facts about a person that the
//! policy gate needs besides her consents.

use crate::audit::{AuditAction, AuditEntry};
use crate::db::Val;
use crate::error::{Result, StoreError};
use crate::{Actor, Store, from_ms, ms};
use klar_crypto::BlindKind;
use klar_domain::ids::PersonId;
use klar_domain::policy::{Channel, Objection, ObjectionScope, PersonFacts};
use klar_domain::records::PersonalData;

/// An objection as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectionRecord {
    pub id: String,
    pub scope: String,
    pub source: String,
    pub actor: Option<String>,
    pub at: jiff::Timestamp,
}

/// An active restriction of processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    pub reason: String,
    pub since: jiff::Timestamp,
    pub actor: Option<String>,
}

impl Store {
    /// Records an objection. One to direct marketing also puts the person's current email
    /// addresses and phone numbers on the suppression list.
    pub fn record_objection(
        &self,
        actor: Actor,
        pid: PersonId,
        scope: &ObjectionScope,
        source: &str,
    ) -> Result<ObjectionRecord> {
        let now = self.now();
        let id = self.next_id().to_string();
        let sid = pid.to_string();
        let personal = if matches!(scope, ObjectionScope::DirectMarketing) {
            Some(self.get_person(pid)?.personal)
        } else {
            None
        };
        let hashes = personal
            .as_ref()
            .map(|p| self.address_hashes(p))
            .unwrap_or_default();
        self.db.write(|c| {
            if c.query_opt("SELECT id FROM persons WHERE id = $1", &[sid.as_str().into()])?.is_none() {
                return Err(StoreError::NotFound);
            }
            c.execute(
                "INSERT INTO objections (id, person_id, scope, source, actor, at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    id.as_str().into(),
                    sid.as_str().into(),
                    scope.as_str().into(),
                    source.into(),
                    actor.user_id.map(|u| u.to_string()).into(),
                    Val::Int(ms(now)),
                ],
            )?;
            for (kind, h) in &hashes {
                c.execute(
                    "INSERT INTO suppressions (kind, hash, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[kind.as_str().into(), Val::Blob(h.clone()), Val::Int(ms(now))],
                )?;
            }
            Ok(())
        })?;
        tracing::info!(person_id = %pid, scope = scope.as_str(), "objection recorded");
        self.audit(
            AuditEntry::new(actor, AuditAction::ObjectionRecord)
                .person(pid)
                .object("objection", &id)
                .purpose(scope.as_str()),
        );
        Ok(ObjectionRecord {
            id,
            scope: scope.as_str().into(),
            source: source.into(),
            actor: actor.user_id.map(|u| u.to_string()),
            at: now,
        })
    }

    pub fn objections(&self, pid: PersonId) -> Result<Vec<ObjectionRecord>> {
        self.db.read(|c| {
            c.query(
                "SELECT id, scope, source, actor, at FROM objections WHERE person_id = $1 ORDER BY at, id",
                &[pid.to_string().into()],
            )?
            .iter()
            .map(|r| Ok(ObjectionRecord { id: r.get(0)?, scope: r.get(1)?, source: r.get(2)?, actor: r.get(3)?, at: from_ms(r.get(4)?)? }))
            .collect()
        })
    }

    /// Turns the restriction of processing on (or changes its reason).
    pub fn restrict(&self, actor: Actor, pid: PersonId, reason: &str) -> Result<Restriction> {
        let now = self.now();
        let sid = pid.to_string();
        self.db.write(|c| {
            if c.query_opt("SELECT id FROM persons WHERE id = $1", &[sid.as_str().into()])?.is_none() {
                return Err(StoreError::NotFound);
            }
            c.execute(
                "INSERT INTO restrictions (person_id, reason, since, actor) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (person_id) DO UPDATE SET reason = $2",
                &[sid.as_str().into(), reason.into(), Val::Int(ms(now)), actor.user_id.map(|u| u.to_string()).into()],
            )?;
            Ok(())
        })?;
        tracing::info!(person_id = %pid, "restriction on");
        self.audit(AuditEntry::new(actor, AuditAction::RestrictionOn).person(pid));
        self.restriction(pid)?.ok_or(StoreError::NotFound)
    }

    /// Lifts the restriction; `false` when there was none.
    pub fn lift_restriction(&self, actor: Actor, pid: PersonId) -> Result<bool> {
        let n = self.db.write(|c| {
            c.execute(
                "DELETE FROM restrictions WHERE person_id = $1",
                &[pid.to_string().into()],
            )
        })?;
        if n > 0 {
            tracing::info!(person_id = %pid, "restriction lifted");
            self.audit(AuditEntry::new(actor, AuditAction::RestrictionOff).person(pid));
        }
        Ok(n > 0)
    }

    pub fn restriction(&self, pid: PersonId) -> Result<Option<Restriction>> {
        self.db.read(|c| {
            c.query_opt(
                "SELECT reason, since, actor FROM restrictions WHERE person_id = $1",
                &[pid.to_string().into()],
            )?
            .map(|r| {
                Ok(Restriction {
                    reason: r.get(0)?,
                    since: from_ms(r.get(1)?)?,
                    actor: r.get(2)?,
                })
            })
            .transpose()
        })
    }

    /// Everything the policy gate knows about a person today: kind, restriction, objections
    /// which of her addresses are on the suppression list, and her consent ledger.
    pub fn privacy_facts(&self, pid: PersonId) -> Result<PersonFacts> {
        self.privacy_facts_of(&self.get_person(pid)?)
    }

    /// The same for a person already read (no second decryption).
    pub fn privacy_facts_of(&self, person: &klar_domain::records::Person) -> Result<PersonFacts> {
        self.privacy_facts_for(person, None)
    }

    /// The facts for a message about goods of `goods_class` (the §7(3) UWG similarity
    /// check needs it; without one, the existing-customer exception does not apply).
    pub fn privacy_facts_for(
        &self,
        person: &klar_domain::records::Person,
        goods_class: Option<&str>,
    ) -> Result<PersonFacts> {
        let pid = person.id;
        let mut facts = PersonFacts::new(Some(person.kind));
        facts.restricted = self.restriction(pid)?.is_some();
        facts.objections = self
            .objections(pid)?
            .into_iter()
            .map(|o| {
                let scope = ObjectionScope::parse(&o.scope)
                    .map_err(|_| StoreError::Corrupt("objection scope".into()))?;
                Ok(Objection {
                    scope,
                    at: o.at,
                    overridden: false,
                })
            })
            .collect::<Result<_>>()?;
        facts.suppressed = self.suppressed_channels(&person.personal)?;
        facts.consents = self.consent_events(pid)?;
        facts.contract = self.contract_relationship(pid, person.kind, person.organization_id)?;
        facts.interest_assessments = self.assessed_purposes()?;
        facts.presumed_consent = self.presumed_consent(pid)?;
        facts.no_advertising_marker = self.has_advertising_marker(pid)?;
        let primary = person.personal.emails.first().map(|e| {
            self.keys
                .blind()
                .compute(BlindKind::Email, &e.value.normalized())
        });
        facts.existing_customer = self
            .existing_customer(pid)?
            .map(|r| r.for_message(primary.as_deref(), goods_class));
        Ok(facts)
    }

    /// The channels on which one of these addresses is suppressed.
    pub fn suppressed_channels(&self, personal: &PersonalData) -> Result<Vec<Channel>> {
        let hashes = self.address_hashes(personal);
        let mut out = Vec::new();
        self.db.read(|c| {
            for (kind, h) in &hashes {
                if c.query_opt(
                    "SELECT kind FROM suppressions WHERE kind = $1 AND hash = $2",
                    &[kind.as_str().into(), Val::Blob(h.clone())],
                )?
                .is_some()
                {
                    let channels: &[Channel] = if *kind == BlindKind::Email {
                        &[Channel::Email]
                    } else {
                        &[Channel::Phone, Channel::Sms]
                    };
                    for ch in channels {
                        if !out.contains(ch) {
                            out.push(*ch);
                        }
                    }
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn address_hashes(&self, p: &PersonalData) -> Vec<(BlindKind, Vec<u8>)> {
        let b = self.keys.blind();
        let mut v: Vec<(BlindKind, Vec<u8>)> = p
            .emails
            .iter()
            .map(|e| {
                (
                    BlindKind::Email,
                    b.compute(BlindKind::Email, &e.value.normalized()),
                )
            })
            .collect();
        v.extend(p.phones.iter().map(|ph| {
            (
                BlindKind::Phone,
                b.compute(BlindKind::Phone, ph.value.as_str()),
            )
        }));
        v
    }

    /// Whether the person is restricted (Art. 18), checked before changes.
    pub fn is_restricted(&self, pid: PersonId) -> Result<bool> {
        Ok(self.restriction(pid)?.is_some())
    }
}
