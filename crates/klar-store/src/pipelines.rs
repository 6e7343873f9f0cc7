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
        self.db.write(|c| {
            if c.query_opt("SELECT id FROM pipelines WHERE key = $1", &[DEFAULT_PIPELINE.into()])?.is_some() {
                return Ok(());
            }
            let pid = PipelineId::from_uuid(self.next_id()).to_string();
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
                 JOIN pipelines p ON p.id = s.pipeline_id WHERE p.key = $1 ORDER BY s.position, s.key",
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

/// A change to a stage: names and board position. The kind (open, won, lost) of a stage
/// never changes, so that closed deals stay closed.
#[derive(Debug, Clone, Default)]
pub struct StagePatch {
    pub name_de: Option<String>,
    pub name_en: Option<String>,
    pub position: Option<i64>,
}

impl Store {
    /// Adds a stage to a pipeline.
    pub fn add_stage(&self, pipeline: &str, stage: &Stage) -> Result<Vec<Stage>> {
        self.db.write(|c| {
            let pid: String = c
                .query_one("SELECT id FROM pipelines WHERE key = $1", &[pipeline.into()])?
                .get(0)?;
            if c.query_opt(
                "SELECT key FROM pipeline_stages WHERE pipeline_id = $1 AND key = $2",
                &[pid.as_str().into(), stage.key.as_str().into()],
            )?
            .is_some()
            {
                return Err(StoreError::Invalid(klar_domain::DomainError::field(
                    "key",
                    "is already a stage of this pipeline",
                )));
            }
            c.execute(
                "INSERT INTO pipeline_stages (pipeline_id, key, name_de, name_en, position, kind) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    pid.as_str().into(),
                    stage.key.as_str().into(),
                    stage.name_de.as_str().into(),
                    stage.name_en.as_str().into(),
                    Val::Int(stage.position),
                    stage.kind.as_str().into(),
                ],
            )?;
            Ok(())
        })?;
        self.stages(pipeline)
    }

    /// Renames or moves a stage.
    pub fn update_stage(
        &self,
        pipeline: &str,
        key: &str,
        patch: &StagePatch,
    ) -> Result<Vec<Stage>> {
        self.db.write(|c| {
            let pid: String = c
                .query_one("SELECT id FROM pipelines WHERE key = $1", &[pipeline.into()])?
                .get(0)?;
            let n = c.execute(
                "UPDATE pipeline_stages SET name_de = COALESCE($3, name_de), name_en = COALESCE($4, name_en), \
                 position = COALESCE($5, position) WHERE pipeline_id = $1 AND key = $2",
                &[
                    pid.as_str().into(),
                    key.into(),
                    patch.name_de.clone().into(),
                    patch.name_en.clone().into(),
                    patch.position.map(Val::Int).unwrap_or(Val::Null),
                ],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })?;
        self.stages(pipeline)
    }

    /// Removes a stage that holds no deal.
    pub fn remove_stage(&self, pipeline: &str, key: &str) -> Result<Vec<Stage>> {
        self.db.write(|c| {
            let pid: String = c
                .query_one(
                    "SELECT id FROM pipelines WHERE key = $1",
                    &[pipeline.into()],
                )?
                .get(0)?;
            if c.query_opt(
                "SELECT id FROM deals WHERE pipeline_id = $1 AND stage = $2 LIMIT 1",
                &[pid.as_str().into(), key.into()],
            )?
            .is_some()
            {
                return Err(StoreError::Conflict(
                    "the stage still holds deals; move them to another stage first".into(),
                ));
            }
            let kinds: Vec<String> = c
                .query(
                    "SELECT kind FROM pipeline_stages WHERE pipeline_id = $1 AND key <> $2",
                    &[pid.as_str().into(), key.into()],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect::<Result<_>>()?;
            if !kinds.iter().any(|k| k == "open") {
                return Err(StoreError::Conflict(
                    "a pipeline keeps at least one open stage".into(),
                ));
            }
            let n = c.execute(
                "DELETE FROM pipeline_stages WHERE pipeline_id = $1 AND key = $2",
                &[pid.as_str().into(), key.into()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })?;
        self.stages(pipeline)
    }
}
