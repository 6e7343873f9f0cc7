//! Who is calling: an API token (`Authorization: Bearer`) or a web session cookie.
//! Every handler asks for one [`Permission`] through [`Auth::require`]; the matrix in
//! `klar_domain::role` is the only place that decides.

use crate::AppState;
use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use klar_domain::role::Permission;
use klar_store::Actor;
use klar_store::users::{Session, SessionLookup, SessionStage, User};

/// Whether a session is fully logged in: the second factor was given (or the account has
/// none and its role needs none).
pub fn logged_in(s: &Session, config: &crate::WebConfig) -> bool {
    s.stage == SessionStage::Complete && !needs_enrolment(s, config)
}

/// Whether the account must enrol an authenticator before it can do anything.
pub fn needs_enrolment(s: &Session, config: &crate::WebConfig) -> bool {
    config.totp_required(s.user.role) && !s.totp_enabled
}

pub const SESSION_COOKIE: &str = "klar_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Debug, Clone)]
pub enum Credential {
    Token,
    Session { csrf_token: String },
}

#[derive(Debug, Clone)]
pub struct Auth {
    pub user: User,
    pub credential: Credential,
}

impl Auth {
    pub fn require(&self, p: Permission) -> Result<&Self, AppError> {
        if self.user.role.allows(p) {
            Ok(self)
        } else {
            tracing::info!(user_id = %self.user.id, permission = p.as_str(), "permission denied");
            Err(AppError::Forbidden(format!(
                "the role {} does not have the permission {}",
                self.user.role.as_str(),
                p.as_str()
            )))
        }
    }

    /// Whether the caller may read the person `pid`: with `read_crm`, or (an administrator)
    /// through a break-glass grant in force for exactly this person (decision 0016). The one
    /// place that decides reading a person; the person read handlers (API and page) ask it.
    /// `Ok(Some(grant id))` when the access rests on a grant, for the audit entry.
    pub fn can_read_person(
        &self,
        store: &klar_store::Store,
        pid: klar_domain::ids::PersonId,
    ) -> Result<Option<String>, AppError> {
        if self.user.role.allows(Permission::ReadCrm) {
            return Ok(None);
        }
        if self.user.role.allows(Permission::RequestAccess)
            && let Some(grant) = store.grant_in_force(self.user.id, pid)?
        {
            return Ok(Some(grant));
        }
        self.require(Permission::ReadCrm).map(|_| None)
    }

    /// The audit entry of reading person `pid`, naming the grant it rested on, if any.
    pub fn person_read_entry(
        &self,
        pid: klar_domain::ids::PersonId,
        grant: Option<&str>,
    ) -> klar_store::audit::AuditEntry {
        let e = klar_store::audit::AuditEntry::new(
            self.actor(),
            klar_store::audit::AuditAction::PersonRead,
        )
        .person(pid);
        match grant {
            Some(g) => e.object("access_grant", g),
            None => e,
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::user(self.user.id)
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Refuses cross-site requests that carry cookies (CSRF defence in depth, on top of the
/// per-session token and SameSite=Strict cookies).
pub fn check_same_origin(headers: &HeaderMap, public_url: &str) -> Result<(), AppError> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site == "cross-site"
    {
        return Err(AppError::Forbidden(
            "cross-site requests are refused".into(),
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let same_host = origin.split_once("://").map(|(_, h)| h) == Some(host);
        if origin != public_url && !same_host {
            return Err(AppError::Forbidden(
                "the request's origin is not this server".into(),
            ));
        }
    }
    Ok(())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(h) = parts.headers.get(header::AUTHORIZATION) {
            let token = h
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or(AppError::Unauthorized)?;
            let user = state
                .store
                .user_by_token(token)?
                .ok_or(AppError::Unauthorized)?;
            return Ok(Auth {
                user,
                credential: Credential::Token,
            });
        }
        let sid = cookie(&parts.headers, SESSION_COOKIE).ok_or(AppError::Unauthorized)?;
        let session = match state.store.session(sid, state.config.session_idle)? {
            SessionLookup::Active(s) if logged_in(&s, &state.config) => s,
            // Half-logged-in (code pending, or an authenticator still to enrol), expired,
            // revoked or unknown: nothing is granted.
            _ => return Err(AppError::Unauthorized),
        };
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if unsafe_method {
            check_same_origin(&parts.headers, &state.config.public_url)?;
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !klar_crypto::constant_time_eq(sent.as_bytes(), session.csrf_token.as_bytes()) {
                return Err(AppError::Forbidden("missing or wrong CSRF token".into()));
            }
        }
        Ok(Auth {
            user: session.user,
            credential: Credential::Session {
                csrf_token: session.csrf_token,
            },
        })
    }
}
