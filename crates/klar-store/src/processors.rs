//! The register of processors and recipients, and the disclosure log (Art. 19, LAW.md
//! table 4f): which recipient received which categories of whose data, when, for which
//! purpose and on which basis. The Art. 15 answer names the recipients a person's data
//! went to (CJEU C-154/21); rectification and erasure notify them. Both tables hold ids
//! and codes only.

use crate::audit::{AuditAction, AuditEntry};
use crate::db::{Row, Val};
use crate::error::{Result, StoreError};
use crate::{Actor, Store, from_ms, ms};
use klar_domain::DomainError;
use klar_domain::ids::PersonId;
use klar_domain::policy::LegalBasis;
use klar_domain::processor::{ProcessorRole, ProcessorSpec, TransferMechanism};

/// A register entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processor {
    pub id: String,
    pub spec: ProcessorSpec,
    pub created_at: jiff::Timestamp,
}

/// One disclosure of a person's data to a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    pub id: String,
    pub processor_id: String,
    pub person_id: PersonId,
    pub data_categories: Vec<String>,
    pub purpose: String,
    pub legal_basis: LegalBasis,
    pub at: jiff::Timestamp,
}

/// A disclosure to record.
#[derive(Debug, Clone)]
pub struct NewDisclosure {
    pub processor_id: String,
    pub person_id: PersonId,
    pub data_categories: Vec<String>,
    pub purpose: String,
    pub legal_basis: LegalBasis,
    /// When the data left; the store's clock when absent.
    pub at: Option<jiff::Timestamp>,
}

fn json_list(v: &[String]) -> Result<String> {
    serde_json::to_string(v).map_err(|_| StoreError::Corrupt("list".into()))
}

fn list_of(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt("stored list".into()))
}

fn corrupt(what: &str) -> impl Fn(klar_domain::error::ValueError) -> StoreError + '_ {
    move |_| StoreError::Corrupt(what.into())
}

const SELECT: &str = "SELECT id, name, role, contract_signed_at, purposes, data_categories, country, \
     transfer_mechanism, services, created_at FROM processors";

fn decode(r: &Row) -> Result<Processor> {
    Ok(Processor {
        id: r.get(0)?,
        spec: ProcessorSpec {
            name: r.get(1)?,
            role: ProcessorRole::parse(&r.get::<String>(2)?).map_err(corrupt("processor role"))?,
            contract_signed_at: crate::opt_date(r.get(3)?)?,
            purposes: list_of(&r.get::<String>(4)?)?,
            data_categories: list_of(&r.get::<String>(5)?)?,
            country: r.get(6)?,
            transfer_mechanism: TransferMechanism::parse(&r.get::<String>(7)?)
                .map_err(corrupt("transfer mechanism"))?,
            services: list_of(&r.get::<String>(8)?)?,
        },
        created_at: from_ms(r.get(9)?)?,
    })
}

const SELECT_DISCLOSURE: &str = "SELECT id, processor_id, person_id, data_categories, purpose, legal_basis, disclosed_at \
     FROM disclosures";

fn decode_disclosure(r: &Row) -> Result<Disclosure> {
    Ok(Disclosure {
        id: r.get(0)?,
        processor_id: r.get(1)?,
        person_id: crate::id(r.get::<String>(2)?)?,
        data_categories: list_of(&r.get::<String>(3)?)?,
        purpose: r.get(4)?,
        legal_basis: LegalBasis::parse(&r.get::<String>(5)?).map_err(corrupt("legal basis"))?,
        at: from_ms(r.get(6)?)?,
    })
}

impl Store {
    /// Adds an entry to the register (already checked by [`ProcessorSpec::parse`]).
    pub fn create_processor(&self, actor: Actor, spec: &ProcessorSpec) -> Result<Processor> {
        let now = self.now();
        let id = self.next_id().to_string();
        let params = vec![
            id.as_str().into(),
            spec.name.as_str().into(),
            spec.role.as_str().into(),
            spec.contract_signed_at.map(|d| d.to_string()).into(),
            json_list(&spec.purposes)?.into(),
            json_list(&spec.data_categories)?.into(),
            spec.country.as_str().into(),
            spec.transfer_mechanism.as_str().into(),
            json_list(&spec.services)?.into(),
            Val::Int(ms(now)),
            actor.user_id.map(|u| u.to_string()).into(),
        ];
        self.db.write(|c| {
            c.execute(
                "INSERT INTO processors (id, name, role, contract_signed_at, purposes, data_categories, country, \
                 transfer_mechanism, services, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &params,
            )?;
            Ok(())
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::ProcessorCreate)
                .object("processor", &id)
                .outcome(spec.role.as_str()),
        );
        Ok(Processor {
            id,
            spec: spec.clone(),
            created_at: now,
        })
    }

    /// The register, oldest entry first.
    pub fn processors(&self) -> Result<Vec<Processor>> {
        self.db.read(|c| {
            c.query(&format!("{SELECT} ORDER BY created_at, id"), &[])?
                .iter()
                .map(decode)
                .collect()
        })
    }

    pub fn processor(&self, id: &str) -> Result<Option<Processor>> {
        self.db.read(|c| {
            c.query_opt(&format!("{SELECT} WHERE id = $1"), &[id.into()])?
                .map(|r| decode(&r))
                .transpose()
        })
    }

    /// Records that data of a person went to a recipient of the register. The person must
    /// exist now; the entry stays after she is erased (Art. 19 after erasure).
    pub fn record_disclosure(&self, actor: Actor, d: &NewDisclosure) -> Result<Disclosure> {
        if self.processor(&d.processor_id)?.is_none() {
            return Err(StoreError::Invalid(DomainError::field(
                "processor_id",
                "is not in the register of processors and recipients",
            )));
        }
        if !self.purposes()?.iter().any(|p| p.key == d.purpose) {
            return Err(StoreError::Invalid(DomainError::field(
                "purpose",
                "is not a purpose of the registry",
            )));
        }
        let now = self.now();
        let at = d.at.unwrap_or(now);
        let id = self.next_id().to_string();
        let sid = d.person_id.to_string();
        let categories = json_list(&d.data_categories)?;
        self.db.write(|c| {
            if c.query_opt("SELECT id FROM persons WHERE id = $1", &[sid.as_str().into()])?.is_none() {
                return Err(StoreError::NotFound);
            }
            c.execute(
                "INSERT INTO disclosures (id, processor_id, person_id, data_categories, purpose, legal_basis, disclosed_at, actor) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    id.as_str().into(),
                    d.processor_id.as_str().into(),
                    sid.as_str().into(),
                    categories.as_str().into(),
                    d.purpose.as_str().into(),
                    d.legal_basis.as_str().into(),
                    Val::Int(ms(at)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok(())
        })?;
        self.audit(
            AuditEntry::new(actor, AuditAction::DisclosureRecord)
                .person(d.person_id)
                .object("processor", &d.processor_id)
                .purpose(&d.purpose),
        );
        Ok(Disclosure {
            id,
            processor_id: d.processor_id.clone(),
            person_id: d.person_id,
            data_categories: d.data_categories.clone(),
            purpose: d.purpose.clone(),
            legal_basis: d.legal_basis,
            at,
        })
    }

    /// Every disclosure of the person's data, oldest first.
    pub fn disclosures_of(&self, pid: PersonId) -> Result<Vec<Disclosure>> {
        self.db.read(|c| {
            c.query(
                &format!("{SELECT_DISCLOSURE} WHERE person_id = $1 ORDER BY disclosed_at, id"),
                &[pid.to_string().into()],
            )?
            .iter()
            .map(decode_disclosure)
            .collect()
        })
    }

    /// The recipients the person's data went to, each once, in the order of the first
    /// disclosure: whom to name in an Art. 15 answer and whom to notify under Art. 19.
    pub fn recipients_of(&self, pid: PersonId) -> Result<Vec<Processor>> {
        let mut out: Vec<Processor> = Vec::new();
        for d in self.disclosures_of(pid)? {
            if out.iter().any(|p| p.id == d.processor_id) {
                continue;
            }
            if let Some(p) = self.processor(&d.processor_id)? {
                out.push(p);
            }
        }
        Ok(out)
    }
}
