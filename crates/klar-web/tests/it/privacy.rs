use crate::app::TestApp;
use klar_domain::role::Role;
use serde_json::json;

#[tokio::test]
async fn a_new_installation_has_the_default_purposes_with_one_legal_basis_each() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let r = app.call("GET", "/api/v1/purposes", Some(&t), None).await;
    assert_eq!(r.status, 200);
    let by_key = |k: &str| {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == k)
            .cloned()
            .unwrap_or_else(|| panic!("{k} missing"))
    };
    for (key, basis) in [
        ("contract", "contract"),
        ("newsletter", "consent"),
        ("phone_marketing", "consent"),
        ("postal_marketing", "legitimate_interest"),
        ("profiling", "consent"),
        ("email_tracking", "consent"),
        ("legal_retention", "legal_obligation"),
    ] {
        let p = by_key(key);
        assert_eq!(p["legal_basis"], basis, "{key}");
        for field in ["name", "channels", "retention", "data_categories"] {
            assert!(!p[field].is_null(), "{key} lacks {field}");
        }
    }
    assert_eq!(by_key("newsletter")["channels"], json!(["email"]));
    assert_eq!(by_key("phone_marketing")["channels"], json!(["phone"]));
}

#[tokio::test]
async fn a_new_person_may_be_reached_for_no_optional_purpose() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, json!({"first_name": "Erika", "last_name": "Mustermann", "email": "erika@kunde.example", "kind": "consumer"})).await;
    let id = p["id"].as_str().unwrap();
    for (purpose, channel) in [
        ("newsletter", "email"),
        ("phone_marketing", "phone"),
        ("profiling", "email"),
        ("email_tracking", "email"),
    ] {
        let r = app
            .call(
                "GET",
                &format!("/api/v1/persons/{id}/decision?purpose={purpose}&channel={channel}"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["allowed"], false, "{purpose}/{channel}");
        assert_eq!(r.body["reason_code"], "no_consent", "{purpose}/{channel}");
        assert!(!r.body["reason"].as_str().unwrap().is_empty());
        assert!(r.body["rule"].as_str().unwrap().starts_with('B'));
    }
    let en = app
        .http
        .get(format!(
            "{}/api/v1/persons/{id}/decision?purpose=newsletter&channel=email",
            app.base
        ))
        .bearer_auth(&t)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let en: serde_json::Value = en.json().await.unwrap();
    assert_eq!(en["reason"], en["reasons"]["en"]);
    assert!(
        !en["reason"].as_str().unwrap().contains("Erika"),
        "reasons carry no personal data"
    );
}

#[tokio::test]
async fn decisions_refuse_unknown_purposes_channels_and_persons_clearly() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, json!({"last_name": "X"})).await;
    let id = p["id"].as_str().unwrap();
    let r = app
        .call(
            "GET",
            &format!("/api/v1/persons/{id}/decision?purpose=astrology&channel=pigeon"),
            Some(&t),
            None,
        )
        .await;
    let mut f = r.problem(422);
    f.sort();
    assert_eq!(f, vec!["channel", "purpose"]);
    app.call(
        "GET",
        &format!("/api/v1/persons/{id}/decision?purpose=newsletter"),
        Some(&t),
        None,
    )
    .await
    .problem(400);
    app.call("GET", "/api/v1/persons/0192f5a0-0000-7000-8000-000000000000/decision?purpose=newsletter&channel=email", Some(&t), None)
        .await
        .problem(404);
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    app.call(
        "GET",
        &format!("/api/v1/persons/{id}/decision?purpose=newsletter&channel=email"),
        Some(&admin),
        None,
    )
    .await
    .problem(403);
}
