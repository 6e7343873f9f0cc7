//! Every error of the HTTP layer is an RFC 9457 problem document. Internal errors are
//! logged with ids only and never shown to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use klar_domain::{DomainError, FieldError};
use klar_store::StoreError;
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// A readable explanation of this occurrence.
    pub detail: String,
    /// For validation problems: each invalid field and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// For refusals by the policy gate: the machine-readable reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// A refusal by the privacy rules: 403 with a machine-readable `reason_code`.
    #[error("{detail}")]
    Refused { reason_code: String, detail: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    Gone(String),
    #[error("internal error")]
    Internal(String),
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(v) => AppError::Invalid(v),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("no such record".into()),
            StoreError::Erased => AppError::Gone("this person has been erased".into()),
            StoreError::Invalid(d) => d.into(),
            StoreError::Conflict(m) => AppError::Conflict(m),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(format!("background task failed: {e}"))
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::Refused { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Invalid(_) | AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (kind, title, detail, errors) = match self {
            AppError::Invalid(fields) => (
                "urn:klar:problem:validation",
                "Invalid input",
                format!(
                    "{} field(s) are invalid: {}",
                    fields.len(),
                    fields
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                fields
                    .iter()
                    .map(|f| ProblemField {
                        field: f.field.clone(),
                        message: f.message.clone(),
                    })
                    .collect(),
            ),
            AppError::Unauthorized => (
                "urn:klar:problem:unauthorized",
                "Authentication required",
                "send an API token as 'Authorization: Bearer TOKEN' or log in".to_string(),
                vec![],
            ),
            AppError::Internal(_) => (
                "urn:klar:problem:internal",
                "Internal error",
                "the server could not complete the request; the error was logged".to_string(),
                vec![],
            ),
            other => (
                match other {
                    AppError::Forbidden(_) => "urn:klar:problem:forbidden",
                    AppError::Refused { .. } => "urn:klar:problem:refused-by-policy",
                    AppError::NotFound(_) => "urn:klar:problem:not-found",
                    AppError::Conflict(_) => "urn:klar:problem:conflict",
                    AppError::UnsupportedMediaType(_) => "urn:klar:problem:unsupported-media-type",
                    AppError::PayloadTooLarge(_) => "urn:klar:problem:payload-too-large",
                    AppError::MethodNotAllowed(_) => "urn:klar:problem:method-not-allowed",
                    AppError::Unprocessable(_) => "urn:klar:problem:unprocessable",
                    AppError::Unavailable(_) => "urn:klar:problem:unavailable",
                    AppError::BadGateway(_) => "urn:klar:problem:bad-gateway",
                    AppError::Gone(_) => "urn:klar:problem:gone",
                    _ => "urn:klar:problem:bad-request",
                },
                status.canonical_reason().unwrap_or("Error"),
                other.to_string(),
                vec![],
            ),
        };
        let reason_code = match self {
            AppError::Refused { reason_code, .. } => Some(reason_code.clone()),
            _ => None,
        };
        Problem {
            kind: kind.into(),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors,
            reason_code,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(msg) = &self {
            tracing::error!(error = %msg, "internal error");
        }
        problem_response(self.status(), &self.problem())
    }
}

pub fn problem_response(status: StatusCode, p: &Problem) -> Response {
    let body = serde_json::to_vec(p).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

pub type AppResult<T> = Result<T, AppError>;
