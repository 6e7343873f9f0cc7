//! Custom field definitions per record type, and the check of values against them.

use crate::db::{Conn, Val};
use crate::error::{Result, StoreError};
use crate::{Store, ms};
use klar_domain::error::Errors;
use klar_domain::records::{CustomFieldDef, FieldType, RecordType};
use std::collections::BTreeMap;

impl Store {
    pub fn define_custom_field(&self, def: &CustomFieldDef) -> Result<()> {
        let now = self.now();
        let options =
            serde_json::to_string(&def.options).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.db.write(|c| {
            if c.query_opt(
                "SELECT key FROM custom_field_defs WHERE record_type = $1 AND key = $2",
                &[def.record_type.as_str().into(), def.key.as_str().into()],
            )?
            .is_some()
            {
                return Err(StoreError::Invalid(klar_domain::DomainError::field("key", "is already defined for this record type")));
            }
            c.execute(
                "INSERT INTO custom_field_defs (record_type, key, label, field_type, options, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    def.record_type.as_str().into(),
                    def.key.as_str().into(),
                    def.label.as_str().into(),
                    def.field_type.as_str().into(),
                    options.into(),
                    Val::Int(ms(now)),
                ],
            )?;
            Ok(())
        })
    }

    pub fn custom_fields(&self, rt: RecordType) -> Result<Vec<CustomFieldDef>> {
        self.db.read(|c| defs(c, rt))
    }
}

fn defs(c: &Conn<'_>, rt: RecordType) -> Result<Vec<CustomFieldDef>> {
    c.query(
        "SELECT key, label, field_type, options FROM custom_field_defs WHERE record_type = $1 ORDER BY key",
        &[rt.as_str().into()],
    )?
    .iter()
    .map(|r| {
        Ok(CustomFieldDef {
            record_type: rt,
            key: r.get(0)?,
            label: r.get(1)?,
            field_type: FieldType::parse(&r.get::<String>(2)?).map_err(|_| StoreError::Corrupt("field type".into()))?,
            options: serde_json::from_str(&r.get::<String>(3)?).map_err(|_| StoreError::Corrupt("options".into()))?,
        })
    })
    .collect()
}

/// Every value must belong to a defined field of the record type and fit its type.
pub(crate) fn check_values(
    c: &Conn<'_>,
    rt: RecordType,
    values: &BTreeMap<String, serde_json::Value>,
) -> Result<()> {
    if values.is_empty() {
        return Ok(());
    }
    let defs = defs(c, rt)?;
    let mut errs = Errors::new();
    for (k, v) in values {
        match defs.iter().find(|d| &d.key == k) {
            None => errs.push(
                format!("custom_fields.{k}"),
                "is not a defined custom field",
            ),
            Some(d) => {
                if let Err(e) = d.check(v) {
                    errs.push(format!("custom_fields.{k}"), e.0);
                }
            }
        }
    }
    Ok(errs.finish()?)
}
