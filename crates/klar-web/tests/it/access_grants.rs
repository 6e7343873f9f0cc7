//! Break-glass access (issue 7 item 3, decision 0016): an administrator reads a person only
//! through an approved, expiring, audited grant.

use crate::app::{Browser, TestApp};
use klar_domain::clock::ManualClock;
use klar_domain::role::Role;
use serde_json::{Value, json};
use std::sync::Arc;

struct World {
    app: TestApp,
    clock: Arc<ManualClock>,
    admin: String,
    officer: String,
    person_a: String,
    person_b: String,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new("2026-11-30T09:00:00Z".parse().unwrap()));
    let (app, _smtp) = TestApp::spawn_with_clock(clock.clone(), 7).await;
    let sales = app.sales_token();
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    let officer = app.user_with_role("dpo@staff.example", Role::PrivacyOfficer);
    let a = app
        .create_person(&sales, json!({"first_name": "Anna", "last_name": "Adler"}))
        .await;
    let b = app
        .create_person(&sales, json!({"first_name": "Bert", "last_name": "Brandt"}))
        .await;
    World {
        app,
        clock,
        admin,
        officer,
        person_a: a["id"].as_str().unwrap().to_string(),
        person_b: b["id"].as_str().unwrap().to_string(),
    }
}

async fn ask(w: &World, pid: &str, minutes: i64) -> Value {
    let r = w
        .app
        .call(
            "POST",
            "/api/v1/access-grants",
            Some(&w.admin),
            Some(json!({"person_id": pid, "reason": "Ticket 4711: merge duplicate", "minutes": minutes})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["state"], "requested");
    r.body
}

async fn status_of_read(w: &World, token: &str, pid: &str) -> u16 {
    w.app
        .call("GET", &format!("/api/v1/persons/{pid}"), Some(token), None)
        .await
        .status
}

#[tokio::test]
async fn an_admin_reads_a_person_only_through_an_approved_expiring_audited_grant() {
    let w = world().await;
    let pid = w.person_a.clone();
    assert_eq!(status_of_read(&w, &w.admin, &pid).await, 403);

    let grant = ask(&w, &pid, 30).await;
    let gid = grant["id"].as_str().unwrap();
    // Requested, not yet approved: still closed.
    assert_eq!(status_of_read(&w, &w.admin, &pid).await, 403);

    let r = w
        .app
        .call(
            "POST",
            &format!("/api/v1/access-grants/{gid}/approve"),
            Some(&w.officer),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "approved");
    assert_eq!(r.body["expires_at"], "2026-11-30T09:30:00Z");
    assert_eq!(r.body["decider_email"], "dpo@staff.example");

    let r = w
        .app
        .call(
            "GET",
            &format!("/api/v1/persons/{pid}"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["last_name"], "Adler");

    // The read is audited with the grant's id, as are the request and the approval.
    let audit = w
        .app
        .call(
            "GET",
            &format!("/api/v1/audit?person_id={pid}&limit=200"),
            Some(&w.officer),
            None,
        )
        .await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let items = audit.body["items"].as_array().unwrap();
    let grant_object = format!("access_grant:{gid}");
    for action in [
        "person.read",
        "access_grant.request",
        "access_grant.approve",
    ] {
        assert!(
            items
                .iter()
                .any(|e| e["action"] == action && e["object"] == grant_object.as_str()),
            "no {action} entry naming the grant: {}",
            audit.body
        );
    }

    // Still nothing else: no list, no other record, no writes.
    assert_eq!(
        w.app
            .call("GET", "/api/v1/persons", Some(&w.admin), None)
            .await
            .status,
        403
    );
    let r = w
        .app
        .call(
            "PATCH",
            &format!("/api/v1/persons/{pid}"),
            Some(&w.admin),
            Some(json!({"notes": "x"})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // A minute before the end it still opens; at the end it is closed again, by itself.
    w.clock.advance(jiff::SignedDuration::from_mins(29));
    assert_eq!(status_of_read(&w, &w.admin, &pid).await, 200);
    w.clock.advance(jiff::SignedDuration::from_mins(1));
    assert_eq!(status_of_read(&w, &w.admin, &pid).await, 403);

    let list = w
        .app
        .call("GET", "/api/v1/access-grants", Some(&w.officer), None)
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body[0]["state"], "expired");
    assert_eq!(list.body[0]["requester_email"], "admin@staff.example");
    assert_eq!(list.body[0]["reason"], "Ticket 4711: merge duplicate");
}

#[tokio::test]
async fn a_grant_for_one_person_does_not_open_another() {
    let w = world().await;
    let gid = ask(&w, &w.person_a, 60).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = w
        .app
        .call(
            "POST",
            &format!("/api/v1/access-grants/{gid}/approve"),
            Some(&w.officer),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(status_of_read(&w, &w.admin, &w.person_a).await, 200);
    assert_eq!(status_of_read(&w, &w.admin, &w.person_b).await, 403);
    // Nor does it open the person for another administrator.
    let other = w.app.user_with_role("admin2@staff.example", Role::Admin);
    assert_eq!(status_of_read(&w, &other, &w.person_a).await, 403);
}

#[tokio::test]
async fn nobody_approves_his_own_request_and_only_a_privacy_officer_decides() {
    let w = world().await;
    // A privacy officer cannot ask (he reads persons anyway), a salesman neither.
    let r = w
        .app
        .call(
            "POST",
            "/api/v1/access-grants",
            Some(&w.officer),
            Some(json!({"person_id": w.person_a, "reason": "x", "minutes": 10})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);

    let gid = ask(&w, &w.person_a, 60).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The requester himself: his role has no right to decide, so 403.
    let r = w
        .app
        .call(
            "POST",
            &format!("/api/v1/access-grants/{gid}/approve"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let sales = w.app.user_with_role("sales2@staff.example", Role::Sales);
    let r = w
        .app
        .call(
            "POST",
            &format!("/api/v1/access-grants/{gid}/approve"),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(status_of_read(&w, &w.admin, &w.person_a).await, 403);

    // Refused is final.
    let r = w
        .app
        .call(
            "POST",
            &format!("/api/v1/access-grants/{gid}/refuse"),
            Some(&w.officer),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "refused");
    let r = w
        .app
        .call(
            "POST",
            &format!("/api/v1/access-grants/{gid}/approve"),
            Some(&w.officer),
            None,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(status_of_read(&w, &w.admin, &w.person_a).await, 403);
}

#[test]
fn the_store_refuses_a_decision_by_the_requester_himself() {
    // Four eyes also hold below the API: a role that could both ask and decide (none
    // today) would still be refused by the store.
    let dir = tempfile::tempdir().unwrap();
    let store = klar_store::Store::open(
        &klar_store::StoreConfig::new(dir.path()),
        Arc::new(klar_domain::clock::SystemClock),
    )
    .unwrap();
    let u = store
        .create_user("a@staff.example", Role::Admin, "x")
        .unwrap();
    let p = store
        .create_person(
            klar_store::Actor::system(),
            klar_store::persons::NewPerson {
                kind: klar_domain::records::PersonKind::Consumer,
                organization_id: None,
                owner_id: None,
                source: None,
                tags: vec![],
                personal: klar_domain::records::PersonalData {
                    last_name: "Adler".into(),
                    ..Default::default()
                },
            },
        )
        .unwrap();
    let g = store
        .request_access_grant(
            u.id,
            &klar_store::access_grants::NewGrant {
                person_id: p.id,
                reason: "r".into(),
                minutes: 5,
            },
        )
        .unwrap();
    let e = store.decide_access_grant(u.id, &g.id, true).unwrap_err();
    assert!(matches!(e, klar_store::StoreError::Conflict(_)), "{e}");
}

#[tokio::test]
async fn bad_requests_are_named_field_by_field() {
    let w = world().await;
    let r = w
        .app
        .call(
            "POST",
            "/api/v1/access-grants",
            Some(&w.admin),
            Some(json!({"person_id": w.person_a, "reason": "  ", "minutes": 241})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let text = r.body.to_string();
    assert!(
        text.contains("reason") && text.contains("minutes"),
        "{text}"
    );
    let r = w
        .app
        .call(
            "POST",
            "/api/v1/access-grants",
            Some(&w.admin),
            Some(json!({"person_id": "019a0000-0000-7000-8000-000000000000", "reason": "r", "minutes": 5})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = w
        .app
        .call(
            "POST",
            "/api/v1/access-grants/nonsense/approve",
            Some(&w.officer),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn the_person_page_opens_for_the_admin_only_during_the_grant() {
    let w = world().await;
    let admin = Browser::login(&w.app, "admin@staff.example", "de").await;
    let page = admin.get(&format!("/persons/{}", w.person_a)).await;
    assert_eq!(page.status, 403);
    let gid = ask(&w, &w.person_a, 15).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let officer = Browser::login(&w.app, "dpo@staff.example", "de").await;
    let page = officer.get("/dashboard").await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains(&gid), "the dashboard lists the request");
    assert!(page.html.contains("Notfallzugriff"), "German texts");
    let page = officer
        .post(&format!("/access-grants/{gid}/approve"), &[])
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    let page = admin.get(&format!("/persons/{}", w.person_a)).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("Adler"));
    assert_eq!(
        admin.get(&format!("/persons/{}", w.person_b)).await.status,
        403
    );
    w.clock.advance(jiff::SignedDuration::from_mins(15));
    assert_eq!(
        admin.get(&format!("/persons/{}", w.person_a)).await.status,
        403
    );
}

#[tokio::test]
async fn the_admin_asks_on_the_form_and_sees_his_request_in_english() {
    let w = world().await;
    let admin = Browser::login(&w.app, "admin@staff.example", "en").await;
    let page = admin.get("/access-grants").await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("Break-glass access"));
    // A missing reason is named, in the page's language, and nothing is recorded.
    let csrf = crate::app::csrf_of(&w.app, &admin.cookie, "/access-grants").await;
    let page = admin
        .post_raw(
            "/access-grants",
            &[
                ("csrf", csrf.as_str()),
                ("person_id", w.person_a.as_str()),
                ("reason", " "),
                ("minutes", "30"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.html);
    assert!(page.html.contains("Reason"), "{}", page.html);
    let page = admin
        .post_raw(
            "/access-grants",
            &[
                ("csrf", csrf.as_str()),
                ("person_id", w.person_a.as_str()),
                ("reason", "Ticket 99"),
                ("minutes", "30"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    let page = admin.get("/access-grants").await;
    assert!(page.html.contains("Ticket 99"));
    assert!(page.html.contains("Requested"));
    // He sees no approve button: deciding is the privacy officer's.
    assert!(!page.html.contains("/approve"));
    let list = w
        .app
        .call("GET", "/api/v1/access-grants", Some(&w.admin), None)
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_erased_persons_grants_and_their_reasons_go_with_her() {
    let w = world().await;
    let gid = ask(&w, &w.person_a, 60).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sales = w.app.user_with_role("eraser@staff.example", Role::Sales);
    let r = w
        .app
        .call(
            "DELETE",
            &format!("/api/v1/persons/{}", w.person_a),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let list = w
        .app
        .call("GET", "/api/v1/access-grants", Some(&w.officer), None)
        .await;
    assert_eq!(list.body, json!([]));
    let r = w
        .app
        .call(
            "POST",
            &format!("/api/v1/access-grants/{gid}/approve"),
            Some(&w.officer),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}
