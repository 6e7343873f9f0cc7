//! Two-factor login (issue 7 item 4): enrolment, codes, replay, recovery codes, the roles
//! that must use it, and login throttling. Codes are computed here from the secret the
//! enrolment page shows, with the production RFC 6238 code (its test vectors are checked in
//! `klar-crypto`).

use crate::app::{
    TestApp, between, csrf_of, enrol, location, login, next_code, session_cookie_of, step_now,
};
use klar_domain::clock::ManualClock;
use klar_domain::role::Role;
use serde_json::Value;
use std::sync::Arc;

const PW: &str = "Correct-Horse-Battery-9";

/// Posts the login form; returns the response.
async fn password(app: &TestApp, email: &str, pw: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/login", app.base))
        .form(&[("email", email), ("password", pw)])
        .send()
        .await
        .unwrap()
}

/// Posts a code on the code page of a half-logged-in session.
async fn code(app: &TestApp, cookie: &str, code: &str) -> reqwest::Response {
    let csrf = csrf_of(app, cookie, "/login/code").await;
    app.http
        .post(format!("{}/login/code", app.base))
        .header("cookie", cookie)
        .form(&[("csrf", csrf.as_str()), ("code", code)])
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The audit entries of one action, read by a privacy officer's token.
async fn trail(app: &TestApp, officer: &str, action: &str) -> Vec<Value> {
    let r = app
        .call(
            "GET",
            &format!("/api/v1/audit?action={action}"),
            Some(officer),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

/// A code of the secret that is valid for none of the steps the server accepts now.
fn wrong_code(app: &TestApp, secret: &[u8]) -> String {
    let now = step_now(app);
    (0..10)
        .map(|d| format!("{:06}", 654_321 + d))
        .find(|c| ((now - 1)..=(now + 1)).all(|s| klar_crypto::totp::code_string(secret, s) != *c))
        .unwrap()
}

#[tokio::test]
async fn a_sales_user_enrols_voluntarily_and_then_logs_in_with_a_code_that_works_once() {
    let app = TestApp::spawn().await;
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    app.user_with_role("sales@staff.example", Role::Sales);
    let cookie = login(&app, "sales@staff.example", PW).await;
    // Sales needs no second factor; the page offers it.
    let page = get(&app, &cookie, "/account/totp")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("otpauth://totp/Klar:sales@staff.example?secret="));
    assert!(
        page.contains("src=\"data:image/svg+xml;base64,"),
        "a QR code"
    );
    assert!(!page.contains("id=\"totp-required\""));
    // Reloading shows the same secret: the app scanned before still fits.
    let again = get(&app, &cookie, "/account/totp")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        between(&page, "id=\"totp-secret\">", "<"),
        between(&again, "id=\"totp-secret\">", "<")
    );
    let done = enrol(&app, "sales@staff.example", &cookie).await;
    assert!(done.contains("id=\"recovery-codes\""));
    // The secret is stored sealed, never as its base32 or raw bytes.
    let secret = app.totp.lock().unwrap()["sales@staff.example"]
        .secret
        .clone();
    let db = std::fs::read(app.dir.path().join("klar.db")).unwrap();
    let wal = std::fs::read(app.dir.path().join("klar.db-wal")).unwrap_or_default();
    let b32 = klar_crypto::totp::base32_encode(&secret);
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_slice()));
        assert!(!bytes.windows(b32.len()).any(|w| w == b32.as_bytes()));
    }

    // The next login is two steps; the first grants nothing.
    let r = password(&app, "sales@staff.example", PW).await;
    assert_eq!(
        (r.status().as_u16(), location(&r).as_str()),
        (303, "/login/code")
    );
    let half = session_cookie_of(&r);
    let r = get(&app, &half, "/persons").await;
    assert_eq!(location(&r), "/login/code");
    let r = app
        .http
        .get(format!("{}/api/v1/persons", app.base))
        .header("cookie", &half)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "the half-logged-in session is no API credential"
    );

    // A wrong code is refused and audited; the right one logs in under a new session id.
    let r = code(&app, &half, &wrong_code(&app, &secret)).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Der Code ist falsch"));
    let good = next_code(&app, "sales@staff.example");
    let r = code(&app, &half, &good).await;
    assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/"));
    let full = session_cookie_of(&r);
    assert_ne!(full, half, "the session id changes at the second factor");
    assert_eq!(get(&app, &full, "/persons").await.status(), 200);
    assert_eq!(
        location(&get(&app, &half, "/persons").await),
        "/login",
        "the half-logged-in id is gone"
    );

    // The same code again, in a new login, is a replay.
    let r = password(&app, "sales@staff.example", PW).await;
    let half = session_cookie_of(&r);
    let r = code(&app, &half, &good).await;
    assert_eq!(r.status(), 401);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("bereits verwendet") || html.contains("used already"),
        "{html}"
    );
    let failed = trail(&app, &officer, "login.code_failed").await;
    let outcomes: Vec<&str> = failed
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.contains(&"wrong") && outcomes.contains(&"replayed"),
        "{outcomes:?}"
    );
    let text = serde_json::to_string(&failed).unwrap();
    assert!(!text.contains("staff.example"), "ids only in the trail");
    let ok = trail(&app, &officer, "login.ok").await;
    assert!(ok.iter().any(|e| e["outcome"] == "totp"), "{ok:?}");
}

#[tokio::test]
async fn a_recovery_code_logs_in_once_and_new_codes_replace_the_old_ones() {
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let cookie = login(&app, "sales@staff.example", PW).await;
    enrol(&app, "sales@staff.example", &cookie).await;
    let codes = app.totp.lock().unwrap()["sales@staff.example"]
        .recovery
        .clone();

    let half = session_cookie_of(&password(&app, "sales@staff.example", PW).await);
    // Typed in lower case with a space instead of the dash: still the code.
    let typed = codes[3].to_lowercase().replace('-', " ");
    let r = code(&app, &half, &typed).await;
    assert_eq!(r.status(), 303);
    let full = session_cookie_of(&r);
    let page = get(&app, &full, "/account/totp")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"recovery-left\">9<"), "{page}");

    let half = session_cookie_of(&password(&app, "sales@staff.example", PW).await);
    assert_eq!(
        code(&app, &half, &codes[3]).await.status(),
        401,
        "used once"
    );

    // New codes need a current code from the app; the old ones stop working.
    let csrf = csrf_of(&app, &full, "/account/totp").await;
    let app_code = next_code(&app, "sales@staff.example");
    let r = app
        .http
        .post(format!("{}/account/totp/recovery-codes", app.base))
        .header("cookie", &full)
        .form(&[("csrf", csrf.as_str()), ("code", app_code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let fresh: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|p| p.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(!fresh.contains(&codes[0]));
    let half = session_cookie_of(&password(&app, "sales@staff.example", PW).await);
    assert_eq!(code(&app, &half, &codes[0]).await.status(), 401);
    assert_eq!(code(&app, &half, &fresh[0]).await.status(), 303);
}

#[tokio::test]
async fn admins_and_privacy_officers_can_use_nothing_before_they_enrol() {
    let app = TestApp::spawn().await;
    for (email, role) in [
        ("admin@staff.example", Role::Admin),
        ("dsb@staff.example", Role::PrivacyOfficer),
    ] {
        app.user_with_role(email, role);
        let r = password(&app, email, PW).await;
        assert_eq!(
            (r.status().as_u16(), location(&r).as_str()),
            (303, "/account/totp")
        );
        let c = session_cookie_of(&r);
        for path in [
            "/",
            "/dashboard",
            "/admin/users",
            "/privacy",
            "/privacy/audit",
            "/settings",
            "/account/sessions",
            "/account/password",
        ] {
            let r = get(&app, &c, path).await;
            let to = location(&r);
            assert_eq!(r.status(), 303, "{email} {path}");
            assert_eq!(to, "/account/totp", "{email} {path}");
        }
        for path in ["/api/v1/users", "/api/v1/audit", "/api/v1/persons"] {
            let r = app
                .http
                .get(format!("{}{path}", app.base))
                .header("cookie", &c)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{email} {path}");
        }
        // The page itself says why and shows no navigation.
        let page = get(&app, &c, "/account/totp").await.text().await.unwrap();
        assert!(page.contains("id=\"totp-required\""));
        assert!(!page.contains("href=\"/admin/users\""));
        // A form post elsewhere is not accepted either.
        let csrf = between(&page, "name=\"csrf\" value=\"", "\"")
            .unwrap()
            .to_string();
        let r = app
            .http
            .post(format!("{}/admin/users", app.base))
            .header("cookie", &c)
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "x@staff.example"),
                ("role", "sales"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&r), "/account/totp");
        assert!(app.store.user_by_email("x@staff.example").is_err());

        enrol(&app, email, &c).await;
        let r = get(&app, &c, "/settings").await;
        assert_eq!(r.status(), 200, "enrolled: the same session is logged in");
    }
    // An account whose role needs TOTP cannot turn it into a password-only login: the next
    // login asks for a code.
    let r = password(&app, "admin@staff.example", PW).await;
    assert_eq!(location(&r), "/login/code");
}

#[tokio::test]
async fn more_roles_can_be_made_to_need_totp_by_configuration() {
    let app = TestApp::spawn_on(Arc::new(klar_domain::clock::SystemClock), |c| {
        c.require_totp_for(&[Role::Sales])
    })
    .await;
    app.user_with_role("sales@staff.example", Role::Sales);
    app.user_with_role("viewer@staff.example", Role::Viewer);
    let r = password(&app, "sales@staff.example", PW).await;
    assert_eq!(location(&r), "/account/totp");
    let r = password(&app, "viewer@staff.example", PW).await;
    assert_eq!(location(&r), "/");
}

#[tokio::test]
async fn an_api_token_of_an_admin_works_without_a_second_factor() {
    let app = TestApp::spawn().await;
    let t = app.user_with_role("admin@staff.example", Role::Admin);
    let r = app.call("GET", "/api/v1/users", Some(&t), None).await;
    assert_eq!(
        r.status, 200,
        "tokens are made by the operator on the command line"
    );
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        jiff::Timestamp::from_second(1_798_800_000).unwrap(),
    ))
}

#[tokio::test]
async fn failed_logins_of_an_account_make_it_wait_longer_each_time_known_or_not() {
    let clock = clock();
    let app = TestApp::spawn_on(clock.clone(), |_| {}).await;
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    app.user_with_role("sales@staff.example", Role::Sales);
    let mut bodies = Vec::new();
    for email in ["sales@staff.example", "nobody@staff.example"] {
        for _ in 0..5 {
            let r = password(&app, email, "wrong-password-1").await;
            assert_eq!(r.status(), 401);
        }
        // The fifth failure imposes 1 s: even the right password is not checked now.
        let r = password(&app, email, PW).await;
        assert_eq!(r.status(), 429, "{email}");
        assert_eq!(r.headers()["retry-after"], "1");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("1 Sekunden") || html.contains("1 seconds"),
            "{html}"
        );
        bodies.push(html.replace(email, "EMAIL"));
        // After the wait, another failure doubles it, and again.
        for expected in ["2", "4", "8"] {
            clock.advance(jiff::SignedDuration::from_secs(60));
            assert_eq!(
                password(&app, email, "wrong-password-1").await.status(),
                401
            );
            let r = password(&app, email, PW).await;
            assert_eq!(r.status(), 429);
            assert_eq!(r.headers()["retry-after"], expected, "{email}");
        }
    }
    assert_eq!(
        bodies[0], bodies[1],
        "a known and an unknown account look the same"
    );
    // The wait grows up to 15 minutes and no further.
    for _ in 0..20 {
        clock.advance(jiff::SignedDuration::from_mins(16));
        password(&app, "sales@staff.example", "wrong-password-1").await;
    }
    let r = password(&app, "sales@staff.example", PW).await;
    assert_eq!(r.headers()["retry-after"], "900");
    clock.advance(jiff::SignedDuration::from_mins(15));
    let r = password(&app, "sales@staff.example", PW).await;
    assert_eq!(r.status(), 303, "after the wait the right password works");
    // A complete login forgets the failures.
    assert_eq!(
        password(&app, "sales@staff.example", "wrong-password-1")
            .await
            .status(),
        401
    );
    assert_eq!(
        password(&app, "sales@staff.example", PW).await.status(),
        303
    );

    let throttled = trail(&app, &officer, "login.throttled").await;
    assert_eq!(throttled.len(), 9, "every refused attempt");
    assert!(throttled.iter().any(|e| e["actor"] == "anonymous"));
    assert!(
        throttled
            .iter()
            .any(|e| e["actor"].as_str().unwrap().starts_with("user:"))
    );
    let text = serde_json::to_string(&throttled).unwrap();
    assert!(!text.contains("staff.example"));
}

#[tokio::test]
async fn many_failures_from_one_address_make_it_wait_whatever_account_it_tries() {
    let clock = clock();
    let app = TestApp::spawn_on(clock.clone(), |_| {}).await;
    app.user_with_role("sales@staff.example", Role::Sales);
    for i in 0..20 {
        let r = password(&app, &format!("guess{i}@staff.example"), "wrong-password-1").await;
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let r = password(&app, "sales@staff.example", PW).await;
    assert_eq!(r.status(), 429, "the address waits, for every account");
    clock.advance(jiff::SignedDuration::from_secs(2));
    assert_eq!(
        password(&app, "sales@staff.example", PW).await.status(),
        303
    );
}

#[tokio::test]
async fn guessing_second_factor_codes_is_throttled_too() {
    let clock = clock();
    let app = TestApp::spawn_on(clock.clone(), |_| {}).await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let cookie = login(&app, "sales@staff.example", PW).await;
    enrol(&app, "sales@staff.example", &cookie).await;
    let secret = app.totp.lock().unwrap()["sales@staff.example"]
        .secret
        .clone();
    clock.advance(jiff::SignedDuration::from_secs(90));
    let half = session_cookie_of(&password(&app, "sales@staff.example", PW).await);
    let wrong = wrong_code(&app, &secret);
    for _ in 0..5 {
        assert_eq!(code(&app, &half, &wrong).await.status(), 401);
    }
    let right = next_code(&app, "sales@staff.example");
    let r = code(&app, &half, &right).await;
    assert_eq!(r.status(), 429, "even the right code waits");
    assert_eq!(r.headers()["retry-after"], "1");
    clock.advance(jiff::SignedDuration::from_secs(1));
    let right = next_code(&app, "sales@staff.example");
    assert_eq!(code(&app, &half, &right).await.status(), 303);
}
