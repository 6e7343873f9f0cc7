//! The grounds besides consent, end to end: contract relationships from won deals,
//! legitimate-interest assessments, presumed consent of businesses, the §7(3) UWG
//! existing-customer facts, the "no advertising" marker, and consent wordings.

use crate::app::TestApp;
use klar_domain::role::Role;
use serde_json::{Value, json};

async fn decide(app: &TestApp, t: &str, pid: &str, q: &str) -> Value {
    let r = app
        .call(
            "GET",
            &format!("/api/v1/persons/{pid}/decision?{q}"),
            Some(t),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

async fn won_deal(app: &TestApp, t: &str, body: Value) -> String {
    let mut b =
        json!({"title": "Auftrag", "value_cents": 120000, "currency": "EUR", "stage": "won"});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    let r = app.call("POST", "/api/v1/deals", Some(t), Some(b)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

const LIA: &str = "Bestandskunden erwarten Informationen zu Zubehör; geringe Eingriffstiefe, Widerspruch jederzeit möglich.";

#[tokio::test]
async fn a_won_deal_makes_a_consumer_a_party_and_a_business_contact_needs_an_assessment() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let consumer = app
        .create_person(&t, json!({"last_name": "Kunde", "kind": "consumer"}))
        .await;
    let cid = consumer["id"].as_str().unwrap();
    let d = decide(&app, &t, cid, "purpose=contract&channel=email").await;
    assert_eq!(d["reason_code"], "no_contract_relationship");
    won_deal(&app, &t, json!({"person_id": cid})).await;
    let d = decide(&app, &t, cid, "purpose=contract&channel=email").await;
    assert_eq!(
        (d["allowed"].as_bool(), d["legal_basis"].as_str()),
        (Some(true), Some("contract"))
    );

    let org = app
        .call(
            "POST",
            "/api/v1/organizations",
            Some(&t),
            Some(json!({"name": "Werkzeug AG"})),
        )
        .await;
    let oid = org.body["id"].as_str().unwrap();
    let contact = app
        .create_person(
            &t,
            json!({"last_name": "Einkauf", "kind": "business", "organization_id": oid}),
        )
        .await;
    let bid = contact["id"].as_str().unwrap();
    let d = decide(&app, &t, bid, "purpose=contract&channel=email").await;
    assert_eq!(d["reason_code"], "no_business_relationship");
    won_deal(&app, &t, json!({"organization_id": oid})).await;
    let d = decide(&app, &t, bid, "purpose=contract&channel=email").await;
    assert_eq!(d["reason_code"], "no_interest_assessment");
    let r = app
        .call(
            "PUT",
            "/api/v1/purposes/contract/assessment",
            Some(&po),
            Some(json!({"text": LIA})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = decide(&app, &t, bid, "purpose=contract&channel=email").await;
    assert_eq!(
        (d["allowed"].as_bool(), d["legal_basis"].as_str()),
        (Some(true), Some("legitimate_interest"))
    );
    let g = app
        .call(
            "GET",
            &format!("/api/v1/persons/{bid}/grounds"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(g.body["contract_relationship"], "contact_of_customer");
}

#[tokio::test]
async fn postal_advertising_needs_an_assessment_and_respects_the_no_advertising_marker() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(&t, json!({"last_name": "Briefkasten", "kind": "consumer"}))
        .await;
    let pid = p["id"].as_str().unwrap();
    let q = "purpose=postal_marketing&channel=post";
    assert_eq!(
        decide(&app, &t, pid, q).await["reason_code"],
        "no_interest_assessment"
    );
    // Sales cannot write the assessment; a too short one is refused.
    app.call(
        "PUT",
        "/api/v1/purposes/postal_marketing/assessment",
        Some(&t),
        Some(json!({"text": LIA})),
    )
    .await
    .problem(403);
    let r = app
        .call(
            "PUT",
            "/api/v1/purposes/postal_marketing/assessment",
            Some(&po),
            Some(json!({"text": "passt"})),
        )
        .await;
    assert_eq!(r.problem(422), vec!["text"]);
    app.call(
        "PUT",
        "/api/v1/purposes/postal_marketing/assessment",
        Some(&po),
        Some(json!({"text": LIA})),
    )
    .await;
    assert_eq!(decide(&app, &t, pid, q).await["allowed"], true);

    let r = app
        .call(
            "PUT",
            &format!("/api/v1/persons/{pid}/advertising-marker"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        decide(&app, &t, pid, q).await["reason_code"],
        "no_advertising_marker"
    );
    app.call(
        "DELETE",
        &format!("/api/v1/persons/{pid}/advertising-marker"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(decide(&app, &t, pid, q).await["allowed"], true);

    // Withdrawing the assessment takes the basis away at once; the history keeps it.
    let r = app
        .call(
            "DELETE",
            "/api/v1/purposes/postal_marketing/assessment",
            Some(&po),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        decide(&app, &t, pid, q).await["reason_code"],
        "no_interest_assessment"
    );
    let h = app
        .call(
            "GET",
            "/api/v1/purposes/postal_marketing/assessment",
            Some(&t),
            None,
        )
        .await;
    assert!(h.body["current"].is_null());
    assert_eq!(h.body["history"].as_array().unwrap().len(), 1);
    assert_eq!(h.body["history"][0]["text"], LIA);
}

#[tokio::test]
async fn a_sales_call_to_a_business_needs_a_documented_reason_and_a_consumer_never_gets_one() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    app.call(
        "PUT",
        "/api/v1/purposes/phone_marketing/assessment",
        Some(&po),
        Some(json!({"text": LIA})),
    )
    .await;
    let b = app
        .create_person(
            &t,
            json!({"last_name": "Werkleiter", "kind": "business", "phone": "+49 30 5550100"}),
        )
        .await;
    let bid = b["id"].as_str().unwrap();
    let q = "purpose=phone_marketing&channel=phone";
    assert_eq!(
        decide(&app, &t, bid, q).await["reason_code"],
        "no_presumed_consent"
    );
    let reason = "Anfrage vom 28.11. zu Wartungsverträgen für die Fräsmaschinen";
    let r = app
        .call(
            "PUT",
            &format!("/api/v1/persons/{bid}/presumed-consent"),
            Some(&t),
            Some(json!({"reason": reason})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = decide(&app, &t, bid, q).await;
    assert_eq!(
        (d["allowed"].as_bool(), d["legal_basis"].as_str()),
        (Some(true), Some("legitimate_interest"))
    );
    let g = app
        .call(
            "GET",
            &format!("/api/v1/persons/{bid}/grounds"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(g.body["presumed_consent"]["reason"], reason);
    // The reason may describe the person: it is sealed under her key.
    app.store.db().checkpoint().unwrap();
    let raw = std::fs::read(app.dir.path().join("klar.db")).unwrap();
    assert!(!raw.windows(12).any(|w| w == &reason.as_bytes()[..12]));
    let r = app
        .call(
            "DELETE",
            &format!("/api/v1/persons/{bid}/presumed-consent"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        decide(&app, &t, bid, q).await["reason_code"],
        "no_presumed_consent"
    );

    let c = app
        .create_person(&t, json!({"last_name": "Privat", "kind": "consumer"}))
        .await;
    let cid = c["id"].as_str().unwrap();
    let r = app
        .call(
            "PUT",
            &format!("/api/v1/persons/{cid}/presumed-consent"),
            Some(&t),
            Some(json!({"reason": reason})),
        )
        .await;
    assert_eq!(r.problem(422), vec!["person"]);
    assert_eq!(decide(&app, &t, cid, q).await["reason_code"], "no_consent");
}

#[tokio::test]
async fn existing_customer_email_needs_all_four_conditions_of_section_7_3() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    app.call(
        "PUT",
        "/api/v1/purposes/existing_customer_email/assessment",
        Some(&po),
        Some(json!({"text": LIA})),
    )
    .await;
    let p = app
        .create_person(
            &t,
            json!({"last_name": "Käufer", "kind": "consumer", "email": "kaeufer@kunde.example"}),
        )
        .await;
    let pid = p["id"].as_str().unwrap();
    let q = "purpose=existing_customer_email&channel=email&goods_class=drucker";
    assert_eq!(
        decide(&app, &t, pid, q).await["reason_code"],
        "uwg_express_consent_required"
    );

    let open = app
        .call("POST", "/api/v1/deals", Some(&t), Some(json!({"title": "Angebot", "value_cents": 100, "currency": "EUR", "stage": "proposal", "person_id": pid})))
        .await;
    let open_id = open.body["id"].as_str().unwrap();
    let facts = |deal: &str, email: &str| json!({"deal_id": deal, "email": email, "goods_class": "drucker", "notice_wording": "kasse-hinweis-1"});
    let path = format!("/api/v1/persons/{pid}/existing-customer");
    let r = app
        .call(
            "PUT",
            &path,
            Some(&t),
            Some(facts(open_id, "kaeufer@kunde.example")),
        )
        .await;
    assert_eq!(r.problem(422), vec!["deal_id"]);
    let sale = won_deal(&app, &t, json!({"person_id": pid})).await;
    let r = app
        .call(
            "PUT",
            &path,
            Some(&t),
            Some(facts(&sale, "jemand@anders.example")),
        )
        .await;
    assert_eq!(r.problem(422), vec!["email"]);
    let r = app
        .call(
            "PUT",
            &path,
            Some(&t),
            Some(facts(&sale, "Kaeufer@Kunde.example")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let d = decide(&app, &t, pid, q).await;
    assert_eq!(
        (d["allowed"].as_bool(), d["legal_basis"].as_str()),
        (Some(true), Some("legitimate_interest"))
    );
    // Other goods, or no goods named: the exception does not carry.
    for q in [
        "purpose=existing_customer_email&channel=email&goods_class=moebel",
        "purpose=existing_customer_email&channel=email",
    ] {
        assert_eq!(
            decide(&app, &t, pid, q).await["reason_code"],
            "existing_customer_conditions_unmet"
        );
    }
    // The address changed: it is no longer the one captured with the sale.
    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/persons/{pid}"),
            Some(&t),
            Some(json!({"email": "neu@kunde.example"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        decide(&app, &t, pid, q).await["reason_code"],
        "existing_customer_conditions_unmet"
    );
    // An objection ends it at once.
    app.call(
        "PATCH",
        &format!("/api/v1/persons/{pid}"),
        Some(&t),
        Some(json!({"email": "kaeufer@kunde.example"})),
    )
    .await;
    assert_eq!(decide(&app, &t, pid, q).await["allowed"], true);
    app.call(
        "POST",
        &format!("/api/v1/persons/{pid}/objections"),
        Some(&t),
        Some(json!({"scope": "direct_marketing"})),
    )
    .await;
    assert_eq!(decide(&app, &t, pid, q).await["reason_code"], "objection");
}

#[tokio::test]
async fn consent_wordings_are_stored_once_per_version_with_their_sha256() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let r = app
        .call(
            "GET",
            "/api/v1/purposes/newsletter/wordings",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let versions: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["version"].as_str().unwrap())
        .collect();
    assert!(versions.contains(&"newsletter-de-1") && versions.contains(&"newsletter-en-1"));

    let path = "/api/v1/purposes/newsletter/wordings";
    let w = json!({"version": "newsletter-test-1", "locale": "de", "text": "abc"});
    app.call("POST", path, Some(&t), Some(w.clone()))
        .await
        .problem(403);
    let r = app.call("POST", path, Some(&po), Some(w.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // SHA-256("abc"), FIPS 180-2 test vector.
    assert_eq!(
        r.body["sha256"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // The same text again is harmless; another text under the same version is refused.
    assert_eq!(app.call("POST", path, Some(&po), Some(w)).await.status, 201);
    let r = app
        .call(
            "POST",
            path,
            Some(&po),
            Some(json!({"version": "newsletter-test-1", "locale": "de", "text": "abd"})),
        )
        .await;
    r.problem(409);
    let r = app
        .call(
            "POST",
            path,
            Some(&po),
            Some(json!({"version": "mit leerzeichen", "locale": "fr", "text": " "})),
        )
        .await;
    let mut f = r.problem(422);
    f.sort();
    assert!(!f.is_empty());
    app.call(
        "POST",
        "/api/v1/purposes/contract/wordings",
        Some(&po),
        Some(json!({"version": "c-1", "locale": "de", "text": "x"})),
    )
    .await
    .problem(422);
    app.call(
        "POST",
        "/api/v1/purposes/astrologie/wordings",
        Some(&po),
        Some(json!({"version": "c-1", "locale": "de", "text": "x"})),
    )
    .await
    .problem(404);

    // A grant can now name a new version of its purpose.
    let r = app
        .call(
            "POST",
            "/api/v1/purposes/phone_marketing/wordings",
            Some(&po),
            Some(json!({"version": "tel-2027", "locale": "de", "text": "Ja, rufen Sie mich an."})),
        )
        .await;
    assert_eq!(r.status, 201);
    let p = app
        .create_person(&t, json!({"last_name": "Neu", "phone": "+49 30 1112223"}))
        .await;
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{}/consents", p["id"].as_str().unwrap()),
            Some(&t),
            Some(json!({"purpose": "phone_marketing", "channel": "phone", "action": "grant", "wording_version": "tel-2027", "evidence": "Aufzeichnung 7"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn grounds_changes_are_audited_and_restricted_persons_cannot_be_changed_by_sales() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(&t, json!({"last_name": "Gesperrt", "kind": "business"}))
        .await;
    let pid = p["id"].as_str().unwrap();
    app.call(
        "PUT",
        &format!("/api/v1/persons/{pid}/advertising-marker"),
        Some(&t),
        None,
    )
    .await;
    app.call(
        "POST",
        &format!("/api/v1/persons/{pid}/restriction"),
        Some(&po),
        Some(json!({"reason": "bestritten"})),
    )
    .await;
    let r = app
        .call(
            "PUT",
            &format!("/api/v1/persons/{pid}/presumed-consent"),
            Some(&t),
            Some(json!({"reason": "Anfrage zu Wartungsverträgen"})),
        )
        .await;
    r.problem(403);
    assert_eq!(r.body["reason_code"], "restricted");
    let trail = app
        .call(
            "GET",
            &format!("/api/v1/audit?person_id={pid}&action=advertising_marker"),
            Some(&po),
            None,
        )
        .await;
    assert_eq!(trail.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(trail.body["items"][0]["outcome"], "on");
}

#[tokio::test]
async fn the_person_page_shows_the_grounds_and_records_the_marker_and_presumed_consent() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app
        .create_person(&t, json!({"last_name": "Werkstatt", "kind": "business"}))
        .await;
    let id = p["id"].as_str().unwrap();
    let s = crate::app::login(&app, "sales@staff.example", "Correct-Horse-Battery-9").await;
    let csrf = crate::app::csrf_of(&app, &s, &format!("/persons/{id}")).await;
    let post = |form: Vec<(&'static str, String)>| {
        app.http
            .post(format!("{}/persons/{id}/grounds", app.base))
            .header("cookie", s.clone())
            .header("accept-language", "de")
            .form(&form)
            .send()
    };
    let app = &app;
    let page = |cookie: String| async move {
        app.http
            .get(format!("{}/persons/{id}", app.base))
            .header("cookie", cookie)
            .header("accept-language", "de")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let html = page(s.clone()).await;
    assert!(html.contains("Rechtsgrundlagen außer Einwilligung"));
    assert!(html.contains("keine (kein gewonnener Deal)"));

    let r = post(vec![("csrf", csrf.clone()), ("action", "marker_on".into())])
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        page(s.clone())
            .await
            .contains("unerwünscht („Keine Werbung“)")
    );
    let g = app
        .call(
            "GET",
            &format!("/api/v1/persons/{id}/grounds"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(g.body["advertising_marker"], true);

    // A reason too short to be a concrete fact is refused and explained.
    let r = post(vec![
        ("csrf", csrf.clone()),
        ("action", "presumed".into()),
        ("reason", "egal".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let r = post(vec![
        ("csrf", csrf.clone()),
        ("action", "presumed".into()),
        ("reason", "Anfrage zur Wartung vom 28.11.".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        page(s.clone())
            .await
            .contains("Anfrage zur Wartung vom 28.11.")
    );
    let r = post(vec![
        ("csrf", String::new()),
        ("action", "presumed_end".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token, no change");
    let r = post(vec![("csrf", csrf), ("action", "presumed_end".into())])
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let g = app
        .call(
            "GET",
            &format!("/api/v1/persons/{id}/grounds"),
            Some(&t),
            None,
        )
        .await;
    assert!(!g.body["presumed_consent"]["ended_at"].is_null());
}
