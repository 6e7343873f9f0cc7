//! A user's own security: the TOTP authenticator (enrolment, recovery codes) and the list of
//! his sessions (revoke one, log out everywhere).

use super::audit::{berlin, local_time};
use super::session::{AnySession, CLEAR_COOKIE, CsrfForm, UiSession};
use super::{Layout, render};
use crate::AppState;
use crate::auth::needs_enrolment;
use crate::error::AppError;
use crate::extract::{ApiPath, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use klar_store::auth::SecondFactor;
use klar_store::users::SessionStage;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "account/totp.html")]
pub struct TotpPage {
    pub p: Layout,
    /// Whether the account has a confirmed authenticator.
    pub enabled: bool,
    /// Whether the role needs one (the page then says the account can do nothing else).
    pub required: bool,
    pub recovery_left: usize,
    /// While enrolling: the secret in base32, grouped by four.
    pub secret: String,
    pub uri: String,
    /// A QR code of the URI as an SVG `data:` URL (no script, allowed by the CSP's img-src).
    pub qr: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub p: Layout,
    pub codes: Vec<String>,
}

/// The layout of a page a user who must still enrol can see: without navigation.
fn enrol_layout(s: &AnySession, state: &AppState) -> Layout {
    let mut p = s.layout("settings");
    if needs_enrolment(&s.session, &state.config) {
        p.role = None;
        p.user_email = None;
    }
    p
}

fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn qr_data_url(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(svg)
            )
        }
        Err(_) => String::new(),
    }
}

async fn totp_page_for(
    state: &AppState,
    s: &AnySession,
    error: String,
    status: StatusCode,
) -> Response {
    let uid = s.session.user.id;
    let email = s.session.user.email.clone();
    let result = state
        .blocking(move |store| {
            let st = store.totp_status(uid)?;
            if st.enabled {
                return Ok((st, None));
            }
            Ok((st, Some(store.totp_begin(uid)?)))
        })
        .await;
    let (st, secret) = match result {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let (secret_b32, uri, qr) = match secret {
        Some(sec) => {
            let uri = klar_crypto::totp::otpauth_uri(&sec, "Klar", &email);
            let qr = qr_data_url(&uri);
            (grouped(&klar_crypto::totp::base32_encode(&sec)), uri, qr)
        }
        None => (String::new(), String::new(), String::new()),
    };
    render(
        status,
        &TotpPage {
            p: enrol_layout(s, state),
            enabled: st.enabled,
            required: state.config.totp_required(s.session.user.role),
            recovery_left: st.recovery_codes_left,
            secret: secret_b32,
            uri,
            qr,
            error,
        },
    )
}

/// The authenticator page: enrolment (secret, `otpauth://` URI, QR code, a code to confirm)
/// or, once enrolled, the state and new recovery codes. An account whose role needs TOTP is
/// sent here after the password and can open nothing else until it is done.
pub async fn totp_page(State(state): State<AppState>, s: AnySession) -> Response {
    if s.session.stage == SessionStage::Password {
        return Redirect::to("/login/code").into_response();
    }
    totp_page_for(&state, &s, String::new(), StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// Confirms the enrolment with a code from the app; shows the ten recovery codes once.
pub async fn totp_submit(
    State(state): State<AppState>,
    s: AnySession,
    UiForm(f): UiForm<TotpForm>,
) -> Response {
    if s.session.stage == SessionStage::Password {
        return Redirect::to("/login/code").into_response();
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let uid = s.session.user.id;
    let code = f.code;
    match state
        .blocking(move |store| Ok(store.totp_confirm(uid, &code)?))
        .await
    {
        Ok(Some(codes)) => {
            tracing::info!(user_id = %uid, "authenticator enrolled");
            let mut p = s.layout("settings");
            // The page after enrolment is the first one with the full navigation.
            p.role = Some(s.session.user.role);
            render(StatusCode::OK, &RecoveryCodesPage { p, codes })
        }
        Ok(None) => {
            let p = s.layout("settings");
            let error = p.t.get("totp-code-wrong").to_string();
            totp_page_for(&state, &s, error, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AppError::Conflict(_)) => Redirect::to("/account/totp").into_response(),
        Err(e) => e.into_response(),
    }
}

/// New recovery codes, against a current code from the app (the old codes stop working).
pub async fn recovery_codes_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<TotpForm>,
) -> Response {
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let uid = s.session.user.id;
    let code = f.code;
    let result = state
        .blocking(move |store| match store.verify_second_factor(uid, &code)? {
            SecondFactor::Totp => Ok(Some(store.new_recovery_codes(uid)?)),
            _ => Ok(None),
        })
        .await;
    let any = AnySession {
        session: s.session.clone(),
        headers: s.headers.clone(),
    };
    match result {
        Ok(Some(codes)) => render(
            StatusCode::OK,
            &RecoveryCodesPage {
                p: s.layout("settings"),
                codes,
            },
        ),
        Ok(None) => {
            let error = s.layout("").t.get("totp-code-wrong").to_string();
            totp_page_for(&state, &any, error, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => e.into_response(),
    }
}

pub struct SessionRow {
    pub id: String,
    pub created: String,
    pub last_seen: String,
    pub client_net: String,
    pub user_agent: String,
    pub current: bool,
    pub pending: bool,
}

#[derive(Template)]
#[template(path = "account/sessions.html")]
pub struct SessionsPage {
    pub p: Layout,
    pub rows: Vec<SessionRow>,
    pub idle_minutes: i64,
    pub max_hours: i64,
}

/// The user's own sessions: when each began and was last used, from which network and
/// browser; the current one marked.
pub async fn sessions_page(State(state): State<AppState>, s: UiSession) -> Response {
    let p = s.layout("settings");
    let list = match state.store.list_sessions(s.session.user.id) {
        Ok(l) => l,
        Err(e) => return AppError::from(e).into_response(),
    };
    let tz = berlin();
    let rows = list
        .into_iter()
        .map(|i| SessionRow {
            current: i.id == s.session.id,
            pending: i.stage == SessionStage::Password,
            created: local_time(&p, i.created_at, &tz),
            last_seen: local_time(&p, i.last_seen_at, &tz),
            client_net: i.client_net.unwrap_or_default(),
            user_agent: i.user_agent.unwrap_or_default(),
            id: i.id,
        })
        .collect();
    render(
        StatusCode::OK,
        &SessionsPage {
            p,
            rows,
            idle_minutes: state.config.session_idle.as_mins(),
            max_hours: state.config.session_max.as_hours(),
        },
    )
}

fn logged_out() -> Response {
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
    r
}

/// Ends one of the user's sessions (his own only); ending the current one logs him out.
pub async fn session_revoke_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<CsrfForm>,
) -> Response {
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let uid = s.session.user.id;
    let current = id == s.session.id;
    match state
        .blocking(move |store| Ok(store.revoke_session(uid, &id)?))
        .await
    {
        Ok(true) if current => logged_out(),
        Ok(true) => Redirect::to("/account/sessions").into_response(),
        Ok(false) => super::forms::not_found_page(&s, "settings"),
        Err(e) => e.into_response(),
    }
}

/// "Log out everywhere": every session of the user ends, the current one too.
pub async fn sessions_revoke_all_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<CsrfForm>,
) -> Response {
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let uid = s.session.user.id;
    match state
        .blocking(move |store| Ok(store.revoke_all_sessions(uid)?))
        .await
    {
        Ok(n) => {
            tracing::info!(user_id = %uid, sessions = n, "logged out everywhere");
            logged_out()
        }
        Err(e) => e.into_response(),
    }
}
