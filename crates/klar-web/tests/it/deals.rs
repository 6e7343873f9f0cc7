use crate::app::TestApp;
use serde_json::json;

#[tokio::test]
async fn deals_move_through_the_default_stages_and_record_why_they_were_lost() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let r = app.call("POST", "/api/v1/deals", Some(&t), Some(json!({"title": "Wartungsvertrag", "value_cents": 1_250_000, "currency": "eur", "stage": "qualified"}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["currency"], "EUR");
    assert_eq!(r.body["status"], "open");
    let path = format!("/api/v1/deals/{}", r.body["id"].as_str().unwrap());
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&t),
            Some(json!({"stage": "proposal", "lost_reason": "zu teuer"})),
        )
        .await;
    assert_eq!(r.problem(422), vec!["lost_reason"]);
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&t),
            Some(json!({"stage": "lost", "lost_reason": "Preis zu hoch"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "lost");
    assert!(r.body["closed_at"].is_string());
    let lost = app
        .call("GET", "/api/v1/deals?stage=lost", Some(&t), None)
        .await;
    assert_eq!(lost.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deals_refuse_unknown_currencies_stages_and_negative_values() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let r = app
        .call(
            "POST",
            "/api/v1/deals",
            Some(&t),
            Some(json!({"title": "X", "currency": "EURO", "value_cents": -5})),
        )
        .await;
    let mut f = r.problem(422);
    f.sort();
    assert_eq!(f, vec!["currency", "value_cents"]);
    let r = app
        .call(
            "POST",
            "/api/v1/deals",
            Some(&t),
            Some(json!({"title": "X", "stage": "heaven"})),
        )
        .await;
    assert_eq!(r.problem(422), vec!["stage"]);
    let r = app
        .call(
            "POST",
            "/api/v1/deals",
            Some(&t),
            Some(json!({"title": "X", "value_cents": "100"})),
        )
        .await;
    r.problem(400);
    assert_eq!(app.store.count_deals().unwrap(), 0);
}
