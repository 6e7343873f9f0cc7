//! Pipelines and their stages.

use crate::Store;
use crate::db::Val;
use crate::error::{Result, StoreError};
use klar_domain::ids::PipelineId;
use klar_domain::records::{Stage, StageKind, default_stages};

pub const DEFAULT_PIPELINE: &str = "default";

impl Store {
    /// Creates the default sales pipeline on a new installation.
    pub(crate) fn ensure_default_pipeline(&self) -> Result<()> {
        let now = self.now();
        self.db.write(|c| {
            if c.query_opt("SELECT id FROM pipelines WHERE key = $1", &[DEFAULT_PIPELINE.into()])?.is_some() {
                return Ok(());
            }
            let pid = PipelineId::generate(now, &mut rand::rngs::OsRng).to_string();
            c.execute(
                "INSERT INTO pipelines (id, key, name, is_default) VALUES ($1, $2, $3, 1)",
                &[pid.as_str().into(), DEFAULT_PIPELINE.into(), "Vertrieb".into()],
            )?;
            for s in default_stages() {
                c.execute(
                    "INSERT INTO pipeline_stages (pipeline_id, key, name_de, name_en, position, kind) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[pid.as_str().into(), s.key.into(), s.name_de.into(), s.name_en.into(), Val::Int(s.position), s.kind.as_str().into()],
                )?;
            }
            Ok(())
        })
    }

    /// The stages of a pipeline in board order.
    pub fn stages(&self, pipeline: &str) -> Result<Vec<Stage>> {
        self.db.read(|c| {
            let rows = c.query(
                "SELECT s.key, s.name_de, s.name_en, s.position, s.kind FROM pipeline_stages s \
                 JOIN pipelines p ON p.id = s.pipeline_id WHERE p.key = $1 ORDER BY s.position",
                &[pipeline.into()],
            )?;
            if rows.is_empty() {
                return Err(StoreError::NotFound);
            }
            rows.iter()
                .map(|r| {
                    Ok(Stage {
                        key: r.get(0)?,
                        name_de: r.get(1)?,
                        name_en: r.get(2)?,
                        position: r.get(3)?,
                        kind: StageKind::parse(&r.get::<String>(4)?)
                            .map_err(|_| StoreError::Corrupt("stage kind".into()))?,
                    })
                })
                .collect()
        })
    }
}
