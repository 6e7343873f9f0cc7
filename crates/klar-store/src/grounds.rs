//! The grounds a legal basis rests on besides consent (LAW.md B.1, B.2): legitimate-
//! interest assessments per purpose, the contract relationship (derived from won deals),
//! presumed consent of a business to sales calls, the §7(3) UWG existing-customer facts
//! and the "no advertising" marker. Free texts that may describe a person are sealed under
//! her key; the assessments describe a purpose, not a person, and are stored in the clear.

use crate::audit::{AuditAction, AuditEntry};
use crate::db::{Conn, Val};
use crate::error::{Result, StoreError};
use crate::{Actor, Store, from_ms, ms};
use klar_crypto::{BlindKind, Context};
use klar_domain::DomainError;
use klar_domain::email::Email;
use klar_domain::ids::{DealId, PersonId, UserId};
use klar_domain::policy::{ContractRelationship, ExistingCustomer, PresumedConsent};
use klar_domain::records::{PersonKind, StageKind};

/// A legitimate-interest assessment (table 1c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub id: String,
    pub purpose: String,
    pub text: String,
    pub author: String,
    pub created_at: jiff::Timestamp,
    pub withdrawn_at: Option<jiff::Timestamp>,
}

/// The §7(3) facts as recorded (the address only as a keyed hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingCustomerRecord {
    pub deal_id: DealId,
    pub sale_at: jiff::Timestamp,
    pub address_hash: Vec<u8>,
    pub goods_class: String,
    pub notice_wording: String,
    pub recorded_at: jiff::Timestamp,
}

fn invalid(field: &str, msg: &str) -> StoreError {
    StoreError::Invalid(DomainError::field(field, msg))
}

fn reason_ctx(id: &str) -> Context<'_> {
    Context {
        table: "presumed_consents",
        column: "reason",
        row_id: id,
        key_version: 1,
    }
}

fn user_of(actor: Actor) -> Result<UserId> {
    actor
        .user_id
        .ok_or_else(|| invalid("author", "must be a named staff member"))
}

fn person_exists(c: &Conn<'_>, sid: &str) -> Result<()> {
    c.query_opt("SELECT id FROM persons WHERE id = $1", &[sid.into()])?
        .map(|_| ())
        .ok_or(StoreError::NotFound)
}

impl Store {
    /// Records the assessment for a purpose; it replaces the one in force (which stays in
    /// the history). Only a named staff member can author one.
    pub fn record_interest_assessment(
        &self,
        actor: Actor,
        purpose: &str,
        text: &str,
    ) -> Result<Assessment> {
        let author = user_of(actor)?;
        if !self.purposes()?.iter().any(|p| p.key == purpose) {
            return Err(StoreError::NotFound);
        }
        let now = self.now();
        let id = self.next_id().to_string();
        self.db.write(|c| {
            c.execute(
                "UPDATE interest_assessments SET withdrawn_at = $2 WHERE purpose = $1 AND withdrawn_at IS NULL",
                &[purpose.into(), Val::Int(ms(now))],
            )?;
            c.execute(
                "INSERT INTO interest_assessments (id, purpose, text, author, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[id.as_str().into(), purpose.into(), text.into(), author.to_string().into(), Val::Int(ms(now))],
            )?;
            Ok(())
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::InterestAssessment)
                .object("assessment", &id)
                .purpose(purpose)
                .outcome("recorded"),
        );
        Ok(Assessment {
            id,
            purpose: purpose.into(),
            text: text.into(),
            author: author.to_string(),
            created_at: now,
            withdrawn_at: None,
        })
    }

    /// Withdraws the assessment in force; `false` when there was none.
    pub fn withdraw_interest_assessment(&self, actor: Actor, purpose: &str) -> Result<bool> {
        let now = self.now();
        let n = self.db.write(|c| {
            c.execute(
                "UPDATE interest_assessments SET withdrawn_at = $2 WHERE purpose = $1 AND withdrawn_at IS NULL",
                &[purpose.into(), Val::Int(ms(now))],
            )
        })?;
        if n > 0 {
            self.audit(
                AuditEntry::new(actor, AuditAction::InterestAssessment)
                    .purpose(purpose)
                    .outcome("withdrawn"),
            );
        }
        Ok(n > 0)
    }

    /// Every assessment of a purpose, newest first.
    pub fn interest_assessments(&self, purpose: &str) -> Result<Vec<Assessment>> {
        self.db.read(|c| {
            c.query(
                "SELECT id, purpose, text, author, created_at, withdrawn_at FROM interest_assessments \
                 WHERE purpose = $1 ORDER BY created_at DESC, id DESC",
                &[purpose.into()],
            )?
            .iter()
            .map(|r| {
                Ok(Assessment {
                    id: r.get(0)?,
                    purpose: r.get(1)?,
                    text: r.get(2)?,
                    author: r.get(3)?,
                    created_at: from_ms(r.get(4)?)?,
                    withdrawn_at: r.get::<Option<i64>>(5)?.map(from_ms).transpose()?,
                })
            })
            .collect()
        })
    }

    /// Keys of the purposes with an assessment in force.
    pub fn assessed_purposes(&self) -> Result<Vec<String>> {
        self.db.read(|c| {
            c.query(
                "SELECT DISTINCT purpose FROM interest_assessments WHERE withdrawn_at IS NULL",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
    }

    /// The person's relation to a contract, from the deals: a won deal of her own makes a
    /// consumer a party (Art. 6(1)(b)); for a business contact, a won deal of hers or of
    /// her organization makes her the contact of a customer (Art. 6(1)(f)).
    pub fn contract_relationship(
        &self,
        pid: PersonId,
        kind: PersonKind,
        organization: Option<klar_domain::ids::OrganizationId>,
    ) -> Result<ContractRelationship> {
        let won = StageKind::Won.as_str();
        self.db.read(|c| {
            let own = c
                .query_opt(
                    "SELECT id FROM deals WHERE person_id = $1 AND status = $2 LIMIT 1",
                    &[pid.to_string().into(), won.into()],
                )?
                .is_some();
            Ok(match kind {
                PersonKind::Consumer if own => ContractRelationship::Party,
                PersonKind::Consumer => ContractRelationship::None,
                PersonKind::Business => {
                    let org_won = match organization {
                        Some(o) => c
                            .query_opt(
                                "SELECT id FROM deals WHERE organization_id = $1 AND status = $2 LIMIT 1",
                                &[o.to_string().into(), won.into()],
                            )?
                            .is_some(),
                        None => false,
                    };
                    if own || org_won {
                        ContractRelationship::ContactOfCustomer
                    } else {
                        ContractRelationship::None
                    }
                }
            })
        })
    }

    /// Records why a business would want a sales call (replaces an earlier reason).
    pub fn record_presumed_consent(
        &self,
        actor: Actor,
        pid: PersonId,
        reason: &str,
    ) -> Result<PresumedConsent> {
        let author = user_of(actor)?;
        let now = self.now();
        let id = self.next_id().to_string();
        let sid = pid.to_string();
        self.db.write(|c| {
            let key = c
                .query_opt("SELECT wrapped_key, kek_generation FROM person_keys WHERE person_id = $1", &[sid.as_str().into()])?
                .ok_or(StoreError::NotFound)?;
            let dek = self.keks.unwrap(&crate::keys::wrapped_at(&key, 0, 1)?, &sid)?;
            let sealed = dek.seal(&reason_ctx(&id), reason.as_bytes(), &mut rand::rngs::OsRng)?;
            c.execute(
                "UPDATE presumed_consents SET ended_at = $2 WHERE person_id = $1 AND ended_at IS NULL",
                &[sid.as_str().into(), Val::Int(ms(now))],
            )?;
            c.execute(
                "INSERT INTO presumed_consents (id, person_id, reason, author, recorded_at) VALUES ($1, $2, $3, $4, $5)",
                &[id.as_str().into(), sid.as_str().into(), Val::Blob(sealed), author.to_string().into(), Val::Int(ms(now))],
            )?;
            Ok(())
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::PresumedConsent)
                .person(pid)
                .object("presumed_consent", &id)
                .outcome("recorded"),
        );
        Ok(PresumedConsent {
            reason: reason.into(),
            author: author.to_string(),
            recorded_at: now,
            ended_at: None,
        })
    }

    /// Ends the presumed consent in force; `false` when there was none.
    pub fn end_presumed_consent(&self, actor: Actor, pid: PersonId) -> Result<bool> {
        let now = self.now();
        let n = self.db.write(|c| {
            c.execute(
                "UPDATE presumed_consents SET ended_at = $2 WHERE person_id = $1 AND ended_at IS NULL",
                &[pid.to_string().into(), Val::Int(ms(now))],
            )
        })?;
        if n > 0 {
            self.audit(
                AuditEntry::new(actor, AuditAction::PresumedConsent)
                    .person(pid)
                    .outcome("ended"),
            );
        }
        Ok(n > 0)
    }

    /// The latest presumed consent of the person (ended or not), reason decrypted.
    pub fn presumed_consent(&self, pid: PersonId) -> Result<Option<PresumedConsent>> {
        let sid = pid.to_string();
        self.db.read(|c| {
            let Some(r) = c.query_opt(
                "SELECT pc.id, pc.reason, pc.author, pc.recorded_at, pc.ended_at, k.wrapped_key, k.kek_generation \
                 FROM presumed_consents pc JOIN person_keys k ON k.person_id = pc.person_id \
                 WHERE pc.person_id = $1 ORDER BY pc.recorded_at DESC, pc.id DESC LIMIT 1",
                &[sid.as_str().into()],
            )?
            else {
                return Ok(None);
            };
            let id: String = r.get(0)?;
            let dek = self.keks.unwrap(&crate::keys::wrapped_at(&r, 5, 6)?, &sid)?;
            let reason = dek.open(&reason_ctx(&id), &r.get::<Vec<u8>>(1)?)?;
            Ok(Some(PresumedConsent {
                reason: String::from_utf8(reason)
                    .map_err(|_| StoreError::Corrupt("presumed consent reason".into()))?,
                author: r.get(2)?,
                recorded_at: from_ms(r.get(3)?)?,
                ended_at: r.get::<Option<i64>>(4)?.map(from_ms).transpose()?,
            }))
        })
    }

    /// Sets or clears the "no advertising" marker (postal advertising is unwanted).
    pub fn set_advertising_marker(&self, actor: Actor, pid: PersonId, on: bool) -> Result<()> {
        let now = self.now();
        let sid = pid.to_string();
        let changed = self.db.write(|c| {
            person_exists(c, &sid)?;
            if on {
                c.execute(
                    "INSERT INTO advertising_markers (person_id, recorded_at, actor) VALUES ($1, $2, $3) \
                     ON CONFLICT (person_id) DO NOTHING",
                    &[sid.as_str().into(), Val::Int(ms(now)), actor.user_id.map(|u| u.to_string()).into()],
                )
            } else {
                c.execute("DELETE FROM advertising_markers WHERE person_id = $1", &[sid.as_str().into()])
            }
        })?;
        if changed > 0 {
            self.audit(
                AuditEntry::new(actor, AuditAction::AdvertisingMarker)
                    .person(pid)
                    .outcome(if on { "on" } else { "off" }),
            );
        }
        Ok(())
    }

    pub fn has_advertising_marker(&self, pid: PersonId) -> Result<bool> {
        self.db.read(|c| {
            Ok(c.query_opt(
                "SELECT person_id FROM advertising_markers WHERE person_id = $1",
                &[pid.to_string().into()],
            )?
            .is_some())
        })
    }

    /// Records the §7(3) UWG facts: the won deal of this person, the email address captured
    /// with the sale (one of hers), the goods class sold, and the wording of the opt-out
    /// notice she was given when the address was collected.
    pub fn record_existing_customer(
        &self,
        actor: Actor,
        pid: PersonId,
        deal: DealId,
        email: &Email,
        goods_class: &str,
        notice_wording: &str,
    ) -> Result<ExistingCustomerRecord> {
        let person = self.get_person(pid)?;
        if !person
            .personal
            .emails
            .iter()
            .any(|e| e.value.normalized() == email.normalized())
        {
            return Err(invalid(
                "email",
                "is not one of the person's email addresses",
            ));
        }
        let hash = self
            .keys
            .blind()
            .compute(BlindKind::Email, &email.normalized());
        let now = self.now();
        let sid = pid.to_string();
        let (sale_at,) = self.db.write(|c| {
            let d = c
                .query_opt(
                    "SELECT person_id, status, closed_at FROM deals WHERE id = $1",
                    &[deal.to_string().into()],
                )?
                .ok_or_else(|| invalid("deal_id", "is not a deal"))?;
            if d.get::<Option<String>>(0)?.as_deref() != Some(sid.as_str()) {
                return Err(invalid("deal_id", "is not a deal of this person"));
            }
            let closed = d.get::<Option<i64>>(2)?;
            let sale_at = match (d.get::<String>(1)?.as_str(), closed) {
                (s, Some(t)) if s == StageKind::Won.as_str() => t,
                _ => return Err(invalid("deal_id", "is not a won deal: the sale must be concluded")),
            };
            c.execute(
                "INSERT INTO existing_customer_facts (person_id, deal_id, address_hash, goods_class, notice_wording, recorded_at, actor) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (person_id) DO UPDATE SET deal_id = $2, address_hash = $3, \
                 goods_class = $4, notice_wording = $5, recorded_at = $6, actor = $7",
                &[
                    sid.as_str().into(),
                    deal.to_string().into(),
                    Val::Blob(hash.clone()),
                    goods_class.into(),
                    notice_wording.into(),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok((sale_at,))
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::ExistingCustomer)
                .person(pid)
                .object("deal", deal)
                .outcome("recorded"),
        );
        Ok(ExistingCustomerRecord {
            deal_id: deal,
            sale_at: from_ms(sale_at)?,
            address_hash: hash,
            goods_class: goods_class.into(),
            notice_wording: notice_wording.into(),
            recorded_at: now,
        })
    }

    /// Removes the §7(3) facts; `false` when there were none.
    pub fn clear_existing_customer(&self, actor: Actor, pid: PersonId) -> Result<bool> {
        let n = self.db.write(|c| {
            c.execute(
                "DELETE FROM existing_customer_facts WHERE person_id = $1",
                &[pid.to_string().into()],
            )
        })?;
        if n > 0 {
            self.audit(
                AuditEntry::new(actor, AuditAction::ExistingCustomer)
                    .person(pid)
                    .outcome("removed"),
            );
        }
        Ok(n > 0)
    }

    pub fn existing_customer(&self, pid: PersonId) -> Result<Option<ExistingCustomerRecord>> {
        self.db.read(|c| {
            c.query_opt(
                "SELECT f.deal_id, d.closed_at, f.address_hash, f.goods_class, f.notice_wording, f.recorded_at \
                 FROM existing_customer_facts f JOIN deals d ON d.id = f.deal_id \
                 WHERE f.person_id = $1 AND d.status = $2",
                &[pid.to_string().into(), StageKind::Won.as_str().into()],
            )?
            .map(|r| {
                Ok(ExistingCustomerRecord {
                    deal_id: crate::id(r.get::<String>(0)?)?,
                    sale_at: from_ms(r.get::<Option<i64>>(1)?.ok_or(StoreError::Corrupt("won deal without close time".into()))?)?,
                    address_hash: r.get(2)?,
                    goods_class: r.get(3)?,
                    notice_wording: r.get(4)?,
                    recorded_at: from_ms(r.get(5)?)?,
                })
            })
            .transpose()
        })
    }
}

impl ExistingCustomerRecord {
    /// The §7(3) facts for a message to `address` about goods of `goods_class`. Klar adds
    /// the opt-out notice to every advertising message it sends, so 2b(4) holds for the
    /// message when the notice was given at collection.
    pub fn for_message(
        &self,
        address_hash: Option<&[u8]>,
        goods_class: Option<&str>,
    ) -> ExistingCustomer {
        ExistingCustomer {
            sale_at: self.sale_at,
            address_from_sale: address_hash.is_some_and(|h| h == self.address_hash.as_slice()),
            similar_goods: goods_class.is_some_and(|g| g.trim() == self.goods_class),
            optout_notice_at_collection: !self.notice_wording.trim().is_empty(),
            optout_notice_in_message: true,
        }
    }
}
