//! Activities on the timeline. Their text is encrypted under the key of the person they
//! concern, so erasing the person makes her notes unreadable too.

use crate::audit::{AuditAction, AuditEntry};
use crate::db::{Conn, Row, Val};
use crate::error::{Result, StoreError};
use crate::{Actor, Page, Store, from_ms, id, ms, opt_date, opt_id};
use klar_crypto::{Context, DataKey};
use klar_domain::error::Errors;
use klar_domain::ids::{ActivityId, DealId, OrganizationId, PersonId, UserId};
use klar_domain::records::{Activity, ActivityKind, ActivityText, Stamp};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct ActivityEdit {
    pub kind: ActivityKind,
    pub person_id: Option<PersonId>,
    pub organization_id: Option<OrganizationId>,
    pub deal_id: Option<DealId>,
    pub text: ActivityText,
    pub purpose: Option<String>,
    pub occurred_at: jiff::Timestamp,
    pub due_date: Option<jiff::civil::Date>,
    pub done: bool,
    pub owner_id: Option<UserId>,
}

#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub person: Option<PersonId>,
    pub organization: Option<OrganizationId>,
    pub deal: Option<DealId>,
    pub kind: Option<ActivityKind>,
    pub cursor: Option<String>,
    pub limit: usize,
}

const SELECT: &str = "SELECT a.id, a.kind, a.person_id, a.organization_id, a.deal_id, a.text, a.purpose, a.occurred_at, \
    a.due_date, a.done, a.owner_id, a.created_at, a.created_by, a.updated_at, a.updated_by, k.wrapped_key, k.kek_generation \
    FROM activities a LEFT JOIN person_keys k ON k.person_id = a.person_id";

pub(crate) fn ctx(id: &str) -> Context<'_> {
    Context {
        table: "activities",
        column: "text",
        row_id: id,
        key_version: 1,
    }
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub fn create_activity(&self, actor: Actor, e: ActivityEdit) -> Result<Activity> {
        let now = self.now();
        let aid = ActivityId::from_uuid(self.next_id());
        let sid = aid.to_string();
        let plain = serde_json::to_vec(&e.text).map_err(|x| StoreError::Corrupt(x.to_string()))?;
        self.db.write(|c| {
            check_activity_refs(c, &e)?;
            let sealed = self.with_text_key(c, e.person_id, |k| Ok(k.seal(&ctx(&sid), &plain, &mut rand::rngs::OsRng)?))?;
            c.execute(
                "INSERT INTO activities (id, kind, person_id, organization_id, deal_id, text, purpose, occurred_at, due_date, done, owner_id, \
                 created_at, created_by, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $12, $13)",
                &[
                    sid.as_str().into(),
                    e.kind.as_str().into(),
                    e.person_id.map(|x| x.to_string()).into(),
                    e.organization_id.map(|x| x.to_string()).into(),
                    e.deal_id.map(|x| x.to_string()).into(),
                    Val::Blob(sealed),
                    e.purpose.clone().into(),
                    Val::Int(ms(e.occurred_at)),
                    e.due_date.map(|d| d.to_string()).into(),
                    Val::from(e.done),
                    e.owner_id.map(|x| x.to_string()).into(),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok(())
        })?;
        let mut entry = AuditEntry::new(actor, AuditAction::ActivityCreate).object("activity", aid);
        entry.person_id = e.person_id;
        entry.purpose = e.purpose.clone();
        self.audit(entry);
        self.get_activity(aid)
    }

    pub fn get_activity(&self, aid: ActivityId) -> Result<Activity> {
        self.db.read(|c| {
            decode(
                self,
                &c.query_one(
                    &format!("{SELECT} WHERE a.id = $1 AND a.retained_until IS NULL"),
                    &[aid.to_string().into()],
                )?,
            )
        })
    }

    /// Marks a task done or not done.
    pub fn set_activity_done(&self, actor: Actor, aid: ActivityId, done: bool) -> Result<Activity> {
        let now = self.now();
        let n = self.db.write(|c| {
            c.execute(
                "UPDATE activities SET done = $2, updated_at = $3, updated_by = $4 WHERE id = $1",
                &[
                    aid.to_string().into(),
                    Val::from(done),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )
        })?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_activity(aid)
    }

    /// The timeline: latest first (by when it happened, then by creation).
    pub fn list_activities(&self, f: &ActivityFilter) -> Result<Page<Activity>> {
        let limit = f.limit.clamp(1, 500);
        // Letters kept only for a retention duty are restricted: never listed.
        let mut sql = format!("{SELECT} WHERE a.retained_until IS NULL");
        let mut params: Vec<Val> = Vec::new();
        for (col, v) in [
            ("a.person_id", f.person.map(|x| x.to_string())),
            ("a.organization_id", f.organization.map(|x| x.to_string())),
            ("a.deal_id", f.deal.map(|x| x.to_string())),
            ("a.kind", f.kind.map(|x| x.as_str().to_string())),
        ] {
            if let Some(v) = v {
                params.push(v.into());
                sql.push_str(&format!(" AND {col} = ${}", params.len()));
            }
        }
        let mut keys: HashMap<String, DataKey> = HashMap::new();
        crate::fetch_page::<_, ActivityId>(
            &self.db,
            sql,
            params,
            crate::Order::TimeThenId {
                time: "a.occurred_at",
                id: "a.id",
            },
            f.cursor.as_deref(),
            limit,
            |r| decode_cached(self, r, &mut keys),
            |x| format!("{}:{}", x.occurred_at.as_millisecond(), x.id),
        )
    }

    /// Tasks not yet done, the earliest due first (tasks without a due date last).
    pub fn open_tasks(&self, limit: usize) -> Result<Vec<Activity>> {
        let limit = limit.clamp(1, 500) as i64;
        self.db.read(|c| {
            let rows = c.query(
                &format!(
                    "{SELECT} WHERE a.kind = 'task' AND a.done = 0 AND a.retained_until IS NULL \
                     ORDER BY CASE WHEN a.due_date IS NULL THEN 1 ELSE 0 END, a.due_date, a.id LIMIT $1"
                ),
                &[Val::Int(limit)],
            )?;
            let mut keys: HashMap<String, DataKey> = HashMap::new();
            rows.iter().map(|r| decode_cached(self, r, &mut keys)).collect()
        })
    }

    pub fn count_activities(&self) -> Result<i64> {
        self.db
            .read(|c| c.query_one("SELECT COUNT(*) FROM activities", &[])?.get(0))
    }

    fn with_text_key<T>(
        &self,
        c: &Conn<'_>,
        person: Option<PersonId>,
        f: impl FnOnce(&DataKey) -> Result<T>,
    ) -> Result<T> {
        match person {
            None => f(self.keys.installation_key()),
            Some(p) => {
                let sid = p.to_string();
                let row = c.query_one(
                    "SELECT wrapped_key, kek_generation FROM person_keys WHERE person_id = $1",
                    &[sid.as_str().into()],
                )?;
                let dek = self
                    .keks
                    .unwrap(&crate::keys::wrapped_at(&row, 0, 1)?, &sid)?;
                f(&dek)
            }
        }
    }
}

fn check_activity_refs(c: &Conn<'_>, e: &ActivityEdit) -> Result<()> {
    crate::persons::check_refs(c, e.organization_id, e.owner_id)?;
    let mut errs = Errors::new();
    if let Some(p) = e.person_id
        && c.query_opt(
            "SELECT id FROM persons WHERE id = $1",
            &[p.to_string().into()],
        )?
        .is_none()
    {
        errs.push("person_id", "names no existing person");
    }
    if let Some(d) = e.deal_id
        && c.query_opt(
            "SELECT id FROM deals WHERE id = $1",
            &[d.to_string().into()],
        )?
        .is_none()
    {
        errs.push("deal_id", "names no existing deal");
    }
    if e.person_id.is_none() && e.organization_id.is_none() && e.deal_id.is_none() {
        errs.push(
            "person_id",
            "an activity concerns a person, an organization or a deal",
        );
    }
    Ok(errs.finish()?)
}

fn decode(store: &Store, r: &Row) -> Result<Activity> {
    decode_cached(store, r, &mut HashMap::new())
}

fn decode_cached(store: &Store, r: &Row, keys: &mut HashMap<String, DataKey>) -> Result<Activity> {
    let sid: String = r.get(0)?;
    let person: Option<String> = r.get(2)?;
    let sealed: Vec<u8> = r.get(5)?;
    let plain = match &person {
        None => store.keys.installation_key().open(&ctx(&sid), &sealed)?,
        Some(p) => {
            if !keys.contains_key(p) {
                let w = crate::keys::wrapped_at(r, 15, 16)?;
                keys.insert(p.clone(), store.keks.unwrap(&w, p)?);
            }
            let k = keys.get(p).ok_or(StoreError::Corrupt("key cache".into()))?;
            k.open(&ctx(&sid), &sealed)?
        }
    };
    let text: ActivityText = serde_json::from_slice(&plain)
        .map_err(|_| StoreError::Corrupt("activity text does not decode".into()))?;
    Ok(Activity {
        id: id(sid)?,
        kind: ActivityKind::parse(&r.get::<String>(1)?)
            .map_err(|_| StoreError::Corrupt("activity kind".into()))?,
        person_id: opt_id(person)?,
        organization_id: opt_id(r.get(3)?)?,
        deal_id: opt_id(r.get(4)?)?,
        text,
        purpose: r.get(6)?,
        occurred_at: from_ms(r.get(7)?)?,
        due_date: opt_date(r.get(8)?)?,
        done: r.get(9)?,
        owner_id: opt_id(r.get(10)?)?,
        stamp: Stamp {
            created_at: from_ms(r.get(11)?)?,
            created_by: opt_id(r.get(12)?)?,
            updated_at: from_ms(r.get(13)?)?,
            updated_by: opt_id(r.get(14)?)?,
        },
    })
}
