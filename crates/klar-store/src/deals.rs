//! Deals in pipelines.

use crate::db::{Conn, Row, Val};
use crate::error::{Result, StoreError};
use crate::persons::check_refs;
use crate::pipelines::DEFAULT_PIPELINE;
use crate::{Actor, Page, Store, from_ms, id, ms, opt_date, opt_id};
use klar_domain::currency::Currency;
use klar_domain::error::Errors;
use klar_domain::ids::{DealId, OrganizationId, PersonId, UserId};
use klar_domain::records::{Deal, RecordType, Stage, StageKind, Stamp};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct DealEdit {
    pub title: String,
    pub value_cents: i64,
    pub currency: Currency,
    pub stage: String,
    pub person_id: Option<PersonId>,
    pub organization_id: Option<OrganizationId>,
    pub owner_id: Option<UserId>,
    pub expected_close_date: Option<jiff::civil::Date>,
    pub lost_reason: Option<String>,
    pub custom: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default)]
pub struct DealFilter {
    pub stage: Option<String>,
    pub owner: Option<UserId>,
    pub organization: Option<OrganizationId>,
    pub person: Option<PersonId>,
    pub cursor: Option<String>,
    pub limit: usize,
}

/// Sum of deal values per stage and currency, for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageTotal {
    pub stage: String,
    pub currency: String,
    pub count: i64,
    pub value_cents: i64,
}

const SELECT: &str = "SELECT d.id, d.title, d.value_cents, d.currency, p.key, d.stage, d.status, d.person_id, \
    d.organization_id, d.owner_id, d.expected_close_date, d.lost_reason, d.closed_at, d.custom, \
    d.created_at, d.created_by, d.updated_at, d.updated_by FROM deals d JOIN pipelines p ON p.id = d.pipeline_id";

impl Store {
    #[tracing::instrument(skip_all)]
    pub fn create_deal(&self, actor: Actor, e: DealEdit) -> Result<Deal> {
        let now = self.now();
        let did = DealId::from_uuid(self.next_id());
        self.db.write(|c| {
            let (pipeline_id, stage) = check_deal(c, &e)?;
            let closed_at = (stage.kind != StageKind::Open).then_some(ms(now));
            c.execute(
                "INSERT INTO deals (id, title, value_cents, currency, pipeline_id, stage, status, person_id, organization_id, owner_id, \
                 expected_close_date, lost_reason, closed_at, custom, created_at, created_by, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $15, $16)",
                &[
                    did.to_string().into(),
                    e.title.as_str().into(),
                    Val::Int(e.value_cents),
                    e.currency.as_str().into(),
                    pipeline_id.into(),
                    e.stage.as_str().into(),
                    stage.kind.as_str().into(),
                    e.person_id.map(|p| p.to_string()).into(),
                    e.organization_id.map(|p| p.to_string()).into(),
                    e.owner_id.map(|p| p.to_string()).into(),
                    e.expected_close_date.map(|d| d.to_string()).into(),
                    e.lost_reason.clone().into(),
                    closed_at.into(),
                    custom_json(&e.custom)?.into(),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok(())
        })?;
        self.get_deal(did)
    }

    pub fn get_deal(&self, did: DealId) -> Result<Deal> {
        self.db.read(|c| {
            decode(&c.query_one(
                &format!("{SELECT} WHERE d.id = $1"),
                &[did.to_string().into()],
            )?)
        })
    }

    #[tracing::instrument(skip_all, fields(deal_id = %did))]
    pub fn update_deal(
        &self,
        actor: Actor,
        did: DealId,
        edit: impl FnOnce(&mut DealEdit) -> std::result::Result<(), klar_domain::DomainError>,
    ) -> Result<Deal> {
        let now = self.now();
        self.db.write(|c| {
            let cur = decode(&c.query_one(&format!("{SELECT} WHERE d.id = $1"), &[did.to_string().into()])?)?;
            let mut e = DealEdit {
                title: cur.title,
                value_cents: cur.value_cents,
                currency: cur.currency,
                stage: cur.stage.clone(),
                person_id: cur.person_id,
                organization_id: cur.organization_id,
                owner_id: cur.owner_id,
                expected_close_date: cur.expected_close_date,
                lost_reason: cur.lost_reason,
                custom: cur.custom,
            };
            edit(&mut e)?;
            let (_, stage) = check_deal(c, &e)?;
            let closed_at = match (cur.status, stage.kind) {
                (_, StageKind::Open) => None,
                (StageKind::Open, _) => Some(ms(now)),
                (_, _) => cur.closed_at.map(ms),
            };
            c.execute(
                "UPDATE deals SET title = $2, value_cents = $3, currency = $4, stage = $5, status = $6, person_id = $7, \
                 organization_id = $8, owner_id = $9, expected_close_date = $10, lost_reason = $11, closed_at = $12, custom = $13, \
                 updated_at = $14, updated_by = $15 WHERE id = $1",
                &[
                    did.to_string().into(),
                    e.title.as_str().into(),
                    Val::Int(e.value_cents),
                    e.currency.as_str().into(),
                    e.stage.as_str().into(),
                    stage.kind.as_str().into(),
                    e.person_id.map(|p| p.to_string()).into(),
                    e.organization_id.map(|p| p.to_string()).into(),
                    e.owner_id.map(|p| p.to_string()).into(),
                    e.expected_close_date.map(|d| d.to_string()).into(),
                    e.lost_reason.clone().into(),
                    closed_at.into(),
                    custom_json(&e.custom)?.into(),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok(())
        })?;
        self.get_deal(did)
    }

    pub fn list_deals(&self, f: &DealFilter) -> Result<Page<Deal>> {
        let limit = f.limit.clamp(1, 500);
        let mut sql = format!("{SELECT} WHERE 1 = 1");
        let mut params: Vec<Val> = Vec::new();
        for (col, v) in [
            ("d.stage", f.stage.clone()),
            ("d.owner_id", f.owner.map(|x| x.to_string())),
            ("d.organization_id", f.organization.map(|x| x.to_string())),
            ("d.person_id", f.person.map(|x| x.to_string())),
        ] {
            if let Some(v) = v {
                params.push(v.into());
                sql.push_str(&format!(" AND {col} = ${}", params.len()));
            }
        }
        crate::fetch_page::<_, DealId>(
            &self.db,
            sql,
            params,
            crate::Order::Id("d.id"),
            f.cursor.as_deref(),
            limit,
            decode,
            |x| x.id.to_string(),
        )
    }

    /// Count and value of the deals in each stage of the default pipeline (open, won and
    /// lost stages alike), per currency.
    pub fn pipeline_totals(&self) -> Result<Vec<StageTotal>> {
        self.db.read(|c| {
            c.query(
                "SELECT d.stage, d.currency, COUNT(*), SUM(d.value_cents) FROM deals d JOIN pipelines p ON p.id = d.pipeline_id \
                 WHERE p.key = $1 GROUP BY d.stage, d.currency ORDER BY d.stage, d.currency",
                &[DEFAULT_PIPELINE.into()],
            )?
            .iter()
            .map(|r| Ok(StageTotal { stage: r.get(0)?, currency: r.get(1)?, count: r.get(2)?, value_cents: r.get(3)? }))
            .collect()
        })
    }

    pub fn count_deals(&self) -> Result<i64> {
        self.db
            .read(|c| c.query_one("SELECT COUNT(*) FROM deals", &[])?.get(0))
    }
}

fn custom_json(m: &BTreeMap<String, serde_json::Value>) -> Result<String> {
    serde_json::to_string(m).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn check_deal(c: &Conn<'_>, e: &DealEdit) -> Result<(String, Stage)> {
    check_refs(c, e.organization_id, e.owner_id)?;
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
    let row = c.query_opt(
        "SELECT p.id, s.key, s.name_de, s.name_en, s.position, s.kind FROM pipeline_stages s JOIN pipelines p ON p.id = s.pipeline_id \
         WHERE p.key = $1 AND s.key = $2",
        &[DEFAULT_PIPELINE.into(), e.stage.as_str().into()],
    )?;
    let Some(row) = row else {
        errs.push("stage", "is not a stage of the pipeline");
        errs.finish()?;
        return Err(StoreError::NotFound);
    };
    let stage = Stage {
        key: row.get(1)?,
        name_de: row.get(2)?,
        name_en: row.get(3)?,
        position: row.get(4)?,
        kind: StageKind::parse(&row.get::<String>(5)?)
            .map_err(|_| StoreError::Corrupt("stage kind".into()))?,
    };
    if e.lost_reason.is_some() && stage.kind != StageKind::Lost {
        errs.push("lost_reason", "may only be given for a lost deal");
    }
    if e.value_cents < 0 {
        errs.push("value_cents", "must not be negative");
    }
    errs.finish()?;
    crate::custom_fields::check_values(c, RecordType::Deal, &e.custom)?;
    Ok((row.get(0)?, stage))
}

fn decode(r: &Row) -> Result<Deal> {
    let custom: String = r.get(13)?;
    Ok(Deal {
        id: id(r.get::<String>(0)?)?,
        title: r.get(1)?,
        value_cents: r.get(2)?,
        currency: Currency::parse(&r.get::<String>(3)?)
            .map_err(|_| StoreError::Corrupt("currency".into()))?,
        pipeline: r.get(4)?,
        stage: r.get(5)?,
        status: StageKind::parse(&r.get::<String>(6)?)
            .map_err(|_| StoreError::Corrupt("status".into()))?,
        person_id: opt_id(r.get(7)?)?,
        organization_id: opt_id(r.get(8)?)?,
        owner_id: opt_id(r.get(9)?)?,
        expected_close_date: opt_date(r.get(10)?)?,
        lost_reason: r.get(11)?,
        closed_at: r.get::<Option<i64>>(12)?.map(from_ms).transpose()?,
        custom: serde_json::from_str(&custom)
            .map_err(|_| StoreError::Corrupt("custom fields".into()))?,
        stamp: Stamp {
            created_at: from_ms(r.get(14)?)?,
            created_by: opt_id(r.get(15)?)?,
            updated_at: from_ms(r.get(16)?)?,
            updated_by: opt_id(r.get(17)?)?,
        },
    })
}
