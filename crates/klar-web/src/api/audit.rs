//! The audit trail for the privacy officer: who read or changed whose data, what the
//! policy gate decided and why. Entries carry ids and codes only.

use super::common::{List, limit};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppResult, Problem};
use crate::extract::ApiQuery;
use axum::Json;
use axum::extract::State;
use klar_domain::error::Errors;
use klar_domain::error::ValueError;
use klar_domain::ids::PersonId;
use klar_domain::role::Permission;
use klar_store::audit::{AuditAction, AuditEntry, AuditFilter, AuditRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this person.
    pub person_id: Option<String>,
    /// `user:ID`, `system`, `data_subject` or `anonymous`.
    pub actor: Option<String>,
    /// e.g. `person.read`, `decision`, `consent.grant`, `login.failed`.
    pub action: Option<String>,
    /// RFC 3339 instant; entries at or after it.
    pub since: Option<String>,
    /// RFC 3339 instant; entries before it.
    pub until: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl AuditQuery {
    pub fn filter(&self) -> AppResult<AuditFilter> {
        let mut errs = Errors::new();
        let person_id = self.person_id.as_deref().and_then(|s| {
            errs.take(
                "person_id",
                s.trim()
                    .parse::<PersonId>()
                    .map_err(|_| ValueError::new("is not a valid id")),
            )
        });
        let action = self.action.as_deref().and_then(|s| {
            errs.take(
                "action",
                AuditAction::parse(s).ok_or_else(|| ValueError::new("is not a known audit action")),
            )
        });
        let instant = |errs: &mut Errors, field: &str, v: &Option<String>| {
            v.as_deref().and_then(|s| {
                errs.take(
                    field,
                    s.trim()
                        .parse::<jiff::Timestamp>()
                        .map_err(|_| ValueError::new("must be an RFC 3339 instant")),
                )
            })
        };
        let since = instant(&mut errs, "since", &self.since);
        let until = instant(&mut errs, "until", &self.until);
        let before_seq = self.cursor.as_deref().and_then(|c| {
            errs.take(
                "cursor",
                klar_store::cursor::decode::<i64>(c)
                    .ok_or_else(|| ValueError::new("is not a cursor this server issued")),
            )
        });
        let limit = limit(self.limit)?;
        errs.finish()?;
        Ok(AuditFilter {
            person_id,
            actor: self.actor.as_deref().map(|a| a.trim().to_owned()),
            action,
            since,
            until,
            before_seq,
            limit,
        })
    }
}

/// One entry of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    /// Position in the trail; grows by one per entry.
    pub seq: i64,
    pub at: String,
    /// `user:ID`, `system`, `data_subject` or `anonymous`.
    pub actor: String,
    pub action: String,
    pub person_id: Option<String>,
    /// Another record concerned, as `kind:id`.
    pub object: Option<String>,
    pub purpose: Option<String>,
    pub channel: Option<String>,
    /// The rule of LAW.md that decided (gate decisions).
    pub rule: Option<String>,
    /// The gate's `reason_code`, or another short code.
    pub outcome: Option<String>,
}

impl From<AuditRecord> for AuditOut {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            at: r.at.to_string(),
            actor: r.actor,
            action: r.action,
            person_id: r.person_id,
            object: r.object,
            purpose: r.purpose,
            channel: r.channel,
            rule: r.rule,
            outcome: r.outcome,
        }
    }
}

/// Reads the audit trail, newest first (privacy officer). Reading it is audited too.
#[utoipa::path(get, path = "/api/v1/audit", tag = "privacy", params(AuditQuery),
    responses((status = 200, body = List<AuditOut>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_audit(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Json<List<AuditOut>>> {
    auth.require(Permission::ManagePrivacy)?;
    let f = q.filter()?;
    let mut read = AuditEntry::new(auth.actor(), AuditAction::AuditRead);
    read.person_id = f.person_id;
    let page = state
        .blocking(move |s| {
            let page = s.audit_entries(&f)?;
            s.audit(read);
            Ok(page)
        })
        .await?;
    Ok(Json(List {
        items: page.items.into_iter().map(AuditOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
