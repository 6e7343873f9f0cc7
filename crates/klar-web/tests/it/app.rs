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
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
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

/// Logs in through the login form, as a browser does, and returns the session cookie
/// (`klar_session=…`) to send along.
pub async fn login(app: &TestApp, email: &str, password: &str) -> String {
    let r = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "login failed");
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
