use crate::app::TestApp;
use klar_domain::role::Role;
use serde_json::json;

#[tokio::test]
async fn the_api_refuses_requests_without_a_valid_token() {
    let app = TestApp::spawn().await;
    app.call("GET", "/api/v1/persons", None, None)
        .await
        .problem(401);
    app.call("GET", "/api/v1/persons", Some("klar_forged"), None)
        .await
        .problem(401);
}

#[tokio::test]
async fn the_admin_administers_but_cannot_read_customer_data() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    let p = app
        .create_person(
            &sales,
            json!({"first_name": "Erika", "last_name": "Mustermann"}),
        )
        .await;
    app.call("GET", "/api/v1/persons", Some(&admin), None)
        .await
        .problem(403);
    app.call(
        "GET",
        &format!("/api/v1/persons/{}", p["id"].as_str().unwrap()),
        Some(&admin),
        None,
    )
    .await
    .problem(403);
    app.call("GET", "/api/v1/activities", Some(&admin), None)
        .await
        .problem(403);
    app.call(
        "POST",
        "/api/v1/persons",
        Some(&admin),
        Some(json!({"last_name": "X"})),
    )
    .await
    .problem(403);
}

#[tokio::test]
async fn viewers_and_marketing_read_but_do_not_write() {
    let app = TestApp::spawn().await;
    for (email, role) in [
        ("v@staff.example", Role::Viewer),
        ("m@staff.example", Role::Marketing),
    ] {
        let t = app.user_with_role(email, role);
        assert_eq!(
            app.call("GET", "/api/v1/persons", Some(&t), None)
                .await
                .status,
            200
        );
        app.call(
            "POST",
            "/api/v1/persons",
            Some(&t),
            Some(json!({"last_name": "X"})),
        )
        .await
        .problem(403);
    }
    assert_eq!(app.store.count_persons().unwrap(), 0);
}

#[tokio::test]
async fn session_cookies_are_http_only_strict_and_logout_ends_them() {
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let r = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[
            ("email", "sales@staff.example"),
            ("password", "wrong-password-123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[
            ("email", "sales@staff.example"),
            ("password", "Correct-Horse-Battery-9"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    // Cookie-authenticated API writes need the CSRF header.
    let r = app
        .http
        .post(format!("{}/api/v1/persons", app.base))
        .header("cookie", &session)
        .json(&json!({"last_name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A form post from another site is refused even with the right cookie.
    let r = app
        .http
        .post(format!("{}/logout", app.base))
        .header("cookie", &session)
        .header("origin", "https://evil.example")
        .form(&[("csrf", "whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let page = app
        .http
        .get(format!("{}/persons", app.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = app
        .http
        .post(format!("{}/logout", app.base))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = app
        .http
        .get(format!("{}/persons", app.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "the session is gone after logout");
}

#[tokio::test]
async fn every_response_carries_a_strict_content_security_policy() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.starts_with("default-src 'self'"));
    assert_eq!(
        r.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
}

#[tokio::test]
async fn a_disabled_account_or_revoked_token_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    assert_eq!(
        app.call("GET", "/api/v1/persons", Some(&t), None)
            .await
            .status,
        200
    );
    let u = app.store.user_by_email("sales@staff.example").unwrap();
    app.store.revoke_tokens(u.id).unwrap();
    app.call("GET", "/api/v1/persons", Some(&t), None)
        .await
        .problem(401);
    let t2 = app.store.create_token(u.id).unwrap();
    assert_eq!(
        app.call("GET", "/api/v1/persons", Some(&t2), None)
            .await
            .status,
        200
    );
    app.store.disable_user(u.id).unwrap();
    app.call("GET", "/api/v1/persons", Some(&t2), None)
        .await
        .problem(401);
}
