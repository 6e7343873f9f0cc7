use crate::app::{TestApp, csrf_of, login};
use klar_domain::role::Role;
use serde_json::json;

#[tokio::test]
async fn the_admin_creates_accounts_with_a_one_time_password_and_changes_roles() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    let sales = app.sales_token();
    app.call("GET", "/api/v1/users", Some(&sales), None)
        .await
        .problem(403);
    let r = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"email": "neu@staff.example", "role": "marketing"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["role"], "marketing");
    let otp = r.body["one_time_password"].as_str().unwrap().to_string();
    assert_eq!(otp.len(), 20);
    let hash = app
        .store
        .password_hash("neu@staff.example")
        .unwrap()
        .unwrap()
        .1;
    assert!(hash.starts_with("$argon2id$") && klar_crypto::verify_password(&otp, &hash));
    let dup = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"email": "NEU@staff.example", "role": "sales"})),
        )
        .await;
    assert_eq!(dup.problem(422), vec!["email"]);
    let bad = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"email": "x", "role": "root"})),
        )
        .await;
    let mut f = bad.problem(422);
    f.sort();
    assert_eq!(f, vec!["email", "role"]);
    let id = r.body["id"].as_str().unwrap();
    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            Some(json!({"role": "viewer", "active": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["role"].as_str(), r.body["active"].as_bool()),
        (Some("viewer"), Some(false))
    );
    let me = app.store.user_by_email("admin@staff.example").unwrap().id;
    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/users/{me}"),
            Some(&admin),
            Some(json!({"active": false})),
        )
        .await;
    r.problem(422);
}

#[tokio::test]
async fn a_user_changes_his_password_and_his_other_sessions_end() {
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let a = login(&app, "sales@staff.example", "Correct-Horse-Battery-9").await;
    let b = login(&app, "sales@staff.example", "Correct-Horse-Battery-9").await;
    let csrf = csrf_of(&app, &a, "/account/password").await;
    let post = |current: &str, new: &str, repeat: &str| {
        app.http
            .post(format!("{}/account/password", app.base))
            .header("cookie", &a)
            .form(&[
                ("csrf", csrf.as_str()),
                ("current", current),
                ("new", new),
                ("repeat", repeat),
            ])
            .send()
    };
    assert_eq!(
        post(
            "wrong-password-1",
            "Neues-Passwort-2026",
            "Neues-Passwort-2026"
        )
        .await
        .unwrap()
        .status(),
        422
    );
    assert_eq!(
        post("Correct-Horse-Battery-9", "kurz", "kurz")
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(
        post(
            "Correct-Horse-Battery-9",
            "Neues-Passwort-2026",
            "Anderes-Passwort-2026"
        )
        .await
        .unwrap()
        .status(),
        422
    );
    assert_eq!(
        post(
            "Correct-Horse-Battery-9",
            "Neues-Passwort-2026",
            "Neues-Passwort-2026"
        )
        .await
        .unwrap()
        .status(),
        200
    );
    let still = app
        .http
        .get(format!("{}/settings", app.base))
        .header("cookie", &a)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200, "the session that changed it stays");
    let other = app
        .http
        .get(format!("{}/settings", app.base))
        .header("cookie", &b)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 303, "the other session ended");
    login(&app, "sales@staff.example", "Neues-Passwort-2026").await;
}

#[tokio::test]
async fn the_staff_page_is_for_administrators_only() {
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    app.user_with_role("admin@staff.example", Role::Admin);
    let s = login(&app, "sales@staff.example", "Correct-Horse-Battery-9").await;
    let r = app
        .http
        .get(format!("{}/admin/users", app.base))
        .header("cookie", &s)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let a = login(&app, "admin@staff.example", "Correct-Horse-Battery-9").await;
    let csrf = csrf_of(&app, &a, "/admin/users").await;
    let r = app
        .http
        .post(format!("{}/admin/users", app.base))
        .header("cookie", &a)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "neu@staff.example"),
            ("role", "viewer"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.text().await.unwrap().contains("neu@staff.example"));
    let r = app
        .http
        .get(format!("{}/persons", app.base))
        .header("cookie", &a)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "the administrator does not see customer data"
    );
}

#[tokio::test]
async fn the_person_page_names_the_staff_member_responsible() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app
        .create_person(
            &t,
            json!({"first_name": "Erika", "last_name": "Mustermann"}),
        )
        .await;
    let s = login(&app, "sales@staff.example", "Correct-Horse-Battery-9").await;
    let html = app
        .http
        .get(format!(
            "{}/persons/{}",
            app.base,
            p["id"].as_str().unwrap()
        ))
        .header("cookie", &s)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<dd>sales@staff.example</dd>"), "{html}");
}

#[tokio::test]
async fn only_mine_lists_the_persons_the_user_is_responsible_for() {
    let app = TestApp::spawn().await;
    let mine = app.sales_token();
    let other = app.user_with_role("kollege@staff.example", Role::Sales);
    app.create_person(&mine, json!({"last_name": "Meinhardt"}))
        .await;
    app.create_person(&other, json!({"last_name": "Fremdling"}))
        .await;
    let s = login(&app, "sales@staff.example", "Correct-Horse-Battery-9").await;
    let get = |q: &'static str| {
        app.http
            .get(format!("{}/persons/rows?{q}", app.base))
            .header("cookie", s.clone())
            .send()
    };
    let all = get("").await.unwrap().text().await.unwrap();
    assert!(all.contains("Meinhardt") && all.contains("Fremdling"));
    let only = get("mine=1").await.unwrap().text().await.unwrap();
    assert!(only.contains("Meinhardt") && !only.contains("Fremdling"));
}
