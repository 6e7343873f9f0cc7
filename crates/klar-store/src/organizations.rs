//! Organizations (companies). Data about legal persons, stored in clear.

use crate::db::{Row, Val};
use crate::error::{Result, StoreError};
use crate::persons::check_refs;
use crate::{Actor, Page, Store, from_ms, id, ms, opt_id};
use klar_domain::ids::{OrganizationId, UserId};
use klar_domain::records::{Address, Organization, RecordType, Stamp};
use klar_domain::search::name_tokens;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct OrganizationEdit {
    pub name: String,
    pub address: Option<Address>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub owner_id: Option<UserId>,
    pub custom: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default)]
pub struct OrganizationFilter {
    pub q: Option<String>,
    pub owner: Option<UserId>,
    pub cursor: Option<String>,
    pub limit: usize,
}

const SELECT: &str = "SELECT id, name, street, postal_code, city, country, website, industry, owner_id, custom, \
    created_at, created_by, updated_at, updated_by FROM organizations";

fn norm(name: &str) -> String {
    name_tokens(name).join(" ")
}

fn custom_json(m: &BTreeMap<String, serde_json::Value>) -> Result<String> {
    serde_json::to_string(m).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub fn create_organization(&self, actor: Actor, e: OrganizationEdit) -> Result<Organization> {
        let now = self.now();
        let oid = OrganizationId::from_uuid(self.next_id());
        self.db.write(|c| {
            check_refs(c, None, e.owner_id)?;
            crate::custom_fields::check_values(c, RecordType::Organization, &e.custom)?;
            let a = e.address.clone().unwrap_or_default();
            c.execute(
                "INSERT INTO organizations (id, name, name_norm, street, postal_code, city, country, website, industry, owner_id, custom, \
                 created_at, created_by, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $12, $13)",
                &[
                    oid.to_string().into(),
                    e.name.as_str().into(),
                    norm(&e.name).into(),
                    a.street.into(),
                    a.postal_code.into(),
                    a.city.into(),
                    a.country.into(),
                    e.website.clone().into(),
                    e.industry.clone().into(),
                    e.owner_id.map(|u| u.to_string()).into(),
                    custom_json(&e.custom)?.into(),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok(())
        })?;
        self.get_organization(oid)
    }

    pub fn get_organization(&self, oid: OrganizationId) -> Result<Organization> {
        self.db.read(|c| {
            decode(&c.query_one(
                &format!("{SELECT} WHERE id = $1"),
                &[oid.to_string().into()],
            )?)
        })
    }

    /// Several organizations at once (for lists that show organization names).
    pub fn organizations_by_ids(&self, ids: &[OrganizationId]) -> Result<Vec<Organization>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let params: Vec<Val> = ids.iter().map(|i| Val::Text(i.to_string())).collect();
        self.db.read(|c| {
            c.query(
                &format!(
                    "{SELECT} WHERE id IN ({})",
                    crate::db::Conn::placeholders(1, ids.len())
                ),
                &params,
            )?
            .iter()
            .map(decode)
            .collect()
        })
    }

    #[tracing::instrument(skip_all, fields(organization_id = %oid))]
    pub fn update_organization(
        &self,
        actor: Actor,
        oid: OrganizationId,
        edit: impl FnOnce(&mut OrganizationEdit) -> std::result::Result<(), klar_domain::DomainError>,
    ) -> Result<Organization> {
        let now = self.now();
        self.db.write(|c| {
            let cur = decode(&c.query_one(&format!("{SELECT} WHERE id = $1"), &[oid.to_string().into()])?)?;
            let mut e = OrganizationEdit {
                name: cur.name,
                address: cur.address,
                website: cur.website,
                industry: cur.industry,
                owner_id: cur.owner_id,
                custom: cur.custom,
            };
            edit(&mut e)?;
            check_refs(c, None, e.owner_id)?;
            crate::custom_fields::check_values(c, RecordType::Organization, &e.custom)?;
            let a = e.address.clone().unwrap_or_default();
            c.execute(
                "UPDATE organizations SET name = $2, name_norm = $3, street = $4, postal_code = $5, city = $6, country = $7, \
                 website = $8, industry = $9, owner_id = $10, custom = $11, updated_at = $12, updated_by = $13 WHERE id = $1",
                &[
                    oid.to_string().into(),
                    e.name.as_str().into(),
                    norm(&e.name).into(),
                    a.street.into(),
                    a.postal_code.into(),
                    a.city.into(),
                    a.country.into(),
                    e.website.clone().into(),
                    e.industry.clone().into(),
                    e.owner_id.map(|u| u.to_string()).into(),
                    custom_json(&e.custom)?.into(),
                    Val::Int(ms(now)),
                    actor.user_id.map(|u| u.to_string()).into(),
                ],
            )?;
            Ok(())
        })?;
        self.get_organization(oid)
    }

    pub fn list_organizations(&self, f: &OrganizationFilter) -> Result<Page<Organization>> {
        let limit = f.limit.clamp(1, 200);
        let mut sql = format!("{SELECT} WHERE 1 = 1");
        let mut params: Vec<Val> = Vec::new();
        if let Some(q) = f.q.as_deref().map(norm).filter(|q| !q.is_empty()) {
            // Prefix of the name, or of any word in it.
            params.push(format!("{q}%").into());
            params.push(format!("% {q}%").into());
            sql.push_str(&format!(
                " AND (name_norm LIKE ${} OR name_norm LIKE ${})",
                params.len() - 1,
                params.len()
            ));
        }
        if let Some(o) = f.owner {
            params.push(o.to_string().into());
            sql.push_str(&format!(" AND owner_id = ${}", params.len()));
        }
        crate::fetch_page::<_, OrganizationId>(
            &self.db,
            sql,
            params,
            crate::Order::Id("id"),
            f.cursor.as_deref(),
            limit,
            decode,
            |x| x.id.to_string(),
        )
    }

    pub fn count_organizations(&self) -> Result<i64> {
        self.db.read(|c| {
            c.query_one("SELECT COUNT(*) FROM organizations", &[])?
                .get(0)
        })
    }
}

fn decode(r: &Row) -> Result<Organization> {
    let address = Address {
        street: r.get(2)?,
        postal_code: r.get(3)?,
        city: r.get(4)?,
        country: r.get(5)?,
    };
    let custom: String = r.get(9)?;
    Ok(Organization {
        id: id(r.get::<String>(0)?)?,
        name: r.get(1)?,
        address: (!address.is_empty()).then_some(address),
        website: r.get(6)?,
        industry: r.get(7)?,
        owner_id: opt_id(r.get(8)?)?,
        custom: serde_json::from_str(&custom)
            .map_err(|_| StoreError::Corrupt("custom fields".into()))?,
        stamp: Stamp {
            created_at: from_ms(r.get(10)?)?,
            created_by: opt_id(r.get(11)?)?,
            updated_at: from_ms(r.get(12)?)?,
            updated_by: opt_id(r.get(13)?)?,
        },
    })
}
