use crate::app::TestApp;
use serde_json::json;

#[tokio::test]
async fn organizations_are_found_by_a_word_prefix_of_their_name() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let r = app.call("POST", "/api/v1/organizations", Some(&t), Some(json!({"name": "Müller & Söhne KG", "website": "https://mueller.example", "industry": "Handwerk", "address": {"city": "Köln", "country": "de"}}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["address"]["country"], "DE");
    for q in ["mull", "sohne", "M%C3%BCller"] {
        let l = app
            .call(
                "GET",
                &format!("/api/v1/organizations?q={q}"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(l.body["items"].as_array().unwrap().len(), 1, "{q}");
    }
    let r = app
        .call(
            "POST",
            "/api/v1/organizations",
            Some(&t),
            Some(json!({"name": "X", "website": "javascript:alert(1)"})),
        )
        .await;
    assert_eq!(r.problem(422), vec!["website"]);
}

#[tokio::test]
async fn activities_form_a_timeline_and_tasks_can_be_done() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app
        .create_person(
            &t,
            json!({"first_name": "Erika", "last_name": "Mustermann"}),
        )
        .await;
    for (kind, subject) in [
        ("note", "Erstkontakt"),
        ("call", "Rückruf"),
        ("task", "Angebot schicken"),
    ] {
        let mut b =
            json!({"kind": kind, "person_id": p["id"], "subject": subject, "body": "Details"});
        if kind == "task" {
            b["due_date"] = json!("2026-12-01");
        }
        let r = app
            .call("POST", "/api/v1/activities", Some(&t), Some(b))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let tl = app
        .call(
            "GET",
            &format!("/api/v1/activities?person_id={}", p["id"].as_str().unwrap()),
            Some(&t),
            None,
        )
        .await;
    let items = tl.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["subject"], "Angebot schicken", "newest first");
    let task = &items[0];
    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/activities/{}", task["id"].as_str().unwrap()),
            Some(&t),
            Some(json!({"done": true})),
        )
        .await;
    assert_eq!(r.body["done"], true);
    let r = app
        .call(
            "POST",
            "/api/v1/activities",
            Some(&t),
            Some(json!({"kind": "fax", "subject": ""})),
        )
        .await;
    let mut f = r.problem(422);
    f.sort();
    assert_eq!(f, vec!["kind", "person_id", "subject"]);
}

#[tokio::test]
async fn the_timeline_is_ordered_by_when_things_happened_across_pages() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, json!({"last_name": "Zeitlos"})).await;
    for day in [
        "2026-03-01",
        "2026-01-15",
        "2026-11-20",
        "2026-01-15",
        "2026-06-30",
    ] {
        let b = json!({"kind": "note", "person_id": p["id"], "subject": day, "occurred_at": format!("{day}T09:00:00Z")});
        assert_eq!(
            app.call("POST", "/api/v1/activities", Some(&t), Some(b))
                .await
                .status,
            201
        );
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!(
            "/api/v1/activities?person_id={}&limit=2{cursor}",
            p["id"].as_str().unwrap()
        );
        let r = app.call("GET", &url, Some(&t), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["subject"].as_str().unwrap().to_string()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![
            "2026-11-20",
            "2026-06-30",
            "2026-03-01",
            "2026-01-15",
            "2026-01-15"
        ]
    );
}
