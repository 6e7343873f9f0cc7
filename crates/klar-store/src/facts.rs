//! The gate's facts about many persons at once, for a campaign's preview and its sending.
//!
//! [`Store::privacy_facts_for`] reads one person with about ten queries; over a segment of
//! 100,000 persons that would be a million queries. Here every table is read once per chunk
//! of ids (`IN` lists, indexed by `person_id`), and the rare facts that need a person's
//! decrypted record (the §7(3) UWG address of the sale, the reason of a presumed consent)
//! are read one by one only for the persons who have them. The result is the same
//! `PersonFacts` as the single-person path: a test holds the two equal.

use crate::db::{Conn, Val};
use crate::error::{Result, StoreError};
use crate::{Store, from_ms};
use klar_domain::ids::{OrganizationId, PersonId};
use klar_domain::policy::{
    Channel, ConsentEvent, ConsentEventKind, ConsentSource, ContractRelationship, Objection,
    ObjectionScope, PersonFacts,
};
use klar_domain::records::{PersonKind, StageKind};
use std::collections::{HashMap, HashSet};

/// How many ids go into one `IN` list.
const CHUNK: usize = 500;

/// Who the facts are about: what the gate needs from the person row itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub id: PersonId,
    pub kind: PersonKind,
    pub organization_id: Option<OrganizationId>,
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Above this many ids a fact table is read whole and filtered here: one pass over a
/// small table beats a hundred thousand index probes.
const SCAN_ABOVE: usize = 5_000;

/// `sql` without its `COLUMN IN ({ids})` condition (`1 = 1` in its place).
fn without_list(sql: &str) -> String {
    const LIST: &str = " IN ({ids})";
    match sql.find(LIST) {
        Some(at) => {
            let start = sql[..at].rfind(' ').map_or(0, |i| i + 1);
            format!("{}1 = 1{}", &sql[..start], &sql[at + LIST.len()..])
        }
        None => sql.to_owned(),
    }
}

/// Runs `sql` (with `COLUMN IN ({ids})` in its condition, after `fixed` parameters) for the
/// rows of `ids`, whose id is in result column `col`: chunk by chunk for a few ids, or
/// once over the whole table for many.
#[allow(clippy::too_many_arguments)]
fn each_chunk(
    c: &Conn<'_>,
    sql: &str,
    fixed: &[Val],
    ids: &[String],
    col: usize,
    scan_above: usize,
    mut row: impl FnMut(&crate::db::Row) -> Result<()>,
) -> Result<()> {
    if ids.len() > scan_above {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        for r in c.query(&without_list(sql), fixed)? {
            let id: Option<String> = r.get(col)?;
            if id.is_some_and(|i| wanted.contains(i.as_str())) {
                row(&r)?;
            }
        }
        return Ok(());
    }
    for chunk in ids.chunks(CHUNK) {
        let q = sql.replace("{ids}", &placeholders(fixed.len() + 1, chunk.len()));
        let mut params: Vec<Val> = fixed.to_vec();
        params.extend(chunk.iter().map(|s| Val::from(s.as_str())));
        for r in c.query(&q, &params)? {
            row(&r)?;
        }
    }
    Ok(())
}

impl Store {
    /// The gate's facts for each subject, in the same order, for a message about goods of
    /// `goods_class` (see [`Store::privacy_facts_for`]).
    pub fn privacy_facts_many(
        &self,
        subjects: &[Subject],
        goods_class: Option<&str>,
    ) -> Result<Vec<PersonFacts>> {
        self.privacy_facts_scanning_above(subjects, goods_class, SCAN_ABOVE)
    }

    /// [`Store::privacy_facts_many`] that reads whole tables above `scan` persons (tests
    /// use a small number to check that both paths agree).
    #[doc(hidden)]
    pub fn privacy_facts_scanning_above(
        &self,
        subjects: &[Subject],
        goods_class: Option<&str>,
        scan: usize,
    ) -> Result<Vec<PersonFacts>> {
        let ids: Vec<String> = subjects.iter().map(|s| s.id.to_string()).collect();
        // Each person once in the queries, however often she is asked for.
        let unique: Vec<String> = {
            let mut seen = HashSet::new();
            ids.iter()
                .filter(|i| seen.insert(i.as_str()))
                .cloned()
                .collect()
        };
        let orgs: Vec<String> = subjects
            .iter()
            .filter_map(|s| s.organization_id.map(|o| o.to_string()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let won = StageKind::Won.as_str();
        let mut restricted = HashSet::new();
        let mut objections: HashMap<String, Vec<Objection>> = HashMap::new();
        let mut suppressed: HashMap<String, Vec<Channel>> = HashMap::new();
        let mut own_won = HashSet::new();
        let mut org_won = HashSet::new();
        let mut markers = HashSet::new();
        let mut presumed = HashSet::new();
        let mut existing = HashSet::new();
        let mut consents: HashMap<String, Vec<ConsentEvent>> = HashMap::new();
        self.db.read(|c| {
            each_chunk(c, "SELECT person_id FROM restrictions WHERE person_id IN ({ids})", &[], &unique, 0, scan, |r| {
                restricted.insert(r.get::<String>(0)?);
                Ok(())
            })?;
            each_chunk(
                c,
                "SELECT person_id, scope, at FROM objections WHERE person_id IN ({ids}) ORDER BY at, id",
                &[],
                &unique,
                0,
                scan,
                |r| {
                    let scope = ObjectionScope::parse(&r.get::<String>(1)?)
                        .map_err(|_| StoreError::Corrupt("objection scope".into()))?;
                    objections.entry(r.get(0)?).or_default().push(Objection {
                        scope,
                        at: from_ms(r.get(2)?)?,
                        overridden: false,
                    });
                    Ok(())
                },
            )?;
            // From the (small) suppression list to the persons it names, once: asked per
            // chunk of persons, the planner would walk every address of that kind each time.
            let wanted: HashSet<&str> = unique.iter().map(String::as_str).collect();
            for r in c.query(
                "SELECT l.person_id, l.kind FROM person_lookup l \
                 WHERE (l.kind, l.hash) IN (SELECT kind, hash FROM suppressions)",
                &[],
            )? {
                let pid: String = r.get(0)?;
                if !wanted.contains(pid.as_str()) {
                    continue;
                }
                let kind: String = r.get(1)?;
                let channels: &[Channel] = if kind == klar_crypto::BlindKind::Email.as_str() {
                    &[Channel::Email]
                } else {
                    &[Channel::Phone, Channel::Sms]
                };
                let v = suppressed.entry(pid).or_default();
                for ch in channels {
                    if !v.contains(ch) {
                        v.push(*ch);
                    }
                }
            }
            each_chunk(
                c,
                "SELECT DISTINCT person_id FROM deals WHERE status = $1 AND person_id IN ({ids})",
                &[won.into()],
                &unique,
                0,
                scan,
                |r| {
                    own_won.insert(r.get::<String>(0)?);
                    Ok(())
                },
            )?;
            each_chunk(
                c,
                "SELECT DISTINCT organization_id FROM deals WHERE status = $1 AND organization_id IN ({ids})",
                &[won.into()],
                &orgs,
                0,
                scan,
                |r| {
                    org_won.insert(r.get::<String>(0)?);
                    Ok(())
                },
            )?;
            for (set, table) in [
                (&mut markers, "advertising_markers"),
                (&mut presumed, "presumed_consents"),
                (&mut existing, "existing_customer_facts"),
            ] {
                each_chunk(
                    c,
                    &format!("SELECT DISTINCT person_id FROM {table} WHERE person_id IN ({{ids}})"),
                    &[],
                    &unique,
                    0,
                    scan,
                    |r| {
                        set.insert(r.get::<String>(0)?);
                        Ok(())
                    },
                )?;
            }
            self.consent_rows(c, &unique, scan, &mut consents)
        })?;
        let assessments = self.assessed_purposes()?;
        let mut out = Vec::with_capacity(subjects.len());
        for (s, sid) in subjects.iter().zip(&ids) {
            let mut f = PersonFacts::new(Some(s.kind));
            f.restricted = restricted.contains(sid);
            f.objections = objections.get(sid).cloned().unwrap_or_default();
            f.suppressed = suppressed.get(sid).cloned().unwrap_or_default();
            f.consents = consents.get(sid).cloned().unwrap_or_default();
            let own = own_won.contains(sid);
            f.contract = match s.kind {
                PersonKind::Consumer if own => ContractRelationship::Party,
                PersonKind::Consumer => ContractRelationship::None,
                PersonKind::Business => {
                    let org = s
                        .organization_id
                        .is_some_and(|o| org_won.contains(&o.to_string()));
                    if own || org {
                        ContractRelationship::ContactOfCustomer
                    } else {
                        ContractRelationship::None
                    }
                }
            };
            f.interest_assessments = assessments.clone();
            f.no_advertising_marker = markers.contains(sid);
            if presumed.contains(sid) {
                f.presumed_consent = self.presumed_consent(s.id)?;
            }
            if existing.contains(sid) {
                // Rare: the §7(3) check compares the address of the sale with her primary
                // address, which only her decrypted record gives.
                let person = self.get_person(s.id)?;
                f.existing_customer = self
                    .privacy_facts_for(&person, goods_class)?
                    .existing_customer;
            }
            out.push(f);
        }
        Ok(out)
    }

    /// The consent ledgers of `ids`, oldest first, evidence decrypted (the gate checks
    /// that staff grants have evidence).
    fn consent_rows(
        &self,
        c: &Conn<'_>,
        ids: &[String],
        scan: usize,
        out: &mut HashMap<String, Vec<ConsentEvent>>,
    ) -> Result<()> {
        let mut keys: HashMap<String, klar_crypto::DataKey> = HashMap::new();
        each_chunk(
            c,
            "SELECT e.id, e.purpose, e.channel, e.kind, e.source, e.wording_version, e.evidence, e.at, k.wrapped_key, e.person_id, k.kek_generation \
             FROM consent_events e JOIN person_keys k ON k.person_id = e.person_id \
             WHERE e.person_id IN ({ids}) ORDER BY e.person_id, e.at, e.id",
            &[],
            ids,
            9,
            scan,
            |r| {
                let id: String = r.get(0)?;
                let pid: String = r.get(9)?;
                let evidence = match r.get::<Option<Vec<u8>>>(6)? {
                    None => None,
                    Some(sealed) => {
                        if !keys.contains_key(&pid) {
                            let k = self
                                .keks
                                .unwrap(&crate::keys::wrapped_at(r, 8, 10)?, &pid)?;
                            keys.insert(pid.clone(), k);
                        }
                        let k = keys.get(&pid).ok_or(StoreError::Corrupt("key".into()))?;
                        Some(
                            String::from_utf8(k.open(&crate::consents::ctx(&id), &sealed)?)
                                .map_err(|_| StoreError::Corrupt("evidence".into()))?,
                        )
                    }
                };
                let bad = |what: &str| StoreError::Corrupt(format!("consent event {what}"));
                out.entry(pid).or_default().push(ConsentEvent {
                    at: from_ms(r.get(7)?)?,
                    purpose: r.get(1)?,
                    channel: Channel::parse(&r.get::<String>(2)?).map_err(|_| bad("channel"))?,
                    kind: ConsentEventKind::parse(&r.get::<String>(3)?).map_err(|_| bad("kind"))?,
                    source: ConsentSource::parse_recorded(&r.get::<String>(4)?)
                        .map_err(|_| bad("source"))?,
                    wording_version: r.get(5)?,
                    evidence,
                });
                Ok(())
            },
        )
    }

    /// Which of `ids` have at least one email address (from the blind index, no decryption).
    pub fn persons_with_email(&self, ids: &[PersonId]) -> Result<HashSet<PersonId>> {
        let sids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let mut out = HashSet::new();
        self.db.read(|c| {
            each_chunk(
                c,
                "SELECT DISTINCT person_id FROM person_lookup WHERE kind = $1 AND person_id IN ({ids})",
                &[klar_crypto::BlindKind::Email.as_str().into()],
                &sids,
                0,
                SCAN_ABOVE,
                |r| {
                    out.insert(crate::id(r.get::<String>(0)?)?);
                    Ok(())
                },
            )
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_list_condition_is_replaced_by_a_true_one() {
        assert_eq!(
            super::without_list(
                "SELECT a FROM t WHERE x = $1 AND t.person_id IN ({ids}) ORDER BY a"
            ),
            "SELECT a FROM t WHERE x = $1 AND 1 = 1 ORDER BY a"
        );
        assert_eq!(super::without_list("SELECT 1"), "SELECT 1");
    }
}
