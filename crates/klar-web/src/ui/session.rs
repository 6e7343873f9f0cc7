//! Login, logout and the session extractor of the UI.

use super::{Layout, render};
use crate::AppState;
use crate::auth::{SESSION_COOKIE, check_same_origin, cookie, logged_in};
use crate::client::{ClientAddr, session_origin, throttle_address};
use crate::error::AppError;
use crate::extract::UiForm;
use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::role::Permission;
use klar_store::auth::SecondFactor;
use klar_store::users::{Session, SessionLookup, SessionStage};
use serde::Deserialize;

/// A logged-in browser: a complete session (second factor given where the account has one,
/// an authenticator enrolled where the role needs one). Otherwise the request is redirected:
/// to the code page, to the enrolment page, or to `/login`.
pub struct UiSession {
    pub session: Session,
    pub headers: HeaderMap,
}

/// Any live session, also a half-logged-in one: for the code page, the enrolment page and
/// logout only.
pub struct AnySession {
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
            Err(self.forbidden())
        }
    }

    /// The error page of a refused request, in the user's language.
    pub fn forbidden(&self) -> Response {
        let layout = self.layout("");
        let message = layout.t.get("error-forbidden").to_string();
        render(
            StatusCode::FORBIDDEN,
            &super::ErrorPage {
                p: layout,
                status: 403,
                message,
            },
        )
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

/// The session behind the request's cookie.
// The error is the finished response, returned straight from the extractor.
#[allow(clippy::result_large_err)]
fn lookup(parts: &Parts, state: &AppState) -> Result<SessionLookup, Response> {
    match cookie(&parts.headers, SESSION_COOKIE) {
        None => Ok(SessionLookup::Unknown),
        Some(sid) => state
            .store
            .session(sid, state.config.session_idle)
            .map_err(|e| AppError::from(e).into_response()),
    }
}

/// Back to the login page; an expired session is told so, and its cookie is dropped.
fn to_login(expired: bool) -> Response {
    if expired {
        let mut r = Redirect::to("/login?expired=1").into_response();
        r.headers_mut()
            .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
        r
    } else {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<AppState> for UiSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match lookup(parts, state)? {
            SessionLookup::Active(session) if logged_in(&session, &state.config) => Ok(UiSession {
                session,
                headers: parts.headers.clone(),
            }),
            SessionLookup::Active(s) if s.stage == SessionStage::Password => {
                Err(Redirect::to("/login/code").into_response())
            }
            SessionLookup::Active(_) => Err(Redirect::to("/account/totp").into_response()),
            SessionLookup::Expired { .. } => Err(to_login(true)),
            SessionLookup::Unknown => Err(to_login(false)),
        }
    }
}

impl FromRequestParts<AppState> for AnySession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match lookup(parts, state)? {
            SessionLookup::Active(session) => Ok(AnySession {
                session,
                headers: parts.headers.clone(),
            }),
            SessionLookup::Expired { .. } => Err(to_login(true)),
            SessionLookup::Unknown => Err(to_login(false)),
        }
    }
}

impl AnySession {
    pub fn layout(&self, active: &'static str) -> Layout {
        Layout::for_session(&self.session, &self.headers, active)
    }

    /// Like [`UiSession::check_form`].
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

/// `/`: the dashboard for roles that read the CRM, the settings for the others; a
/// half-logged-in session goes on to its code or enrolment page.
pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(sid) = cookie(&headers, SESSION_COOKIE) else {
        return to_login(false);
    };
    match state.store.session(sid, state.config.session_idle) {
        Ok(SessionLookup::Active(s)) if s.stage == SessionStage::Password => {
            Redirect::to("/login/code").into_response()
        }
        Ok(SessionLookup::Active(s)) if crate::auth::needs_enrolment(&s, &state.config) => {
            Redirect::to("/account/totp").into_response()
        }
        Ok(SessionLookup::Active(s)) if s.user.role.allows(Permission::ReadCrm) => {
            Redirect::to("/dashboard").into_response()
        }
        Ok(SessionLookup::Active(_)) => Redirect::to("/settings").into_response(),
        Ok(SessionLookup::Expired { .. }) => to_login(true),
        Ok(SessionLookup::Unknown) => to_login(false),
        Err(e) => AppError::from(e).into_response(),
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
    /// A refusal (wrong password, throttled), already in the page's language.
    pub error: String,
    pub notice: String,
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
}

pub async fn login_page(
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    let p = Layout::anonymous(&headers);
    let notice = if q.expired.is_some() {
        p.t.get("login-expired").to_string()
    } else {
        String::new()
    };
    render(
        StatusCode::OK,
        &LoginPage {
            p,
            email: String::new(),
            error: String::new(),
            notice,
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
}

/// How a login step ended.
enum Step {
    /// Too many failures: wait this many milliseconds.
    Throttled(i64),
    Failed(&'static str),
    /// A session was started (at the password or code step).
    Session(String, Box<Session>),
}

/// "Wait N seconds" in the page's language.
fn throttled_message(p: &Layout, wait_ms: i64) -> String {
    let secs = (wait_ms + 999) / 1000;
    p.t.get("login-throttled")
        .replace("{seconds}", &secs.to_string())
}

/// 429 with `Retry-After`.
fn throttled(status_page: Response, wait_ms: i64) -> Response {
    let mut r = status_page;
    *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Ok(v) = HeaderValue::from_str(&((wait_ms + 999) / 1000).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The session cookie: `HttpOnly`, `SameSite=Strict`, `Secure` (unless plain http on a
/// public host), living as long as the absolute timeout.
fn session_cookie(state: &AppState, sid: &str) -> Option<HeaderValue> {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        state.config.session_max.as_secs()
    ))
    .ok()
}

/// Clears the session cookie.
pub const CLEAR_COOKIE: &str = "klar_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";

fn redirect_with_session(state: &AppState, to: &str, sid: &str) -> Response {
    let mut r = Redirect::to(to).into_response();
    if let Some(v) = session_cookie(state, sid) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The password step. Throttled per account and per source address before the password is
/// even checked; an unknown account is answered (and throttled) exactly like a known one.
/// With an authenticator the session starts half-logged-in and the code page follows.
pub async fn login_submit(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    form: UiForm<LoginForm>,
) -> Response {
    if let Err(e) = check_same_origin(&headers, &state.config.public_url) {
        return e.into_response();
    }
    let UiForm(LoginForm { email, password }) = form;
    let lookup_email = email.clone();
    let params = state.config.password_params;
    let max = state.config.session_max;
    let address = ip.map(throttle_address);
    let origin = session_origin(ip, &headers);
    let permit = match state.hashing.clone().acquire_owned().await {
        Ok(p) => p,
        Err(_) => return AppError::Internal("hashing semaphore closed".into()).into_response(),
    };
    let result = state
        .blocking(move |store| {
            let _permit = permit;
            use klar_store::audit::{AuditAction, AuditActor, AuditEntry};
            let actor_of = |store: &klar_store::Store| {
                store
                    .user_by_email(&lookup_email)
                    .map_or(AuditActor::Anonymous, |u| AuditActor::User(u.id))
            };
            if let Some(wait) = store.login_wait(&lookup_email, address.as_deref())? {
                store.audit(
                    AuditEntry::new(actor_of(store), AuditAction::LoginThrottled)
                        .outcome("password"),
                );
                return Ok(Step::Throttled(wait));
            }
            let found = store.password_hash(&lookup_email)?;
            match found {
                Some((user, hash)) if klar_crypto::verify_password(&password, &hash) => {
                    if store.totp_status(user.id)?.enabled {
                        let (sid, s) =
                            store.create_session(user.id, SessionStage::Password, max, &origin)?;
                        return Ok(Step::Session(sid, Box::new(s)));
                    }
                    let (sid, s) =
                        store.create_session(user.id, SessionStage::Complete, max, &origin)?;
                    store.login_succeeded(&lookup_email, address.as_deref())?;
                    store.audit(
                        AuditEntry::new(AuditActor::User(user.id), AuditAction::LoginOk)
                            .outcome("password"),
                    );
                    Ok(Step::Session(sid, Box::new(s)))
                }
                found => {
                    // Verify against a fixed hash when the account is unknown, so that timing
                    // does not tell which staff emails exist.
                    let actor = match found {
                        Some((user, _)) => AuditActor::User(user.id),
                        None => {
                            let _ = klar_crypto::verify_password(&password, dummy_hash(params));
                            AuditActor::Anonymous
                        }
                    };
                    store.audit(AuditEntry::new(actor, AuditAction::LoginFailed));
                    store.login_failed(&lookup_email, address.as_deref())?;
                    Ok(Step::Failed("login-failed"))
                }
            }
        })
        .await;
    let page = |error: String, status: StatusCode| {
        render(
            status,
            &LoginPage {
                p: Layout::anonymous(&headers),
                email: email.clone(),
                error,
                notice: String::new(),
            },
        )
    };
    match result {
        Ok(Step::Session(sid, session)) => {
            tracing::info!(user_id = %session.user.id, stage = session.stage.as_str(), "login");
            let to = if session.stage == SessionStage::Password {
                "/login/code"
            } else if crate::auth::needs_enrolment(&session, &state.config) {
                "/account/totp"
            } else {
                "/"
            };
            redirect_with_session(&state, to, &sid)
        }
        Ok(Step::Failed(key)) => {
            tracing::info!("login failed");
            let p = Layout::anonymous(&headers);
            page(p.t.get(key).to_string(), StatusCode::UNAUTHORIZED)
        }
        Ok(Step::Throttled(wait)) => {
            tracing::info!(wait_ms = wait, "login throttled");
            let p = Layout::anonymous(&headers);
            throttled(
                page(throttled_message(&p, wait), StatusCode::TOO_MANY_REQUESTS),
                wait,
            )
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "login_code.html")]
pub struct CodePage {
    pub p: Layout,
    pub error: String,
}

/// The second step: the code from the authenticator app, or a recovery code.
pub async fn code_page(s: AnySession) -> Response {
    if s.session.stage != SessionStage::Password {
        return Redirect::to("/").into_response();
    }
    render(
        StatusCode::OK,
        &CodePage {
            p: code_layout(&s),
            error: String::new(),
        },
    )
}

/// The half-logged-in page shows no navigation: nothing behind it is open yet.
fn code_layout(s: &AnySession) -> Layout {
    let mut p = s.layout("");
    p.role = None;
    p.user_email = None;
    p
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

pub async fn code_submit(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    s: AnySession,
    UiForm(f): UiForm<CodeForm>,
) -> Response {
    if s.session.stage != SessionStage::Password {
        return Redirect::to("/").into_response();
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let Some(sid) = cookie(&s.headers, SESSION_COOKIE).map(str::to_string) else {
        return Redirect::to("/login").into_response();
    };
    let user = s.session.user.clone();
    let address = ip.map(throttle_address);
    let origin = session_origin(ip, &s.headers);
    let result = state
        .blocking(move |store| {
            use klar_store::audit::{AuditAction, AuditActor, AuditEntry};
            let actor = AuditActor::User(user.id);
            if let Some(wait) = store.login_wait(&user.email, address.as_deref())? {
                store.audit(AuditEntry::new(actor, AuditAction::LoginThrottled).outcome("code"));
                return Ok(Step::Throttled(wait));
            }
            let verdict = store.verify_second_factor(user.id, &f.code)?;
            let (outcome, message) = match verdict {
                SecondFactor::Totp => ("totp", ""),
                SecondFactor::RecoveryCode => ("recovery_code", ""),
                SecondFactor::Replayed => ("replayed", "login-code-replayed"),
                SecondFactor::Wrong => ("wrong", "login-code-wrong"),
            };
            if message.is_empty() {
                let (sid, session) = store.complete_session(&sid, &origin)?;
                store.login_succeeded(&user.email, address.as_deref())?;
                store.audit(AuditEntry::new(actor, AuditAction::LoginOk).outcome(outcome));
                Ok(Step::Session(sid, Box::new(session)))
            } else {
                store.audit(AuditEntry::new(actor, AuditAction::LoginCodeFailed).outcome(outcome));
                store.login_failed(&user.email, address.as_deref())?;
                Ok(Step::Failed(message))
            }
        })
        .await;
    let p = code_layout(&s);
    match result {
        Ok(Step::Session(sid, session)) => {
            tracing::info!(user_id = %session.user.id, "second factor given");
            redirect_with_session(&state, "/", &sid)
        }
        Ok(Step::Failed(key)) => {
            let error = p.t.get(key).to_string();
            render(StatusCode::UNAUTHORIZED, &CodePage { p, error })
        }
        Ok(Step::Throttled(wait)) => {
            let error = throttled_message(&p, wait);
            throttled(
                render(StatusCode::TOO_MANY_REQUESTS, &CodePage { p, error }),
                wait,
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
    s: AnySession,
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
    r.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
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
