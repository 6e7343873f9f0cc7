//! Sessions (issue 7 item 4): one's own list with revoke and "log out everywhere", idle and
//! absolute timeouts, deactivation that ends sessions and tokens at once, password rules; and
//! the security headers of item 5.

use crate::app::{TestApp, between, csrf_of, location, login};
use klar_domain::clock::{ManualClock, SystemClock};
use klar_domain::role::Role;
use serde_json::json;
use std::sync::Arc;

const PW: &str = "Correct-Horse-Battery-9";

async fn get(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) KlarTest/1.0")
        .send()
        .await
        .unwrap()
}

async fn post(app: &TestApp, cookie: &str, path: &str, csrf: &str) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_user_lists_his_sessions_ends_one_and_then_logs_out_everywhere() {
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    app.user_with_role("other@staff.example", Role::Sales);
    let a = login(&app, "sales@staff.example", PW).await;
    let b = login(&app, "sales@staff.example", PW).await;
    let c = login(&app, "sales@staff.example", PW).await;
    let foreign = login(&app, "other@staff.example", PW).await;

    let page = get(&app, &a, "/account/sessions").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(
        html.matches("<tr id=\"session-").count(),
        3,
        "his own three only"
    );
    assert_eq!(html.matches("class=\"current\"").count(), 1);
    assert!(html.contains("127.0.0.0/24"), "the network, truncated");
    assert!(!html.contains("127.0.0.1"), "never the full address");

    // End session b from session a: b is logged out, a and c go on.
    let sessions = app
        .store
        .list_sessions(app.store.user_by_email("sales@staff.example").unwrap().id)
        .unwrap();
    let current_a = between(&html, "<tr id=\"session-", "\" class=\"current\"")
        .unwrap()
        .to_string();
    let b_id = sessions
        .iter()
        .map(|s| s.id.clone())
        .find(|id| *id != current_a && html.contains(&format!("session-{id}\"")))
        .unwrap();
    let csrf = csrf_of(&app, &a, "/account/sessions").await;
    // Nobody ends another user's session.
    let other_id = app
        .store
        .list_sessions(app.store.user_by_email("other@staff.example").unwrap().id)
        .unwrap()[0]
        .id
        .clone();
    let r = post(
        &app,
        &a,
        &format!("/account/sessions/{other_id}/revoke"),
        &csrf,
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(get(&app, &foreign, "/persons").await.status(), 200);

    let r = post(&app, &a, &format!("/account/sessions/{b_id}/revoke"), &csrf).await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/account/sessions")
    );
    let still: Vec<u16> = futures_statuses(&app, &[&a, &b, &c]).await;
    assert_eq!(still.iter().filter(|s| **s == 200).count(), 2, "{still:?}");

    // Without the CSRF token nothing happens.
    let r = post(&app, &a, "/account/sessions/revoke-all", "forged").await;
    assert_eq!(r.status(), 403);
    // Log out everywhere: every session ends, the current one too, and the cookie is cleared.
    let r = post(&app, &a, "/account/sessions/revoke-all", &csrf).await;
    assert_eq!(location(&r), "/login");
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    for s in [&a, &b, &c] {
        assert_eq!(location(&get(&app, s, "/persons").await), "/login");
    }
    assert_eq!(
        get(&app, &foreign, "/persons").await.status(),
        200,
        "another user's session stays"
    );
    let all = audit_of(&app)
        .into_iter()
        .filter(|(action, _)| action == "session.revoke")
        .map(|(_, outcome)| outcome)
        .collect::<Vec<_>>();
    assert_eq!(all, vec!["one".to_string(), "all".to_string()]);
}

/// Every (action, outcome) of the trail, oldest first.
fn audit_of(app: &TestApp) -> Vec<(String, String)> {
    let page = app
        .store
        .audit_entries(&klar_store::audit::AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    page.items
        .into_iter()
        .rev()
        .map(|r| (r.action, r.outcome.unwrap_or_default()))
        .collect()
}

async fn futures_statuses(app: &TestApp, cookies: &[&String]) -> Vec<u16> {
    let mut out = Vec::new();
    for c in cookies {
        out.push(get(app, c, "/persons").await.status().as_u16());
    }
    out
}

fn manual() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        jiff::Timestamp::from_second(1_798_800_000).unwrap(),
    ))
}

#[tokio::test]
async fn a_session_ends_after_thirty_idle_minutes_and_says_so() {
    let clock = manual();
    let app = TestApp::spawn_on(clock.clone(), |_| {}).await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let s = login(&app, "sales@staff.example", PW).await;
    for _ in 0..4 {
        clock.advance(jiff::SignedDuration::from_mins(29));
        assert_eq!(
            get(&app, &s, "/persons").await.status(),
            200,
            "in use, it lives on"
        );
    }
    clock.advance(jiff::SignedDuration::from_mins(30));
    let r = get(&app, &s, "/persons").await;
    assert_eq!(location(&r), "/login?expired=1");
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let page = app
        .http
        .get(format!("{}/login?expired=1", app.base))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Your session has ended"));
    // Gone for good, also for the API with the cookie.
    assert_eq!(location(&get(&app, &s, "/persons").await), "/login");
    let entries = audit_of(&app);
    assert!(entries.contains(&("session.expired".to_string(), "idle".to_string())));
}

#[tokio::test]
async fn a_session_ends_twelve_hours_after_the_login_however_busy() {
    let clock = manual();
    let app = TestApp::spawn_on(clock.clone(), |_| {}).await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let s = login(&app, "sales@staff.example", PW).await;
    for _ in 0..35 {
        clock.advance(jiff::SignedDuration::from_mins(20));
        assert_eq!(get(&app, &s, "/persons").await.status(), 200);
    }
    clock.advance(jiff::SignedDuration::from_mins(20));
    let r = get(&app, &s, "/persons").await;
    assert_eq!(location(&r), "/login?expired=1", "12 h after the login");
    let entries = audit_of(&app);
    assert!(entries.contains(&("session.expired".to_string(), "absolute".to_string())));
}

#[tokio::test]
async fn the_timeouts_follow_the_configuration_and_the_cookie_lives_as_long_as_the_session() {
    let clock = manual();
    let app = TestApp::spawn_on(clock.clone(), |c| {
        c.session_idle = jiff::SignedDuration::from_mins(5);
        c.session_max = jiff::SignedDuration::from_hours(1);
    })
    .await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let r = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[("email", "sales@staff.example"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=3600")
    );
    let s = crate::app::session_cookie_of(&r);
    clock.advance(jiff::SignedDuration::from_mins(6));
    assert_eq!(
        location(&get(&app, &s, "/persons").await),
        "/login?expired=1"
    );
}

#[tokio::test]
async fn deactivating_an_account_ends_its_sessions_and_tokens_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    let token = app.sales_token();
    let session = login(&app, "sales@staff.example", PW).await;
    // Both work, and the token is now in the 2-second cache.
    assert_eq!(
        app.call("GET", "/api/v1/persons", Some(&token), None)
            .await
            .status,
        200
    );
    assert_eq!(get(&app, &session, "/persons").await.status(), 200);
    let id = app.store.user_by_email("sales@staff.example").unwrap().id;
    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Immediately: no waiting for the cache.
    app.call("GET", "/api/v1/persons", Some(&token), None)
        .await
        .problem(401);
    let r = app
        .http
        .get(format!("{}/api/v1/persons", app.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(location(&get(&app, &session, "/persons").await), "/login");
    // The password does not open a new session either, and the refusal is the usual one.
    let r = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[("email", "sales@staff.example"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The use of the revoked token is recorded, by id.
    let entries = audit_of(&app);
    assert!(entries.contains(&("auth.refused".to_string(), "token_revoked".to_string())));
}

#[tokio::test]
async fn a_new_password_needs_twelve_characters_and_must_not_be_a_common_one() {
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let s = login(&app, "sales@staff.example", PW).await;
    let csrf = csrf_of(&app, &s, "/account/password").await;
    for (new, de) in [
        ("kurz-9", "mindestens 12 Zeichen"),
        ("Qwerty123456", "häufigsten Passwörtern"),
        ("PASSWORD1234", "häufigsten Passwörtern"),
    ] {
        let r = app
            .http
            .post(format!("{}/account/password", app.base))
            .header("cookie", &s)
            .form(&[
                ("csrf", csrf.as_str()),
                ("current", PW),
                ("new", new),
                ("repeat", new),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{new}");
        let html = r.text().await.unwrap();
        assert!(html.contains(de), "{new}: {html}");
    }
    let r = app
        .http
        .post(format!("{}/account/password", app.base))
        .header("cookie", &s)
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", PW),
            ("new", "Ein-langes-eigenes-Passwort"),
            ("repeat", "Ein-langes-eigenes-Passwort"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The headers every answer must carry.
fn assert_security_headers(h: &reqwest::header::HeaderMap, what: &str) {
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
    assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "same-origin", "{what}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
}

async fn headers_of(app: &TestApp, path: &str, accept: &str) -> reqwest::header::HeaderMap {
    app.http
        .get(format!("{}{path}", app.base))
        .header("accept", accept)
        .send()
        .await
        .unwrap()
        .headers()
        .clone()
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_hsts_only_over_tls() {
    let app = TestApp::spawn().await;
    let token = app.sales_token();
    let api = app.call("GET", "/api/v1/persons", Some(&token), None).await;
    assert_security_headers(&api.headers, "API");
    let unauthorized = app.call("GET", "/api/v1/persons", None, None).await;
    assert_eq!(unauthorized.status, 401);
    assert_security_headers(&unauthorized.headers, "401 problem");
    let css = app
        .http
        .get(format!("{}/assets/app.css", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    for (path, accept, what) in [
        ("/login", "text/html", "UI"),
        ("/assets/app.js", "*/*", "static asset"),
        ("/no/such/page", "text/html", "HTML 404"),
        ("/api/v1/no-such-thing", "application/json", "API 404"),
        ("/healthz", "*/*", "health"),
    ] {
        let h = headers_of(&app, path, accept).await;
        assert_security_headers(&h, what);
        assert!(
            h.get("strict-transport-security").is_none(),
            "{what}: no HSTS over plain http"
        );
    }

    // Behind a TLS-terminating proxy, the public URL is https: HSTS on every answer.
    let tls = TestApp::spawn_on(Arc::new(SystemClock), |c| {
        c.public_url = "https://crm.example".into();
    })
    .await;
    for path in ["/login", "/assets/app.css", "/api/v1/persons", "/nothing"] {
        let h = headers_of(&tls, path, "text/html").await;
        assert_eq!(h["strict-transport-security"], "max-age=31536000", "{path}");
        assert_security_headers(&h, path);
    }

    // X-Forwarded-Proto counts only from a configured proxy.
    let proxied = TestApp::spawn_on(Arc::new(SystemClock), |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let h = proxied
        .http
        .get(format!("{}/login", proxied.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(h.headers()["strict-transport-security"], "max-age=31536000");
    let h = app
        .http
        .get(format!("{}/login", app.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(h.headers().get("strict-transport-security").is_none());
}
