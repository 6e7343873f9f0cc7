//! Retention (decision 0015): until when and why a person is kept, the legal hold, and the
//! warning list of erasures within 90 days.

use crate::app::{Browser, TestApp};
use jiff::{SignedDuration, Timestamp};
use klar_domain::clock::ManualClock;
use klar_domain::role::Role;
use klar_store::Actor;
use klar_store::deals::DealEdit;
use serde_json::{Value, json};
use std::sync::Arc;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn person(app: &TestApp, token: &str) -> String {
    let p = app
        .create_person(
            token,
            json!({"kind": "consumer", "first_name": "Ruth", "last_name": "Frist"}),
        )
        .await;
    p["id"].as_str().unwrap().to_string()
}

fn ground<'a>(body: &'a Value, class: &str) -> &'a Value {
    body["grounds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["class"] == class)
        .unwrap_or_else(|| panic!("no {class} ground in {body}"))
}

#[tokio::test]
async fn a_person_s_retention_names_each_ground_with_its_end_and_reason_and_her_page_shows_it() {
    let clock = Arc::new(ManualClock::new(at("2026-01-10T10:00:00Z")));
    let app = TestApp::spawn_on(clock.clone(), |_| {}).await;
    let sales = app.sales_token();
    let id = person(&app, &sales).await;
    // A won deal: her commercial letters must be kept six years from the end of 2026.
    app.store
        .create_deal(
            Actor::system(),
            DealEdit {
                title: "Auftrag".into(),
                value_cents: 50_000,
                currency: klar_domain::currency::Currency::parse("EUR").unwrap(),
                stage: "won".into(),
                person_id: Some(id.parse().unwrap()),
                organization_id: None,
                owner_id: None,
                expected_close_date: None,
                lost_reason: None,
                custom: Default::default(),
            },
        )
        .unwrap();
    let r = app
        .call(
            "GET",
            &format!("/api/v1/persons/{id}/retention"),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["decision"], "keep");
    let lead = ground(&r.body, "lead_activity");
    assert_eq!(lead["until"], "2028-01-10T10:00:00Z");
    assert_eq!(lead["keep_only"], false);
    let letters = ground(&r.body, "hgb_257_letters");
    assert_eq!(letters["until"], "2032-12-31T22:59:59.999Z");
    assert_eq!(letters["statutory"], true);
    assert!(
        letters["reason"]["de"]
            .as_str()
            .unwrap()
            .contains("§ 257 HGB")
    );
    assert!(
        letters["reason"]["en"]
            .as_str()
            .unwrap()
            .contains("6 years")
    );
    assert_eq!(r.body["erase_after"], "2032-12-31T22:59:59.999Z");

    // The Art. 15 answer states the same retention per purpose and duty.
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let a = app
        .call(
            "GET",
            &format!("/api/v1/persons/{id}/export"),
            Some(&officer),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["storage_period"], r.body);

    // Her page says the same, in words.
    app.user_with_role("vertrieb@staff.example", Role::Sales);
    let b = Browser::login(&app, "vertrieb@staff.example", "de").await;
    let page = b.get(&format!("/persons/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.html.contains("Aufbewahrt bis 2032-12-31 weil:"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("Geschäftsbriefe zu einem abgeschlossenen Geschäft")
    );

    // Once the lead period is over only the duty is left: restricted, in the API as well.
    clock.set(at("2028-06-01T10:00:00Z"));
    let r = app
        .call(
            "GET",
            &format!("/api/v1/persons/{id}/retention"),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(r.body["decision"], "restrict", "{}", r.body);
    assert_eq!(ground(&r.body, "lead_activity")["active"], false);
}

#[tokio::test]
async fn only_the_privacy_officer_places_and_releases_a_legal_hold_and_each_needs_a_reason() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let id = person(&app, &sales).await;
    let path = format!("/api/v1/persons/{id}/legal-hold");
    let reason = json!({"reason": "Rechtsstreit Az. 2 O 7/26"});

    let r = app
        .call("POST", &path, Some(&sales), Some(reason.clone()))
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .call("POST", &path, Some(&officer), Some(json!({"reason": "  "})))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app
        .call("POST", &path, Some(&officer), Some(reason.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["reason"], "Rechtsstreit Az. 2 O 7/26");
    assert!(r.body["author"].is_string(), "the author is recorded");
    let r = app
        .call("POST", &path, Some(&officer), Some(reason.clone()))
        .await;
    assert_eq!(r.status, 409, "one hold at a time");

    let r = app
        .call(
            "GET",
            &format!("/api/v1/persons/{id}/retention"),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(r.body["decision"], "legal_hold");
    assert_eq!(r.body["legal_hold"], true);

    let r = app
        .call("DELETE", &path, Some(&sales), Some(reason.clone()))
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .call("DELETE", &path, Some(&officer), Some(json!({"reason": ""})))
        .await;
    assert_eq!(r.status, 422);
    let r = app
        .call(
            "DELETE",
            &path,
            Some(&officer),
            Some(json!({"reason": "Verfahren beendet"})),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = app
        .call(
            "DELETE",
            &path,
            Some(&officer),
            Some(json!({"reason": "nochmal"})),
        )
        .await;
    assert_eq!(r.status, 404);
    app.store.audit_flush().unwrap();
    let audit = app
        .call(
            "GET",
            &format!("/api/v1/audit?person_id={id}"),
            Some(&officer),
            None,
        )
        .await;
    let text = audit.body.to_string();
    assert!(
        text.contains("legal_hold.on") && text.contains("legal_hold.off"),
        "{text}"
    );
    assert!(
        !text.contains("Rechtsstreit"),
        "no free text in the audit trail"
    );
}

#[tokio::test]
async fn the_privacy_officer_sees_who_will_be_erased_within_90_days() {
    let clock = Arc::new(ManualClock::new(at("2026-01-10T10:00:00Z")));
    let app = TestApp::spawn_on(clock.clone(), |_| {}).await;
    let sales = app.sales_token();
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let id = person(&app, &sales).await;
    let r = app
        .call("GET", "/api/v1/retention/upcoming", Some(&officer), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!([]));
    // 24 months without activity end on 10 Jan 2028; on 1 Nov 2027 that is within 90 days.
    clock.advance(SignedDuration::from_hours(24 * 660));
    let r = app
        .call("GET", "/api/v1/retention/upcoming", Some(&officer), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!([{"person_id": id, "erase_after": "2028-01-10T10:00:00Z", "legal_hold": false}])
    );
    let r = app
        .call("GET", "/api/v1/retention/upcoming", Some(&sales), None)
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn persons_from_an_import_are_listed_until_informed_under_art_14() {
    let clock = Arc::new(ManualClock::new(at("2026-01-10T10:00:00Z")));
    let app = TestApp::spawn_on(clock.clone(), |_| {}).await;
    let sales = app.sales_token();
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let imported = app
        .create_person(
            &sales,
            json!({"first_name": "Ines", "last_name": "Import", "source": "import:messe-2026"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.create_person(
        &sales,
        json!({"first_name": "Wera", "last_name": "Web", "source": "Webformular"}),
    )
    .await;
    let r = app
        .call("GET", "/api/v1/privacy/art14-due", Some(&officer), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!([{"person_id": imported, "due_at": "2026-02-10T10:00:00Z", "overdue": false}])
    );
    clock.set(at("2026-02-11T10:00:00Z"));
    let r = app
        .call("GET", "/api/v1/privacy/art14-due", Some(&officer), None)
        .await;
    assert_eq!(r.body[0]["overdue"], true);
    let r = app
        .call("GET", "/api/v1/privacy/art14-due", Some(&sales), None)
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{imported}/art14-notice"),
            Some(&officer),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = app
        .call("GET", "/api/v1/privacy/art14-due", Some(&officer), None)
        .await;
    assert_eq!(r.body, json!([]));
}

#[tokio::test]
async fn the_privacy_officer_places_and_releases_a_legal_hold_on_the_person_page() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let pid = person(&app, &sales).await;
    app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let b = Browser::login(&app, "dsb@staff.example", "de").await;
    let page = b.get(&format!("/persons/{pid}")).await;
    assert!(
        page.html.contains("id=\"legal-hold-form\""),
        "{}",
        page.html
    );
    // Without a reason nothing is placed.
    let r = b
        .post(
            &format!("/persons/{pid}/legal-hold"),
            &[("action", "place"), ("reason", " ")],
        )
        .await;
    assert_ne!(r.status, 303);
    assert!(
        app.store
            .legal_hold(pid.parse().unwrap())
            .unwrap()
            .is_none()
    );
    let r = b
        .post(
            &format!("/persons/{pid}/legal-hold"),
            &[
                ("action", "place"),
                ("reason", "Rechtsstreit Az. 3 O 12/26"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let page = b.get(&format!("/persons/{pid}")).await;
    assert!(page.html.contains("value=\"release\""), "{}", page.html);
    assert!(
        app.store
            .legal_hold(pid.parse().unwrap())
            .unwrap()
            .is_some()
    );
    let r = b
        .post(
            &format!("/persons/{pid}/legal-hold"),
            &[("action", "release"), ("reason", "Verfahren beendet")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert!(
        app.store
            .legal_hold(pid.parse().unwrap())
            .unwrap()
            .is_none()
    );
    // Sales sees the retention but not the form.
    let s = Browser::login(&app, "sales@staff.example", "de").await;
    let page = s.get(&format!("/persons/{pid}")).await;
    assert!(!page.html.contains("id=\"legal-hold-form\""));
}

#[tokio::test]
async fn the_privacy_officer_sees_who_is_due_the_art14_information_and_marks_them_informed() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let imported = app
        .create_person(
            &sales,
            json!({"first_name": "Ines", "last_name": "Import", "source": "import:messe-2026"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let b = Browser::login(&app, "dsb@staff.example", "de").await;
    let page = b.get("/dashboard").await;
    assert!(
        page.html.contains(&format!("data-person=\"{imported}\"")),
        "{}",
        page.html
    );
    assert!(page.html.contains("Ines Import"));
    let r = b
        .post(&format!("/persons/{imported}/art14-notice"), &[])
        .await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (303, "/dashboard"),
        "{}",
        r.html
    );
    let page = b.get("/dashboard").await;
    assert!(!page.html.contains(&format!("data-person=\"{imported}\"")));
    assert!(page.html.contains("Niemand wartet"), "{}", page.html);
}
