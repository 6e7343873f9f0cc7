//! Pieces shared by the API handlers: list envelopes, id parsing, idempotent creation.

use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use klar_store::idempotency::{Recorded, request_hash};
use serde::{Deserialize, Deserializer, Serialize};

/// Who made and last changed a record, and when (RFC 3339 times, staff account ids).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StampOut {
    pub created_at: String,
    pub created_by: Option<String>,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

impl From<&klar_domain::records::Stamp> for StampOut {
    fn from(s: &klar_domain::records::Stamp) -> Self {
        StampOut {
            created_at: s.created_at.to_string(),
            created_by: s.created_by.map(|u| u.to_string()),
            updated_at: s.updated_at.to_string(),
            updated_by: s.updated_by.map(|u| u.to_string()),
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

pub fn limit(l: Option<usize>) -> AppResult<usize> {
    match l {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AppError::Invalid(vec![klar_domain::FieldError::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )])),
    }
}

/// Parses an id from the path; anything that is not one of ours is simply not found.
pub fn path_id<T: std::str::FromStr>(s: &str, what: &str) -> AppResult<T> {
    s.parse::<T>()
        .map_err(|_| AppError::NotFound(format!("no {what} with this id")))
}

/// Parses an optional id given in a body or query field.
pub fn field_id<T: std::str::FromStr>(
    s: Option<&str>,
    field: &str,
    errs: &mut klar_domain::error::Errors,
) -> Option<T> {
    let s = s?;
    match s.parse::<T>() {
        Ok(v) => Some(v),
        Err(_) => {
            errs.push(field, "is not a valid id");
            None
        }
    }
}

/// Applies submitted custom field values: `null` removes a value, anything else sets it
/// (checked against the field definitions by the store).
pub fn merge_custom(
    target: &mut std::collections::BTreeMap<String, serde_json::Value>,
    submitted: &std::collections::BTreeMap<String, serde_json::Value>,
) {
    for (k, v) in submitted {
        if v.is_null() {
            target.remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
}

/// Distinguishes an absent field from an explicit `null` (which clears the value).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Creation with `Idempotency-Key`: a retry with the same key and body returns the
/// resource made the first time (status and body as then, with `Idempotency-Replayed`).
pub async fn idempotent_create<T, F, G>(
    state: &AppState,
    auth: &Auth,
    headers: &HeaderMap,
    route: &str,
    raw: &[u8],
    create: F,
    fetch: G,
) -> AppResult<Response>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&klar_store::Store) -> AppResult<(String, T)> + Send + 'static,
    G: FnOnce(&klar_store::Store, &str) -> AppResult<T> + Send + 'static,
{
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v.to_str().map_err(|_| {
                AppError::BadRequest("Idempotency-Key must be visible ASCII".into())
            })?;
            if k.is_empty() || k.len() > 255 {
                return Err(AppError::BadRequest(
                    "Idempotency-Key must be 1 to 255 characters".into(),
                ));
            }
            Some(k.to_string())
        }
    };
    let Some(key) = key else {
        let (_, body) = state.blocking(create).await?;
        return Ok((StatusCode::CREATED, axum::Json(body)).into_response());
    };
    let uid = auth.user.id;
    let hash = request_hash(route, raw);
    let route = route.to_string();
    state
        .blocking(
            move |store| match store.idempotency_lookup(uid, &key, &hash)? {
                Recorded::Replay {
                    status,
                    resource_id,
                } => {
                    let body = fetch(store, &resource_id)?;
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
                    let mut r = (status, axum::Json(body)).into_response();
                    r.headers_mut()
                        .insert("idempotency-replayed", HeaderValue::from_static("true"));
                    Ok(r)
                }
                Recorded::Mismatch => Err(AppError::Unprocessable(format!(
                    "this Idempotency-Key was already used for a different request to {route}"
                ))),
                Recorded::New => {
                    let (id, body) = create(store)?;
                    store.idempotency_record(
                        uid,
                        &key,
                        &hash,
                        StatusCode::CREATED.as_u16(),
                        &id,
                    )?;
                    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
                }
            },
        )
        .await
}

pub async fn api_not_found() -> AppError {
    AppError::NotFound("there is no such API endpoint".into())
}
