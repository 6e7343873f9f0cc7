//! Login, logout and the session extractor of the UI.

use super::{Layout, render};
use crate::AppState;
use crate::auth::{SESSION_COOKIE, check_same_origin, cookie};
use crate::error::AppError;
use crate::extract::UiForm;
use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::role::Permission;
use klar_store::users::Session;
use serde::Deserialize;

/// How long a web session lasts without a new login.
pub const SESSION_HOURS: i64 = 12;

/// A logged-in browser. Without a valid session the request is redirected to `/login`.
pub struct UiSession {
    pub session: Session,
    pub headers: HeaderMap,
}

impl UiSession {
    pub fn layout(&self, active: &'static str) -> Layout {
        Layout::for_session(&self.session, &self.headers, active)
    }

    /// Checks a permission; a denial renders the error page in the user's language.
    // The error is the finished response, returned straight from the handler.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, p: Permission) -> Result<(), Response> {
        if self.session.user.role.allows(p) {
            Ok(())
        } else {
            let layout = self.layout("");
            let message = layout.t.get("error-forbidden").to_string();
            Err(render(
                StatusCode::FORBIDDEN,
                &super::ErrorPage {
                    p: layout,
                    status: 403,
                    message,
                },
            ))
        }
    }

    /// Verifies the CSRF token of a submitted form and the request's origin.
    #[allow(clippy::result_large_err)]
    pub fn check_form(&self, csrf: &str, public_url: &str) -> Result<(), Response> {
        check_same_origin(&self.headers, public_url).map_err(IntoResponse::into_response)?;
        if klar_crypto::constant_time_eq(csrf.as_bytes(), self.session.csrf_token.as_bytes()) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "the form's CSRF token is missing or wrong; reload the page".into(),
            )
            .into_response())
        }
    }
}

impl FromRequestParts<AppState> for UiSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = cookie(&parts.headers, SESSION_COOKIE)
            .map(|sid| state.store.session(sid))
            .transpose()
            .map_err(|e| AppError::from(e).into_response())?
            .flatten();
        match session {
            Some(session) => Ok(UiSession {
                session,
                headers: parts.headers.clone(),
            }),
            None => Err(Redirect::to("/login").into_response()),
        }
    }
}

pub async fn home(session: Option<UiSession>) -> Redirect {
    match session {
        Some(s) if s.session.user.role.allows(Permission::ReadCrm) => Redirect::to("/dashboard"),
        Some(_) => Redirect::to("/settings"),
        None => Redirect::to("/login"),
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for UiSession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <UiSession as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub p: Layout,
    pub email: String,
    pub failed: bool,
}

pub async fn login_page(headers: HeaderMap) -> Response {
    render(
        StatusCode::OK,
        &LoginPage {
            p: Layout::anonymous(&headers),
            email: String::new(),
            failed: false,
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
}

pub async fn login_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: UiForm<LoginForm>,
) -> Response {
    if let Err(e) = check_same_origin(&headers, &state.config.public_url) {
        return e.into_response();
    }
    let UiForm(LoginForm { email, password }) = form;
    let lookup_email = email.clone();
    let params = state.config.password_params;
    let permit = match state.hashing.clone().acquire_owned().await {
        Ok(p) => p,
        Err(_) => return AppError::Internal("hashing semaphore closed".into()).into_response(),
    };
    let result = state
        .blocking(move |store| {
            let _permit = permit;
            let found = store.password_hash(&lookup_email)?;
            // Verify against a fixed hash when the account is unknown, so that timing does
            // not tell which staff emails exist.
            use klar_store::audit::{AuditAction, AuditActor, AuditEntry};
            match found {
                Some((user, hash)) if klar_crypto::verify_password(&password, &hash) => {
                    let s = store
                        .create_session(user.id, jiff::SignedDuration::from_hours(SESSION_HOURS))?;
                    store.audit(AuditEntry::new(
                        AuditActor::User(user.id),
                        AuditAction::LoginOk,
                    ));
                    Ok(Some(s))
                }
                Some((user, _)) => {
                    store.audit(AuditEntry::new(
                        AuditActor::User(user.id),
                        AuditAction::LoginFailed,
                    ));
                    Ok(None)
                }
                None => {
                    let _ = klar_crypto::verify_password(&password, dummy_hash(params));
                    store.audit(AuditEntry::new(
                        AuditActor::Anonymous,
                        AuditAction::LoginFailed,
                    ));
                    Ok(None)
                }
            }
        })
        .await;
    match result {
        Ok(Some((sid, session))) => {
            tracing::info!(user_id = %session.user.id, "login");
            let mut r = Redirect::to("/").into_response();
            let secure = if state.config.secure_cookies {
                "; Secure"
            } else {
                ""
            };
            let c = format!(
                "{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                SESSION_HOURS * 3600
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => {
            tracing::info!("login failed");
            render(
                StatusCode::UNAUTHORIZED,
                &LoginPage {
                    p: Layout::anonymous(&headers),
                    email,
                    failed: true,
                },
            )
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<CsrfForm>,
) -> Response {
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    if let Some(sid) = cookie(&s.headers, SESSION_COOKIE) {
        let sid = sid.to_string();
        if let Err(e) = state
            .blocking(move |store| Ok(store.delete_session(&sid)?))
            .await
        {
            return e.into_response();
        }
    }
    state.store.audit(klar_store::audit::AuditEntry::new(
        klar_store::Actor::user(s.session.user.id),
        klar_store::audit::AuditAction::Logout,
    ));
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("klar_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// A real Argon2id hash with the installation's parameters, verified against when an
/// account does not exist.
fn dummy_hash(params: klar_crypto::PasswordParams) -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        klar_crypto::hash_password("klar-no-such-account", params, &mut rand::rngs::OsRng)
            .unwrap_or_default()
    })
}
