use crate::app::TestApp;

#[test]
fn the_openapi_document_matches_the_snapshot() {
    let doc: serde_json::Value = serde_json::from_str(&klar_web::api::openapi_document()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    insta::assert_json_snapshot!("openapi", doc);
}

#[tokio::test]
async fn the_openapi_document_is_served_without_login_and_lists_every_route() {
    let app = TestApp::spawn().await;
    let r = app.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    let paths = r.body["paths"].as_object().unwrap();
    for p in [
        "/api/v1/persons",
        "/api/v1/persons/{id}",
        "/api/v1/organizations",
        "/api/v1/deals/{id}",
        "/api/v1/activities",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
}
