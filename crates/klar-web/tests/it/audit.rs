//! The audit trail through the API: every read, change, decision, consent event and login
//! is there, with ids and codes only.

use crate::app::{TestApp, login};
use klar_domain::role::Role;
use serde_json::{Value, json};

async fn trail(app: &TestApp, officer: &str, query: &str) -> Vec<Value> {
    let r = app
        .call(
            "GET",
            &format!("/api/v1/audit?{query}"),
            Some(officer),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

fn actions(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_trail_of_a_person_lists_each_read_change_and_decision_without_personal_data() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(
            &sales,
            json!({"first_name": "Wilhelmine", "last_name": "Quast", "email": "w.quast@kunde.example",
                   "phone": "+49 30 1234567", "kind": "consumer", "tags": ["messe"]}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    for _ in 0..2 {
        let r = app
            .call("GET", &format!("/api/v1/persons/{id}"), Some(&sales), None)
            .await;
        assert_eq!(r.status, 200);
    }
    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/persons/{id}"),
            Some(&sales),
            Some(json!({"last_name": "Quast-Berg"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .call(
            "GET",
            &format!("/api/v1/persons/{id}/decision?purpose=phone_marketing&channel=phone"),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(r.body["reason_code"], "no_consent");
    let r = app
        .call("GET", "/api/v1/persons?q=quast", Some(&sales), None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);

    let items = trail(&app, &officer, &format!("person_id={id}")).await;
    let mut acts = actions(&items);
    acts.reverse();
    assert_eq!(
        acts,
        [
            "person.create",
            "person.read",
            "person.read",
            "person.update",
            "decision",
            "person.list"
        ]
    );
    let decision = &items[1];
    assert_eq!(decision["purpose"], "phone_marketing");
    assert_eq!(decision["channel"], "phone");
    assert_eq!(decision["outcome"], "no_consent");
    assert!(decision["rule"].as_str().unwrap().starts_with('B'));
    let sales_actor = items[0]["actor"].as_str().unwrap();
    assert!(sales_actor.starts_with("user:"), "{sales_actor}");
    assert!(items.iter().all(|e| e["person_id"] == id));
    // Entries are ordered by a gapless sequence, newest first.
    let seqs: Vec<i64> = items.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");

    let text = serde_json::to_string(&items).unwrap().to_lowercase();
    for secret in ["wilhelmine", "quast", "kunde.example", "1234567", "messe"] {
        assert!(!text.contains(secret), "the trail holds {secret}: {text}");
    }
}

#[tokio::test]
async fn consent_events_objections_and_restriction_are_in_the_trail() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(
            &sales,
            json!({"first_name": "Otto", "last_name": "Brenner", "phone": "+49 89 7654321", "kind": "consumer"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    let consent = |action: &str| {
        json!({"purpose": "phone_marketing", "channel": "phone", "action": action, "source": "staff",
               "wording_version": "phone_marketing-de-1", "evidence": "Aufnahme 2026-11-29-0815"})
    };
    for action in ["grant", "withdraw"] {
        let r = app
            .call(
                "POST",
                &format!("/api/v1/persons/{id}/consents"),
                Some(&sales),
                Some(consent(action)),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{}", r.body);
    }
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{id}/objections"),
            Some(&sales),
            Some(json!({"scope": "direct_marketing"})),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    for method in ["POST", "DELETE"] {
        let r = app
            .call(
                method,
                &format!("/api/v1/persons/{id}/restriction"),
                Some(&officer),
                Some(json!({"reason": "Richtigkeit bestritten"})),
            )
            .await;
        assert!(r.status < 300, "{method}: {}", r.body);
    }
    let items = trail(&app, &officer, &format!("person_id={id}")).await;
    let mut acts = actions(&items);
    acts.reverse();
    assert_eq!(
        acts,
        [
            "person.create",
            "consent.grant",
            "consent.withdraw",
            "objection.record",
            "restriction.on",
            "restriction.off"
        ]
    );
    let grant = &items[4];
    assert_eq!(grant["purpose"], "phone_marketing");
    assert_eq!(grant["channel"], "phone");
    assert!(grant["object"].as_str().unwrap().starts_with("consent:"));
    let text = serde_json::to_string(&items).unwrap();
    for secret in ["Otto", "Brenner", "7654321", "Aufnahme", "Richtigkeit"] {
        assert!(!text.contains(secret), "the trail holds {secret}");
    }
}

#[tokio::test]
async fn logins_and_failed_logins_are_audited_and_filterable_by_action() {
    let app = TestApp::spawn().await;
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    app.user_with_role("vertrieb@staff.example", Role::Sales);
    login(&app, "vertrieb@staff.example", "Correct-Horse-Battery-9").await;
    for email in ["vertrieb@staff.example", "nobody@staff.example"] {
        let r = app
            .http
            .post(format!("{}/login", app.base))
            .form(&[("email", email), ("password", "wrong-password-1")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let ok = trail(&app, &officer, "action=login.ok").await;
    assert_eq!(ok.len(), 1);
    let failed = trail(&app, &officer, "action=login.failed").await;
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["actor"], "anonymous");
    assert_eq!(failed[1]["actor"], ok[0]["actor"]);
    let text = serde_json::to_string(&failed).unwrap();
    assert!(!text.contains("staff.example"));
}

#[tokio::test]
async fn only_the_privacy_officer_reads_the_trail_and_bad_filters_are_refused() {
    let app = TestApp::spawn().await;
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    for role in [Role::Admin, Role::Sales, Role::Marketing, Role::Viewer] {
        let t = app.user_with_role(&format!("{}@staff.example", role.as_str()), role);
        let r = app.call("GET", "/api/v1/audit", Some(&t), None).await;
        r.problem(403);
    }
    let r = app.call("GET", "/api/v1/audit", None, None).await;
    r.problem(401);
    for q in [
        "person_id=nicht-eine-id",
        "action=person.explode",
        "since=gestern",
        "limit=0",
        "cursor=%%%",
        "colour=blue",
    ] {
        let r = app
            .call("GET", &format!("/api/v1/audit?{q}"), Some(&officer), None)
            .await;
        assert!(r.status == 400 || r.status == 422, "{q}: {}", r.status);
        r.problem(r.status);
    }
    // Reading the trail is itself in the trail (recorded after the answer is assembled).
    assert!(trail(&app, &officer, "action=audit.read").await.is_empty());
    let items = trail(&app, &officer, "action=audit.read").await;
    assert_eq!(items.len(), 1);
    assert!(items[0]["actor"].as_str().unwrap().starts_with("user:"));
}

#[tokio::test]
async fn the_trail_pages_with_cursors_and_outlives_erasure() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(
            &sales,
            json!({"last_name": "Kurzlebig", "kind": "consumer"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    for _ in 0..5 {
        app.call("GET", &format!("/api/v1/persons/{id}"), Some(&sales), None)
            .await;
    }
    let r = app
        .call(
            "DELETE",
            &format!("/api/v1/persons/{id}"),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("person_id={id}&limit=3&cursor={c}"),
            None => format!("person_id={id}&limit=3"),
        };
        let r = app
            .call("GET", &format!("/api/v1/audit?{q}"), Some(&officer), None)
            .await;
        assert_eq!(r.status, 200);
        seen.extend(actions(r.body["items"].as_array().unwrap()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(seen[0], "person.erase");
    assert_eq!(seen[6], "person.create");
}
