//! Data-subject requests through the API: logging, the statutory deadline, the steps, and
//! completion through the privacy core's mechanisms.

use crate::app::TestApp;
use klar_domain::role::Role;
use serde_json::{Value, json};

fn days_ago(app: &TestApp, days: i64) -> String {
    app.store
        .now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * days))
        .unwrap()
        .to_string()
}

async fn step(app: &TestApp, po: &str, id: &str, body: Value) -> crate::app::Resp {
    app.call(
        "POST",
        &format!("/api/v1/dsr/{id}/steps"),
        Some(po),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_request_is_logged_linked_by_address_and_due_one_calendar_month_later() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(
            &sales,
            json!({"last_name": "Auskunft", "email": "auskunft@kunde.example"}),
        )
        .await;
    let r = app
        .call(
            "POST",
            "/api/v1/dsr",
            Some(&sales),
            Some(json!({"kind": "access", "requester_email": "Auskunft@Kunde.example", "channel": "letter",
                        "received_at": "2026-01-31T09:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["person_id"], p["id"]);
    assert_eq!(r.body["status"], "received");
    assert_eq!(r.body["article"], "Art. 15");
    // 31 January → the last day of February, end of the day in Berlin.
    assert_eq!(r.body["due_at"], "2026-02-28T22:59:59.999Z");
    // Sales may log a request but not work the list.
    app.call("GET", "/api/v1/dsr?status=open", Some(&sales), None)
        .await
        .problem(403);
    let list = app
        .call("GET", "/api/v1/dsr?status=open", Some(&po), None)
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["urgency"], "overdue");
    // The trail names the request, not the address.
    let trail = app
        .call("GET", "/api/v1/audit?action=dsr.create", Some(&po), None)
        .await;
    assert_eq!(trail.body["items"].as_array().unwrap().len(), 1);
    assert!(!trail.body.to_string().contains("kunde.example"));
}

#[tokio::test]
async fn open_requests_are_listed_by_deadline_with_due_soon_and_overdue_marked() {
    let app = TestApp::spawn().await;
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app.create_person(&po, json!({"last_name": "Frist"})).await;
    let pid = p["id"].as_str().unwrap();
    for (kind, days) in [("access", 2), ("portability", 40), ("rectification", 26)] {
        let r = app
            .call(
                "POST",
                "/api/v1/dsr",
                Some(&po),
                Some(json!({"kind": kind, "person_id": pid, "received_at": days_ago(&app, days)})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let list = app.call("GET", "/api/v1/dsr", Some(&po), None).await;
    let items = list.body["items"].as_array().unwrap();
    let got: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i["kind"].as_str().unwrap(), i["urgency"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("portability", "overdue"),
            ("rectification", "due_soon"),
            ("access", "on_track")
        ]
    );
}

#[tokio::test]
async fn steps_follow_the_state_machine_and_a_refusal_needs_its_reason() {
    let app = TestApp::spawn().await;
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(&po, json!({"last_name": "Schritt"}))
        .await;
    let r = app
        .call(
            "POST",
            "/api/v1/dsr",
            Some(&po),
            Some(json!({"kind": "access", "person_id": p["id"]})),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        step(&app, &po, &id, json!({"action": "complete"}))
            .await
            .problem(422),
        ["action"]
    );
    assert_eq!(
        step(&app, &po, &id, json!({"action": "verify"})).await.body["status"],
        "verified"
    );
    assert_eq!(
        step(&app, &po, &id, json!({"action": "start"})).await.body["status"],
        "in_progress"
    );
    assert_eq!(
        step(&app, &po, &id, json!({"action": "refuse"}))
            .await
            .problem(422),
        ["reason"]
    );
    assert_eq!(
        step(&app, &po, &id, json!({"action": "fly"}))
            .await
            .problem(422),
        ["action"]
    );
    let done = step(&app, &po, &id, json!({"action": "complete"})).await;
    assert_eq!(done.body["status"], "completed");
    assert_eq!(done.body["open"], false);
    // Closed stays closed.
    assert_eq!(
        step(&app, &po, &id, json!({"action": "withdraw"}))
            .await
            .problem(422),
        ["action"]
    );
    let one = app
        .call("GET", &format!("/api/v1/dsr/{id}"), Some(&po), None)
        .await;
    let actions: Vec<&str> = one.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "verify", "start", "complete"]);
    app.call("GET", "/api/v1/dsr/no-such-request", Some(&po), None)
        .await
        .problem(404);
}

#[tokio::test]
async fn a_deadline_is_extended_once_within_the_first_month_with_a_reason() {
    let app = TestApp::spawn().await;
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(&po, json!({"last_name": "Verlängert"}))
        .await;
    let mk = |days: i64| {
        let app = &app;
        let po = po.clone();
        let pid = p["id"].clone();
        async move {
            app.call(
                "POST",
                "/api/v1/dsr",
                Some(&po),
                Some(
                    json!({"kind": "access", "person_id": pid, "received_at": days_ago(app, days)}),
                ),
            )
            .await
            .body["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let fresh = mk(10).await;
    let path = format!("/api/v1/dsr/{fresh}/extension");
    let ok = json!({"reason": "sehr viele verknüpfte Vorgänge", "notified_at": days_ago(&app, 1)});
    let r = app.call("POST", &path, Some(&po), Some(ok.clone())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["extended"], true);
    assert!(r.body["due_at"].as_str().unwrap() > r.body["original_due_at"].as_str().unwrap());
    assert_eq!(
        app.call("POST", &path, Some(&po), Some(ok))
            .await
            .problem(422),
        ["extension"]
    );

    let late = mk(40).await;
    let r = app
        .call("POST", &format!("/api/v1/dsr/{late}/extension"), Some(&po),
            Some(json!({"reason": "sehr viele verknüpfte Vorgänge", "notified_at": days_ago(&app, 35)})))
        .await;
    assert_eq!(r.problem(422), ["extension"]);
    let other = mk(5).await;
    let r = app
        .call(
            "POST",
            &format!("/api/v1/dsr/{other}/extension"),
            Some(&po),
            Some(json!({"reason": "kurz", "notified_at": days_ago(&app, 1)})),
        )
        .await;
    assert_eq!(r.problem(422), ["reason"]);
    let r = app
        .call("GET", &format!("/api/v1/dsr/{other}"), Some(&po), None)
        .await;
    assert_eq!(r.body["extended"], false, "nothing changed");
}

#[tokio::test]
async fn completing_erasure_restriction_and_objection_requests_applies_them() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let mut ids = Vec::new();
    for (kind, name) in [
        ("erasure", "Löschen"),
        ("restriction", "Sperren"),
        ("objection", "Widerspruch"),
    ] {
        let p = app
            .create_person(
                &sales,
                json!({"last_name": name, "email": format!("{}@kunde.example", kind)}),
            )
            .await;
        let r = app
            .call(
                "POST",
                "/api/v1/dsr",
                Some(&po),
                Some(json!({"kind": kind, "person_id": p["id"]})),
            )
            .await;
        let id = r.body["id"].as_str().unwrap().to_string();
        step(&app, &po, &id, json!({"action": "verify"})).await;
        let done = step(&app, &po, &id, json!({"action": "complete"})).await;
        assert_eq!(done.body["status"], "completed", "{kind}: {}", done.body);
        ids.push((kind, p["id"].as_str().unwrap().to_string()));
    }
    let (_, erased) = &ids[0];
    app.call(
        "GET",
        &format!("/api/v1/persons/{erased}"),
        Some(&sales),
        None,
    )
    .await
    .problem(404);
    let (_, restricted) = &ids[1];
    let d = app
        .call(
            "GET",
            &format!("/api/v1/persons/{restricted}/decision?purpose=contract&channel=email"),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(d.body["reason_code"], "restricted");
    let (_, objected) = &ids[2];
    let d = app
        .call(
            "GET",
            &format!("/api/v1/persons/{objected}/decision?purpose=postal_marketing&channel=post"),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(d.body["reason_code"], "objection");
    // The erasure request itself stays, completed, naming the erased id only.
    let closed = app
        .call("GET", "/api/v1/dsr?status=closed", Some(&po), None)
        .await;
    assert_eq!(closed.body["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn bad_requests_are_refused_clearly_and_change_nothing() {
    let app = TestApp::spawn().await;
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    for (body, field) in [
        (json!({"kind": "access"}), "person_id"),
        (
            json!({"kind": "access", "person_id": "0190d4c0-0000-7000-8000-000000000000"}),
            "person_id",
        ),
        (
            json!({"kind": "gossip", "requester_email": "a@b.example"}),
            "kind",
        ),
        (
            json!({"kind": "access", "requester_email": "kein-at"}),
            "requester_email",
        ),
        (
            json!({"kind": "access", "requester_email": "a@b.example", "channel": "fax"}),
            "channel",
        ),
        (
            json!({"kind": "access", "requester_email": "a@b.example", "received_at": "2099-01-01T00:00:00Z"}),
            "received_at",
        ),
        (
            json!({"kind": "access", "requester_email": "a@b.example", "scope": "direct_marketing"}),
            "scope",
        ),
    ] {
        let r = app
            .call("POST", "/api/v1/dsr", Some(&po), Some(body.clone()))
            .await;
        assert!(
            r.problem(422).contains(&field.to_string()),
            "{body}: {}",
            r.body
        );
    }
    app.call(
        "POST",
        "/api/v1/dsr",
        Some(&admin),
        Some(json!({"kind": "access", "requester_email": "a@b.example"})),
    )
    .await
    .problem(403);
    let list = app
        .call("GET", "/api/v1/dsr?status=all", Some(&po), None)
        .await;
    assert_eq!(list.body["items"], json!([]));
    // An address of nobody is logged without a person.
    let r = app
        .call(
            "POST",
            "/api/v1/dsr",
            Some(&po),
            Some(json!({"kind": "access", "requester_email": "niemand@nirgends.example"})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(r.body["person_id"].is_null());
}

async fn wait_for_mails(
    smtp: &crate::support::smtp::SmtpSink,
    n: usize,
) -> Vec<crate::support::smtp::Received> {
    for _ in 0..100 {
        let m = smtp.all();
        if m.len() >= n {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    smtp.all()
}

#[tokio::test]
async fn the_public_page_answers_alike_for_known_and_unknown_addresses_and_confirms_by_button() {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(
            &po,
            json!({"last_name": "Selbst", "email": "selbst@kunde.example"}),
        )
        .await;
    let submit = |email: &'static str| {
        app.http
            .post(format!("{}/privacy/request", app.base))
            .header("accept-language", "de")
            .form(&[("kind", "access"), ("email", email)])
            .send()
    };
    let known = submit("selbst@kunde.example").await.unwrap();
    assert_eq!(known.status(), 200);
    let known = known.text().await.unwrap();
    let unknown = submit("fremd@kunde.example").await.unwrap();
    assert_eq!(unknown.status(), 200);
    assert_eq!(
        known,
        unknown.text().await.unwrap(),
        "no account enumeration"
    );
    assert!(!known.contains("selbst@kunde.example"));

    let mails = wait_for_mails(&smtp, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        smtp.all().len(),
        1,
        "only the address of record gets a link"
    );
    assert_eq!(mails[0].to, vec!["selbst@kunde.example"]);
    let data = mails[0].data.replace("=\r\n", "").replace("=3D", "=");
    let link = data
        .split_whitespace()
        .find(|w| w.contains("/privacy/request/confirm?token="))
        .expect("a confirmation link")
        .to_string();

    let open = app.call("GET", "/api/v1/dsr", Some(&po), None).await;
    let items = open.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    let mine = items.iter().find(|i| i["person_id"] == p["id"]).unwrap();
    assert_eq!(mine["status"], "identity_pending");
    assert_eq!(mine["channel"], "web");
    let other = items.iter().find(|i| i["person_id"].is_null()).unwrap();
    assert_eq!(other["status"], "received");

    // Opening the link confirms nothing; the button does, once.
    let page = app.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Auskunft"));
    let id = mine["id"].as_str().unwrap();
    let r = app
        .call("GET", &format!("/api/v1/dsr/{id}"), Some(&po), None)
        .await;
    assert_eq!(r.body["status"], "identity_pending");
    let token = link.split("token=").nth(1).unwrap().to_string();
    let confirm = || {
        app.http
            .post(format!("{}/privacy/request/confirm", app.base))
            .form(&[("token", token.as_str())])
            .send()
    };
    assert_eq!(confirm().await.unwrap().status(), 200);
    let r = app
        .call("GET", &format!("/api/v1/dsr/{id}"), Some(&po), None)
        .await;
    assert_eq!(r.body["status"], "verified");
    assert!(!r.body["identity_verified_at"].is_null());
    assert_eq!(confirm().await.unwrap().status(), 410);
    let forged = app
        .http
        .post(format!("{}/privacy/request/confirm", app.base))
        .form(&[("token", "gefälscht")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);

    // Bad input re-renders the form and records nothing.
    let bad = app
        .http
        .post(format!("{}/privacy/request", app.base))
        .form(&[("kind", "gossip"), ("email", "kein-at")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let all = app
        .call("GET", "/api/v1/dsr?status=all", Some(&po), None)
        .await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    // The page exists in English too.
    let en = app
        .http
        .get(format!("{}/privacy/request?lang=en", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("Your data protection rights"));
}

#[tokio::test]
async fn the_privacy_officer_takes_a_request_from_arrival_to_completion_in_the_ui() {
    let app = TestApp::spawn().await;
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    app.sales_token();
    let p = app
        .create_person(
            &po,
            json!({"last_name": "Oberfläche", "email": "ui@kunde.example"}),
        )
        .await;
    let s = crate::app::login(&app, "dsb@staff.example", "Correct-Horse-Battery-9").await;
    let csrf = crate::app::csrf_of(&app, &s, "/privacy/requests").await;
    let post = |path: String, form: Vec<(&'static str, String)>| {
        app.http
            .post(format!("{}{path}", app.base))
            .header("cookie", s.clone())
            .header("accept-language", "de")
            .form(&form)
            .send()
    };
    let get = |path: String| {
        app.http
            .get(format!("{}{path}", app.base))
            .header("cookie", s.clone())
            .header("accept-language", "de")
            .send()
    };
    let r = post(
        "/privacy/requests".into(),
        vec![
            ("csrf", csrf.clone()),
            ("kind", "erasure".into()),
            ("requester_email", "ui@kunde.example".into()),
            ("channel", "letter".into()),
            ("received_on", String::new()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let person_page = get(format!("/persons/{}", p["id"].as_str().unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        person_page.contains("/export?format=html"),
        "the officer reaches the Art. 15 answer"
    );
    let html = get(loc.clone()).await.unwrap().text().await.unwrap();
    assert!(html.contains("Löschung (Art. 17)"));
    assert!(html.contains("Frist"), "the deadline is in view");
    assert!(
        html.contains(p["id"].as_str().unwrap()),
        "linked by the address"
    );
    assert!(
        !html.contains("ui@kunde.example"),
        "the address is not shown"
    );
    let list = get("/privacy/requests".into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(&loc));

    for action in ["verify", "start", "complete"] {
        let r = post(
            format!("{loc}/steps"),
            vec![
                ("csrf", csrf.clone()),
                ("action", action.into()),
                ("reason", String::new()),
            ],
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 303, "{action}");
    }
    let html = get(loc.clone()).await.unwrap().text().await.unwrap();
    assert!(html.contains("erledigt"));
    assert!(html.contains("Verlauf"));
    // Completing the erasure request erased the person.
    let r = app
        .call(
            "GET",
            &format!("/api/v1/persons/{}", p["id"].as_str().unwrap()),
            Some(&po),
            None,
        )
        .await;
    r.problem(404);

    // A refusal without a reason is explained, and nothing changes.
    let r = post(
        "/privacy/requests".into(),
        vec![
            ("csrf", csrf.clone()),
            ("kind", "access".into()),
            ("requester_email", "wer@anders.example".into()),
            ("channel", "email".into()),
            ("received_on", String::new()),
        ],
    )
    .await
    .unwrap();
    let loc2 = r.headers()["location"].to_str().unwrap().to_string();
    let dash = get("/dashboard".into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        dash.contains(&loc2),
        "the officer's dashboard lists the open request"
    );
    assert!(!dash.contains(&loc), "completed requests are not listed");
    let r = post(
        format!("{loc2}/steps"),
        vec![
            ("csrf", csrf.clone()),
            ("action", "refuse".into()),
            ("reason", String::new()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Begründung"));
    // Sales has no access to the officer's pages; a POST without CSRF is refused.
    let sales = crate::app::login(&app, "sales@staff.example", "Correct-Horse-Battery-9").await;
    let r = app
        .http
        .get(format!("{}/privacy/requests", app.base))
        .header("cookie", sales)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = post(format!("{loc2}/steps"), vec![("action", "verify".into())])
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn rectification_and_erasure_requests_name_the_recipients_to_notify_even_after_erasure() {
    let app = TestApp::spawn().await;
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(
            &po,
            json!({"last_name": "Weitergegeben", "phone": "+49 40 9998877"}),
        )
        .await;
    let pid = p["id"].as_str().unwrap();
    let cc = app
        .call("POST", "/api/v1/processors", Some(&po), Some(json!({"name": "Callcenter Nord GmbH", "role": "processor",
            "contract_signed_at": "2026-01-15", "purposes": ["phone_marketing"], "data_categories": ["contact"], "country": "DE"})))
        .await;
    assert_eq!(cc.status, 201, "{}", cc.body);
    app.store
        .record_disclosure(
            klar_store::Actor::system(),
            &klar_store::processors::NewDisclosure {
                processor_id: cc.body["id"].as_str().unwrap().to_string(),
                person_id: pid.parse().unwrap(),
                data_categories: vec!["contact".into()],
                purpose: "phone_marketing".into(),
                legal_basis: klar_domain::policy::LegalBasis::Consent,
                at: None,
            },
        )
        .unwrap();
    let mut ids = Vec::new();
    for kind in ["rectification", "erasure", "access"] {
        let r = app
            .call(
                "POST",
                "/api/v1/dsr",
                Some(&po),
                Some(json!({"kind": kind, "person_id": pid})),
            )
            .await;
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let one = app
        .call("GET", &format!("/api/v1/dsr/{}", ids[0]), Some(&po), None)
        .await;
    assert_eq!(
        one.body["recipients_to_notify"][0]["name"],
        "Callcenter Nord GmbH"
    );
    let access = app
        .call("GET", &format!("/api/v1/dsr/{}", ids[2]), Some(&po), None)
        .await;
    assert!(access.body.get("recipients_to_notify").is_none());
    for action in ["verify", "complete"] {
        step(&app, &po, &ids[1], json!({"action": action})).await;
    }
    app.call("GET", &format!("/api/v1/persons/{pid}"), Some(&po), None)
        .await
        .problem(404);
    let erased = app
        .call("GET", &format!("/api/v1/dsr/{}", ids[1]), Some(&po), None)
        .await;
    assert_eq!(erased.body["status"], "completed");
    assert_eq!(
        erased.body["recipients_to_notify"][0]["name"],
        "Callcenter Nord GmbH"
    );
}

#[tokio::test]
async fn an_erasure_keeps_only_the_business_letters_of_a_won_deal_restricted_and_says_so() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(
            &sales,
            json!({"last_name": "Aufbewahrt", "email": "a@kunde.example"}),
        )
        .await;
    let pid = p["id"].as_str().unwrap();
    let deal = |stage: &str| {
        let app = &app;
        let sales = sales.clone();
        let stage = stage.to_string();
        async move {
            app.call("POST", "/api/v1/deals", Some(&sales),
                Some(json!({"title": "Auftrag", "value_cents": 990, "currency": "EUR", "stage": stage, "person_id": pid})))
                .await
                .body["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let won = deal("won").await;
    let open = deal("proposal").await;
    for (kind, deal_id, subject) in [
        ("email", &won, "Auftragsbestätigung 4711"),
        ("note", &won, "Kundin mag Blau"),
        ("email", &open, "Angebot 4712"),
    ] {
        let r = app
            .call(
                "POST",
                "/api/v1/activities",
                Some(&sales),
                Some(
                    json!({"kind": kind, "person_id": pid, "deal_id": deal_id, "subject": subject}),
                ),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = app
        .call(
            "POST",
            "/api/v1/dsr",
            Some(&po),
            Some(json!({"kind": "erasure", "person_id": pid})),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    step(&app, &po, &id, json!({"action": "verify"})).await;
    let done = step(&app, &po, &id, json!({"action": "complete"})).await;
    assert_eq!(done.body["status"], "partially_completed", "{}", done.body);
    let reason = done.body["outcome_reason"].as_str().unwrap();
    assert!(
        reason.contains("§ 257 HGB") && reason.contains("31.12."),
        "{reason}"
    );

    app.call("GET", &format!("/api/v1/persons/{pid}"), Some(&po), None)
        .await
        .problem(404);
    // The kept letter is restricted: no view lists it.
    for q in [format!("deal_id={won}"), format!("deal_id={open}")] {
        let r = app
            .call(
                "GET",
                &format!("/api/v1/activities?{q}"),
                Some(&sales),
                None,
            )
            .await;
        assert_eq!(r.body["items"], json!([]), "{q}");
    }
    let kept = app
        .store
        .db()
        .read(|c| {
            c.query(
                "SELECT person_id, retained_until, retention_class, deal_id FROM activities",
                &[],
            )
        })
        .unwrap();
    assert_eq!(kept.len(), 1, "only the email of the won deal stays");
    assert_eq!(kept[0].get::<Option<String>>(0).unwrap(), None);
    assert!(kept[0].get::<Option<i64>>(1).unwrap().is_some());
    assert_eq!(kept[0].get::<String>(2).unwrap(), "hgb_257_letters");
    assert_eq!(kept[0].get::<String>(3).unwrap(), won);
}
