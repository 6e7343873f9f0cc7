//! Klar's web layer: the JSON API under `/api/v1` and the server-rendered UI.
//!
//! Handlers are thin: extract, check one permission, call the store, render.
//! Blocking store work (writes, password hashing) runs on the blocking pool.

pub mod api;
pub mod auth;
pub mod campaigns;
pub mod client;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod mail;
pub mod ui;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use klar_store::Store;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

/// What the web layer needs to know about its installation.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Base URL of links in mails and of the `Origin` browsers send.
    pub public_url: String,
    /// Whether session cookies get the `Secure` attribute. On by default; off only when the
    /// public URL is plain http on a non-loopback host, where browsers would drop them.
    pub secure_cookies: bool,
    pub password_params: klar_crypto::PasswordParams,
    /// How mail leaves (reported in the record of processing activities).
    pub mail_route: klar_domain::ropa::MailRoute,
    /// How many days a double opt-in link stays valid; an email grant not confirmed by then
    /// lapses (`KLAR_DOI_EXPIRY_DAYS`, default 30).
    pub doi_expiry_days: u16,
    /// A web session without a request for this long ends (`KLAR_SESSION_IDLE_MINUTES`).
    pub session_idle: jiff::SignedDuration,
    /// A web session ends this long after the password was given (`KLAR_SESSION_MAX_HOURS`).
    pub session_max: jiff::SignedDuration,
    /// Roles that must log in with a TOTP code: always `admin` and `privacy_officer`, plus
    /// those named in `KLAR_TOTP_ROLES`.
    pub totp_roles: Vec<klar_domain::role::Role>,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed
    /// (`KLAR_TRUSTED_PROXIES`); from anyone else these headers are ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The retention periods the installation chose (decision 0015).
    pub retention: klar_domain::retention::RetentionConfig,
}

impl WebConfig {
    pub fn new(public_url: impl Into<String>) -> Self {
        let public_url = public_url.into().trim_end_matches('/').to_string();
        Self {
            public_url,
            secure_cookies: true,
            password_params: klar_crypto::PasswordParams::default(),
            mail_route: klar_domain::ropa::MailRoute::None,
            doi_expiry_days: api::privacy::DOI_DAYS,
            session_idle: jiff::SignedDuration::from_mins(DEFAULT_SESSION_IDLE_MINUTES),
            session_max: jiff::SignedDuration::from_hours(DEFAULT_SESSION_MAX_HOURS),
            totp_roles: MANDATORY_TOTP_ROLES.to_vec(),
            trusted_proxies: Vec::new(),
            retention: klar_domain::retention::RetentionConfig::default(),
        }
    }

    /// Adds roles that must use TOTP (the mandatory ones stay).
    pub fn require_totp_for(&mut self, roles: &[klar_domain::role::Role]) {
        for r in roles {
            if !self.totp_roles.contains(r) {
                self.totp_roles.push(*r);
            }
        }
    }

    /// Whether an account of this role must log in with a TOTP code.
    pub fn totp_required(&self, role: klar_domain::role::Role) -> bool {
        self.totp_roles.contains(&role)
    }

    /// Whether the public URL is https (then every answer carries HSTS).
    pub fn public_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The validity of a double opt-in link.
    pub fn doi_window(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_hours(24 * i64::from(self.doi_expiry_days))
    }

    /// The consent ledger's settings, for deriving states and deciding.
    pub fn consent_config(&self) -> klar_domain::policy::ConsentConfig {
        klar_domain::policy::ConsentConfig {
            doi_window: self.doi_window(),
        }
    }
}

/// Default idle timeout of a web session.
pub const DEFAULT_SESSION_IDLE_MINUTES: i64 = 30;
/// Default absolute timeout of a web session.
pub const DEFAULT_SESSION_MAX_HOURS: i64 = 12;
/// Roles that always need TOTP: they administer accounts or read everything about persons.
pub const MANDATORY_TOTP_ROLES: [klar_domain::role::Role; 2] = [
    klar_domain::role::Role::Admin,
    klar_domain::role::Role::PrivacyOfficer,
];

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    /// Bounds concurrent Argon2 hashing so logins cannot exhaust memory.
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// The mail route; `None` when no `KLAR_SMTP_URL` is configured (mail is refused).
    pub mailer: Option<Arc<mail::Mailer>>,
    /// Wakes the outbox worker when a campaign was queued.
    pub outbox: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
            hashing: Arc::new(tokio::sync::Semaphore::new(2)),
            mailer: None,
            outbox: Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub fn with_mailer(mut self, mailer: mail::Mailer) -> Self {
        self.mailer = Some(Arc::new(mailer));
        self
    }

    /// Runs blocking store work off the async workers.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> error::AppResult<T> + Send + 'static,
    ) -> error::AppResult<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store)).await?
    }
}

/// The complete application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/metrics", axum::routing::get(metrics))
        .nest("/api/v1", api::router())
        .merge(ui::router())
        .fallback(ui::not_found)
        .method_not_allowed_fallback(ui::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            error::AppError::Internal("a handler panicked".into()).into_response()
        }))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), hsts))
        .with_state(state)
}

/// Prometheus text metrics for operators (an account that manages settings; `Bearer` token):
/// the last scheduled backup, and the open and overdue data-subject requests.
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: auth::Auth,
) -> error::AppResult<axum::response::Response> {
    auth.require(klar_domain::role::Permission::ManageSettings)?;
    let run = state.store.last_backup()?;
    let now = state.store.now();
    let open = state
        .store
        .list_dsr(klar_store::dsr::DsrListFilter::Open, None, 1000)?
        .items;
    let overdue = open.iter().filter(|d| d.effective_due() < now).count();
    let mut m = String::new();
    let mut gauge = |name: &str, help: &str, value: String| {
        m.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    };
    if let Some(r) = &run {
        let at =
            r.at.parse::<jiff::Timestamp>()
                .map(|t| t.as_second())
                .unwrap_or(0);
        gauge(
            "klar_backup_last_run_timestamp_seconds",
            "When the last scheduled backup ran.",
            at.to_string(),
        );
        gauge(
            "klar_backup_last_run_ok",
            "1 if the last scheduled backup was written, 0 if it failed.",
            u8::from(r.ok).to_string(),
        );
        gauge(
            "klar_backup_last_run_bytes",
            "Size of the database in the last backup.",
            r.bytes.to_string(),
        );
        gauge(
            "klar_backups_kept",
            "Scheduled backups kept in the backup directory.",
            r.kept.to_string(),
        );
    } else {
        gauge(
            "klar_backup_last_run_ok",
            "1 if the last scheduled backup was written, 0 if it failed.",
            "0".into(),
        );
    }
    gauge(
        "klar_dsr_open",
        "Open data-subject requests.",
        open.len().to_string(),
    );
    gauge(
        "klar_dsr_overdue",
        "Open data-subject requests past their deadline.",
        overdue.to_string(),
    );
    let outbox = state.store.outbox_counts()?;
    m.push_str(
        "# HELP klar_outbox_mails Campaign mails in the outbox, by status (queued, sending, sent, refused, failed, interrupted).\n\
         # TYPE klar_outbox_mails gauge\n",
    );
    for status in [
        "queued",
        "sending",
        "sent",
        "refused",
        "failed",
        "interrupted",
    ] {
        m.push_str(&format!(
            "klar_outbox_mails{{status=\"{status}\"}} {}\n",
            outbox.get(status).copied().unwrap_or(0)
        ));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m,
    )
        .into_response())
}

/// HSTS on every answer when the request came over TLS: the public URL is https (TLS ends
/// at the reverse proxy in front of Klar), or a trusted proxy says so in `X-Forwarded-Proto`.
/// Never on plain http, where browsers ignore it anyway and a wrong setting would lock users
/// out of a plain-http installation.
async fn hsts(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let tls = state.config.public_https() || client::forwarded_https(&req, &state.config);
    let mut r = next.run(req).await;
    if tls {
        r.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    r
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    match state.store.ping() {
        Ok(()) => (axum::http::StatusCode::OK, "ok").into_response(),
        Err(e) => error::AppError::Internal(e.to_string()).into_response(),
    }
}
