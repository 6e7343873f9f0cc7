//! `TestApp`: a running Klar on a random loopback port with its own data directory.

use klar_crypto::PasswordParams;
use klar_domain::Clock;
use klar_domain::clock::{ManualClock, SystemClock};
use klar_domain::role::Role;
use klar_store::{Store, StoreConfig};
use serde_json::Value;
use std::sync::Arc;

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    /// The authenticators the login helpers enrolled, by account email.
    pub totp: std::sync::Mutex<std::collections::HashMap<String, Authenticator>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// What a user keeps after enrolling: the app's secret, the last step whose code he typed,
/// and his unused recovery codes.
#[derive(Debug, Clone)]
pub struct Authenticator {
    pub secret: Vec<u8>,
    pub last_step: i64,
    pub recovery: Vec<String>,
}

pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(None, Arc::new(SystemClock), None).await
    }

    /// A running Klar whose mail goes to a real SMTP server on loopback.
    pub async fn spawn_with_smtp() -> (TestApp, crate::support::smtp::SmtpSink) {
        let sink = crate::support::smtp::SmtpSink::start().await;
        (
            Self::spawn_with(Some(sink.url()), Arc::new(SystemClock), None).await,
            sink,
        )
    }

    /// Like [`TestApp::spawn_with_smtp`], on a clock the test advances, with double opt-in
    /// links valid for `doi_expiry_days`.
    pub async fn spawn_with_clock(
        clock: Arc<ManualClock>,
        doi_expiry_days: u16,
    ) -> (TestApp, crate::support::smtp::SmtpSink) {
        let sink = crate::support::smtp::SmtpSink::start().await;
        (
            Self::spawn_with(Some(sink.url()), clock, Some(doi_expiry_days)).await,
            sink,
        )
    }

    async fn spawn_with(
        smtp_url: Option<String>,
        clock: Arc<dyn Clock>,
        doi_expiry_days: Option<u16>,
    ) -> TestApp {
        Self::spawn_configured(smtp_url, clock, doi_expiry_days, |_| {}).await
    }

    /// A running Klar on `clock` whose web configuration `configure` adjusts.
    pub async fn spawn_on(
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut klar_web::WebConfig),
    ) -> TestApp {
        Self::spawn_configured(None, clock, None, configure).await
    }

    async fn spawn_configured(
        smtp_url: Option<String>,
        clock: Arc<dyn Clock>,
        doi_expiry_days: Option<u16>,
        configure: impl FnOnce(&mut klar_web::WebConfig),
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::new(dir.path()), clock).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut config = klar_web::WebConfig::new(base.clone());
        config.password_params = PasswordParams::cheap();
        if let Some(days) = doi_expiry_days {
            config.doi_expiry_days = days;
        }
        configure(&mut config);
        let mut state = klar_web::AppState::new(store.clone(), config);
        if let Some(url) = smtp_url {
            state = state
                .with_mailer(klar_web::mail::Mailer::from_url(&url, "klar@test.example").unwrap());
        }
        tokio::spawn(klar_web::campaigns::run_outbox(
            state.clone(),
            klar_web::campaigns::OutboxConfig {
                rate_per_second: 1000,
                first_retry: std::time::Duration::from_millis(200),
                max_attempts: 3,
                ..klar_web::campaigns::OutboxConfig::default()
            },
        ));
        let app = klar_web::app(state);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestApp {
            base,
            store,
            dir,
            http,
            totp: Default::default(),
            shutdown: Some(tx),
        }
    }

    /// Creates a staff account with the given role and returns an API token for it.
    pub fn user_with_role(&self, email: &str, role: Role) -> String {
        let hash = klar_crypto::hash_password(
            "Correct-Horse-Battery-9",
            PasswordParams::cheap(),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
        let u = self.store.create_user(email, role, &hash).unwrap();
        self.store.create_token(u.id).unwrap()
    }

    pub fn sales_token(&self) -> String {
        self.user_with_role("sales@staff.example", Role::Sales)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req.send().await.unwrap()).await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        body: &'static [u8],
    ) -> Resp {
        let req = self
            .http
            .request(method.parse().unwrap(), format!("{}{}", self.base, path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body);
        Self::read(req.send().await.unwrap()).await
    }

    pub async fn read(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = r.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            content_type,
            headers,
            body,
        }
    }

    pub async fn create_person(&self, token: &str, body: Value) -> Value {
        let r = self
            .call("POST", "/api/v1/persons", Some(token), Some(body))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }
}

/// The `klar_session=…` pair of a response's `Set-Cookie`.
pub fn session_cookie_of(r: &reqwest::Response) -> String {
    r.headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Logs in through the login form, as a browser does, and returns the session cookie
/// (`klar_session=…`) to send along. Accounts whose role needs TOTP are enrolled through
/// the enrolment page on their first login (the secret read from the page, the code computed
/// here), and give a code from that authenticator on later logins.
pub async fn login(app: &TestApp, email: &str, password: &str) -> String {
    let r = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "login failed");
    let cookie = session_cookie_of(&r);
    match location(&r).as_str() {
        "/login/code" => give_code(app, email, &cookie).await,
        "/account/totp" => {
            enrol(app, email, &cookie).await;
            cookie
        }
        _ => cookie,
    }
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The current TOTP step on the app's clock.
pub fn step_now(app: &TestApp) -> i64 {
    klar_crypto::totp::step_of(app.store.now().as_second())
}

/// The text between `start` and the next `end` in a page.
pub fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    html.split(start).nth(1)?.split(end).next()
}

/// Enrols an authenticator through `/account/totp` for a logged-in (or enrolment-bound)
/// session and remembers it; returns the enrolment's answer page.
pub async fn enrol(app: &TestApp, email: &str, cookie: &str) -> String {
    let page = app
        .http
        .get(format!("{}/account/totp", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let b32 = between(&page, "id=\"totp-secret\">", "<").expect("the secret on the page");
    let secret = klar_crypto::totp::base32_decode(b32).unwrap();
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").unwrap();
    let step = step_now(app);
    let code = klar_crypto::totp::code_string(&secret, step);
    let r = app
        .http
        .post(format!("{}/account/totp", app.base))
        .header("cookie", cookie)
        .form(&[("csrf", csrf), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "enrolment refused");
    let html = r.text().await.unwrap();
    let recovery: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|p| p.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10, "ten recovery codes");
    app.totp.lock().unwrap().insert(
        email.to_lowercase(),
        Authenticator {
            secret,
            last_step: step,
            recovery,
        },
    );
    html
}

/// The next code the user's app shows that the server has not seen yet (a later step within
/// the accepted window), or a recovery code when the window is used up.
pub fn next_code(app: &TestApp, email: &str) -> String {
    let now = step_now(app);
    let mut map = app.totp.lock().unwrap();
    let a = map
        .get_mut(&email.to_lowercase())
        .expect("an authenticator enrolled by the test helpers");
    let step = (now - 1).max(a.last_step + 1);
    if step <= now + 1 {
        a.last_step = step;
        klar_crypto::totp::code_string(&a.secret, step)
    } else {
        a.recovery.pop().expect("a recovery code left")
    }
}

/// Completes the second step of a login with a code; returns the new session cookie.
pub async fn give_code(app: &TestApp, email: &str, cookie: &str) -> String {
    let csrf = csrf_of(app, cookie, "/login/code").await;
    let code = next_code(app, email);
    let r = app
        .http
        .post(format!("{}/login/code", app.base))
        .header("cookie", cookie)
        .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the code was refused");
    session_cookie_of(&r)
}

/// The CSRF token of a logged-in session, read from the forms of the page at `path`.
pub async fn csrf_of(app: &TestApp, cookie: &str, path: &str) -> String {
    let html = app
        .http
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Resp {
    /// Asserts a problem document with the status and returns the names of invalid fields.
    pub fn problem(&self, status: u16) -> Vec<String> {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "content type {}",
            self.content_type
        );
        for k in ["type", "title", "status", "detail"] {
            assert!(
                self.body.get(k).is_some(),
                "problem without {k}: {}",
                self.body
            );
        }
        assert!(!self.body["detail"].as_str().unwrap().is_empty());
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A logged-in browser for the UI tests that drive pages over plain HTTP.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub lang: &'static str,
}

pub struct Page {
    pub status: u16,
    pub location: String,
    pub html: String,
}

impl<'a> Browser<'a> {
    pub async fn login(app: &'a TestApp, email: &str, lang: &'static str) -> Browser<'a> {
        let cookie = login(app, email, "Correct-Horse-Battery-9").await;
        Browser { app, cookie, lang }
    }

    pub async fn read(r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Page {
            status,
            location,
            html: r.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let r = self
            .app
            .http
            .get(format!("{}{path}", self.app.base))
            .header("cookie", &self.cookie)
            .header("accept-language", self.lang)
            .send()
            .await
            .unwrap();
        Self::read(r).await
    }

    /// Submits a form as it is sent without a CSRF token.
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .app
            .http
            .post(format!("{}{path}", self.app.base))
            .header("cookie", &self.cookie)
            .header("accept-language", self.lang)
            .form(form)
            .send()
            .await
            .unwrap();
        Self::read(r).await
    }

    /// Submits a form with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = csrf_of(self.app, &self.cookie, "/settings").await;
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }
}
