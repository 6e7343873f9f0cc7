use crate::app::TestApp;
use klar_domain::role::Role;
use serde_json::json;

#[tokio::test]
async fn custom_fields_are_defined_once_and_values_are_checked_against_them() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    let def = json!({"record_type": "person", "key": "shoe_size", "label": "Schuhgröße", "field_type": "number"});
    app.call("POST", "/api/v1/custom-fields", Some(&t), Some(def.clone()))
        .await
        .problem(403);
    assert_eq!(
        app.call(
            "POST",
            "/api/v1/custom-fields",
            Some(&admin),
            Some(def.clone())
        )
        .await
        .status,
        201
    );
    app.call("POST", "/api/v1/custom-fields", Some(&admin), Some(def))
        .await
        .problem(422);
    let bad = json!({"record_type": "person", "key": "Size!", "label": "", "field_type": "select"});
    let mut f = app
        .call("POST", "/api/v1/custom-fields", Some(&admin), Some(bad))
        .await
        .problem(422);
    f.sort();
    assert_eq!(f, vec!["key", "label", "options"]);
    let list = app
        .call(
            "GET",
            "/api/v1/custom-fields?record_type=person",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(list.body[0]["key"], "shoe_size");

    let p = app
        .create_person(
            &t,
            json!({"last_name": "Fuß", "custom_fields": {"shoe_size": 44}}),
        )
        .await;
    assert_eq!(p["custom_fields"]["shoe_size"], 44);
    let r = app
        .call(
            "POST",
            "/api/v1/persons",
            Some(&t),
            Some(json!({"last_name": "X", "custom_fields": {"shoe_size": "big"}})),
        )
        .await;
    assert_eq!(r.problem(422), vec!["custom_fields.shoe_size"]);
    let r = app
        .call(
            "POST",
            "/api/v1/persons",
            Some(&t),
            Some(json!({"last_name": "X", "custom_fields": {"hat": 1}})),
        )
        .await;
    assert_eq!(r.problem(422), vec!["custom_fields.hat"]);
    let path = format!("/api/v1/persons/{}", p["id"].as_str().unwrap());
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&t),
            Some(json!({"custom_fields": {"shoe_size": null}})),
        )
        .await;
    assert_eq!(r.body["custom_fields"], json!({}));
}

#[tokio::test]
async fn pipeline_stages_can_be_added_renamed_and_removed_when_empty() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let po = app.user_with_role("dpo@staff.example", Role::PrivacyOfficer);
    let stages = app
        .call("GET", "/api/v1/pipelines/default/stages", Some(&t), None)
        .await;
    let keys: Vec<&str> = stages
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        vec![
            "lead",
            "qualified",
            "proposal",
            "negotiation",
            "won",
            "lost"
        ]
    );
    let new = json!({"key": "demo", "name_de": "Vorführung", "name_en": "Demo", "position": 3, "kind": "open"});
    app.call(
        "POST",
        "/api/v1/pipelines/default/stages",
        Some(&t),
        Some(new.clone()),
    )
    .await
    .problem(403);
    let r = app
        .call(
            "POST",
            "/api/v1/pipelines/default/stages",
            Some(&po),
            Some(new),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let d = app
        .call(
            "POST",
            "/api/v1/deals",
            Some(&t),
            Some(json!({"title": "Vorführung", "stage": "demo"})),
        )
        .await;
    assert_eq!(d.status, 201, "{}", d.body);
    let r = app
        .call(
            "PATCH",
            "/api/v1/pipelines/default/stages/demo",
            Some(&po),
            Some(json!({"name_en": "Product demo", "position": 10})),
        )
        .await;
    assert_eq!(
        r.body.as_array().unwrap().last().unwrap()["name_en"],
        "Product demo"
    );
    app.call(
        "DELETE",
        "/api/v1/pipelines/default/stages/demo",
        Some(&po),
        None,
    )
    .await
    .problem(409);
    app.call(
        "PATCH",
        &format!("/api/v1/deals/{}", d.body["id"].as_str().unwrap()),
        Some(&t),
        Some(json!({"stage": "lead"})),
    )
    .await;
    assert_eq!(
        app.call(
            "DELETE",
            "/api/v1/pipelines/default/stages/demo",
            Some(&po),
            None
        )
        .await
        .status,
        200
    );
    app.call("GET", "/api/v1/pipelines/other/stages", Some(&t), None)
        .await
        .problem(404);
}

#[tokio::test]
async fn tags_in_use_are_listed_once_whatever_their_case() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    app.create_person(&t, json!({"last_name": "A", "tags": ["Messe", "vip"]}))
        .await;
    app.create_person(&t, json!({"last_name": "B", "tags": ["messe"]}))
        .await;
    let r = app.call("GET", "/api/v1/tags", Some(&t), None).await;
    assert_eq!(r.body, json!(["Messe", "vip"]));
}
