//! A minimal W3C WebDriver client for browser tests, driving Debian's
//! `chromedriver` + headless `chromium` over plain HTTP on loopback.
//!
//! ```ignore
//! mod support;
//! use support::webdriver::Browser;
//!
//! let Some(browser) = Browser::start().await? else {
//!     eprintln!("skipped: no chromedriver");
//!     return Ok(());
//! };
//! browser.goto("http://127.0.0.1:8080/").await?;
//! let button = browser.wait_for("button#save", None, Duration::from_secs(5)).await?;
//! browser.click(&button).await?;
//! browser.quit().await?;
//! ```
//!
//! Environment:
//! - `KLAR_CHROMEDRIVER`: chromedriver binary (default `/usr/bin/chromedriver`)
//! - `KLAR_CHROMIUM`: browser binary (default `/usr/bin/chromium`)
//! - `KLAR_REQUIRE_BROWSER`: when set (non-empty, not `0`), a missing browser
//!   is an error instead of a skip (`Ok(None)` from [`Browser::start`]).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};

/// Property name of a web element reference in W3C WebDriver
/// (<https://www.w3.org/TR/webdriver2/#elements>).
const W3C_ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Poll step for readiness and `wait_for` loops.
const POLL_STEP: Duration = Duration::from_millis(100);
/// How long chromedriver may take to answer `/status` as ready.
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Per-request timeout (session creation starts the browser, navigation loads a page).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts at picking a free port and starting chromedriver on it.
const START_ATTEMPTS: usize = 3;

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    /// e.g. `http://127.0.0.1:41234`
    base: String,
    addr: SocketAddr,
    session: String,
    /// Set once the session was deleted (by `quit`), so `Drop` does not retry.
    session_closed: bool,
    /// Chromium profile and chromedriver log; removed when the `Browser` drops.
    tmp: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver (path from env `KLAR_CHROMEDRIVER` or
    /// `/usr/bin/chromedriver`) on a free loopback port, waits until `/status`
    /// is ready and creates a headless session with the browser binary from
    /// `KLAR_CHROMIUM` or `/usr/bin/chromium`.
    ///
    /// Returns `Ok(None)` if the chromedriver or the browser binary does not
    /// exist and `KLAR_REQUIRE_BROWSER` is not set; an error if it is set.
    pub async fn start() -> Result<Option<Browser>, String> {
        let driver_path = env_path("KLAR_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium_path = env_path("KLAR_CHROMIUM", "/usr/bin/chromium");
        for path in [&driver_path, &chromium_path] {
            if !path.is_file() {
                if browser_required() {
                    return Err(format!(
                        "{} not found and KLAR_REQUIRE_BROWSER is set \
                         (install Debian packages chromium chromium-driver)",
                        path.display()
                    ));
                }
                return Ok(None);
            }
        }

        let tmp = tempfile::Builder::new()
            .prefix("klar-webdriver-")
            .tempdir()
            .map_err(|e| format!("creating temp dir: {e}"))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("building http client: {e}"))?;

        let mut last_err = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let log_path = tmp.path().join(format!("chromedriver-{attempt}.log"));
            match spawn_driver(&driver_path, &log_path, &http).await {
                Ok((driver, addr)) => {
                    let mut browser = Browser {
                        driver,
                        http,
                        base: format!("http://{addr}"),
                        addr,
                        session: String::new(),
                        session_closed: true,
                        tmp,
                    };
                    browser.session = browser
                        .new_session(&chromium_path)
                        .await
                        .map_err(|e| format!("{e}{}", log_tail(&log_path)))?;
                    browser.session_closed = false;
                    return Ok(Some(browser));
                }
                Err(e) => last_err = format!("{e}{}", log_tail(&log_path)),
            }
        }
        Err(format!(
            "starting {} failed {START_ATTEMPTS} times; last: {last_err}",
            driver_path.display()
        ))
    }

    async fn new_session(&self, chromium: &Path) -> Result<String, String> {
        let profile = self.tmp.path().join("profile");
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "goog:chromeOptions": {
                        "binary": chromium.to_string_lossy(),
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--disable-quic",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            format!("--user-data-dir={}", profile.display()),
                            "--window-size=1280,900",
                            // app.css scrolls smoothly unless reduced motion is asked for;
                            // a smooth scroll races WebDriver's click on anything below
                            // the fold ("element click intercepted").
                            "--force-prefers-reduced-motion",
                        ],
                    },
                },
            },
        });
        let value = self
            .request(reqwest::Method::POST, "/session", Some(caps))
            .await?;
        value
            .get("sessionId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("new session: no sessionId in {value}"))
    }

    pub async fn goto(&self, url: &str) -> Result<(), String> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    pub async fn current_url(&self) -> Result<String, String> {
        as_string(self.get("/url").await?, "current url")
    }

    /// The element id of the first element matching `css`.
    pub async fn find(&self, css: &str) -> Result<String, String> {
        let value = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await
            .map_err(|e| format!("find {css:?}: {e}"))?;
        element_id(&value)
    }

    async fn find_all(&self, css: &str) -> Result<Vec<String>, String> {
        let value = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await?;
        match value {
            Value::Array(items) => items.iter().map(element_id).collect(),
            other => Err(format!(
                "find elements {css:?}: expected an array, got {other}"
            )),
        }
    }

    /// Polls (every 100 ms) up to `timeout` for an element matching `css`
    /// whose text contains `text` if given; returns its element id.
    pub async fn wait_for(
        &self,
        css: &str,
        text: Option<&str>,
        timeout: Duration,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let mut last_seen = String::new();
        loop {
            // Errors while polling (page mid-navigation, stale elements) are retried.
            match self.find_all(css).await {
                Ok(ids) => {
                    if ids.is_empty() {
                        last_seen = String::from("no matching element");
                    }
                    let mut texts = Vec::new();
                    for id in ids {
                        let Some(wanted) = text else { return Ok(id) };
                        if let Ok(t) = self.text(&id).await {
                            if t.contains(wanted) {
                                return Ok(id);
                            }
                            texts.push(t);
                        }
                    }
                    if !texts.is_empty() {
                        last_seen = format!("texts seen: {texts:?}");
                    }
                }
                Err(e) => last_seen = e,
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {timeout:?} waiting for {css:?}{} ({last_seen})",
                    text.map(|t| format!(" containing {t:?}"))
                        .unwrap_or_default()
                ));
            }
            sleep(POLL_STEP).await;
        }
    }

    pub async fn type_into(&self, element: &str, text: &str) -> Result<(), String> {
        self.post(
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await
        .map(drop)
    }

    pub async fn clear(&self, element: &str) -> Result<(), String> {
        self.post(&format!("/element/{element}/clear"), json!({}))
            .await
            .map(drop)
    }

    pub async fn click(&self, element: &str) -> Result<(), String> {
        self.post(&format!("/element/{element}/click"), json!({}))
            .await
            .map(drop)
    }

    pub async fn text(&self, element: &str) -> Result<String, String> {
        as_string(self.get(&format!("/element/{element}/text")).await?, "text")
    }

    pub async fn page_source(&self) -> Result<String, String> {
        as_string(self.get("/source").await?, "page source")
    }

    /// A PNG of the current viewport.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>, String> {
        let b64 = as_string(self.get("/screenshot").await?, "screenshot")?;
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| format!("screenshot: bad base64: {e}"))
    }

    /// Ends the session (closing the browser); chromedriver is killed on drop.
    pub async fn quit(mut self) -> Result<(), String> {
        let path = format!("/session/{}", self.session);
        let result = self.request(reqwest::Method::DELETE, &path, None).await;
        self.session_closed = true;
        result.map(drop)
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let path = format!("/session/{}{path}", self.session);
        self.request(reqwest::Method::GET, &path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let path = format!("/session/{}{path}", self.session);
        self.request(reqwest::Method::POST, &path, Some(body)).await
    }

    /// Sends one WebDriver command and returns the response's `value`.
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        webdriver_request(&self.http, &self.base, method, path, body).await
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing chromedriver alone would orphan chromium, so first end the
        // session with a blocking raw HTTP request (no async in Drop).
        if !self.session_closed && !self.session.is_empty() {
            delete_session_blocking(self.addr, &self.session);
        }
        if matches!(self.driver.try_wait(), Ok(None)) {
            let _ = self.driver.kill();
        }
        let _ = self.driver.wait();
    }
}

async fn webdriver_request(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let what = format!("{method} {path}");
    let mut req = http.request(method, format!("{base}{path}"));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.map_err(|e| format!("{what}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("{what}: {e}"))?;
    let mut json: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{what}: HTTP {status}, not JSON ({e}): {}", clip(&text)))?;
    let value = json
        .get_mut("value")
        .map(Value::take)
        .unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let error = value.get("error").and_then(Value::as_str).unwrap_or("?");
    let message = value.get("message").and_then(Value::as_str).unwrap_or("");
    Err(format!("{what}: HTTP {status}: {error}: {}", clip(message)))
}

/// Spawns chromedriver on a free loopback port and waits until it is ready.
async fn spawn_driver(
    driver_path: &Path,
    log_path: &Path,
    http: &reqwest::Client,
) -> Result<(Child, SocketAddr), String> {
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?;
    let mut child = Command::new(driver_path)
        .arg(format!("--port={}", addr.port()))
        .arg(format!("--log-path={}", log_path.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", driver_path.display()))?;

    let base = format!("http://{addr}");
    let deadline = Instant::now() + DRIVER_READY_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Err(format!("chromedriver exited early: {status}")),
            Ok(None) => {}
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("waiting on chromedriver: {e}"));
            }
        }
        if let Ok(status) =
            webdriver_request(http, &base, reqwest::Method::GET, "/status", None).await
            && status.get("ready").and_then(Value::as_bool) == Some(true)
        {
            return Ok((child, addr));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "chromedriver not ready on {addr} after {DRIVER_READY_TIMEOUT:?}"
            ));
        }
        sleep(POLL_STEP).await;
    }
}

/// Best-effort `DELETE /session/{id}` over a plain blocking socket.
fn delete_session_blocking(addr: SocketAddr, session: &str) {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // Wait for the whole response (the browser is gone by then). chromedriver
    // keeps the connection open despite `Connection: close`, so stop at the
    // end of the body rather than at EOF.
    let mut response = Vec::new();
    let mut chunk = [0_u8; 4096];
    while !http_response_complete(&response) {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Whether `buf` holds a full HTTP response head plus `Content-Length` body bytes.
fn http_response_complete(buf: &[u8]) -> bool {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let content_length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    buf.len() >= head_end + 4 + content_length
}

/// The id of a web element reference: the W3C key if present, else the first
/// string value of the object (whatever the key is named).
fn element_id(value: &Value) -> Result<String, String> {
    let obj = value
        .as_object()
        .ok_or_else(|| format!("expected an element reference, got {value}"))?;
    obj.get(W3C_ELEMENT_KEY)
        .or_else(|| obj.values().next())
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("expected an element reference, got {value}"))
}

fn as_string(value: Value, what: &str) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(format!(
            "{what}: expected a string, got {}",
            clip(&other.to_string())
        )),
    }
}

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(default), PathBuf::from)
}

fn browser_required() -> bool {
    std::env::var_os("KLAR_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The last lines of chromedriver's log, for error messages.
fn log_tail(path: &Path) -> String {
    let Ok(log) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n--- chromedriver log ({}) ---\n{tail}", path.display())
    }
}

fn clip(s: &str) -> String {
    const MAX: usize = 600;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
