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

async fn decision(
    app: &TestApp,
    t: &str,
    id: &str,
    purpose: &str,
    channel: &str,
) -> serde_json::Value {
    let r = app
        .call(
            "GET",
            &format!("/api/v1/persons/{id}/decision?purpose={purpose}&channel={channel}"),
            Some(t),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn an_objection_to_direct_marketing_takes_effect_at_once_and_survives_erasure() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let body = json!({"first_name": "Otto", "last_name": "Widerspruch", "email": "otto@kunde.example", "phone": "+49 30 555666", "kind": "business"});
    let p = app.create_person(&t, body.clone()).await;
    let id = p["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{id}/objections"),
            Some(&t),
            Some(json!({"scope": "direct_marketing", "source": "phone"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["scope"], "direct_marketing");
    for (purpose, channel) in [
        ("newsletter", "email"),
        ("phone_marketing", "phone"),
        ("postal_marketing", "post"),
    ] {
        let d = decision(&app, &t, &id, purpose, channel).await;
        assert_eq!(
            (d["allowed"].as_bool(), d["reason_code"].as_str()),
            (Some(false), Some("objection")),
            "{purpose}"
        );
    }
    let list = app
        .call(
            "GET",
            &format!("/api/v1/persons/{id}/objections"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    // Erased and entered again: her address is still suppressed.
    assert_eq!(
        app.call("DELETE", &format!("/api/v1/persons/{id}"), Some(&t), None)
            .await
            .status,
        204
    );
    let again = app.create_person(&t, body).await;
    let d = decision(
        &app,
        &t,
        again["id"].as_str().unwrap(),
        "phone_marketing",
        "phone",
    )
    .await;
    assert_eq!(d["reason_code"], "suppressed", "{d}");
    let d = decision(
        &app,
        &t,
        again["id"].as_str().unwrap(),
        "newsletter",
        "email",
    )
    .await;
    assert_eq!(d["reason_code"], "suppressed", "{d}");
}

#[tokio::test]
async fn objections_name_a_known_scope() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, json!({"last_name": "X"})).await;
    let id = p["id"].as_str().unwrap();
    for scope in ["astrology", "", "DIRECT"] {
        let r = app
            .call(
                "POST",
                &format!("/api/v1/persons/{id}/objections"),
                Some(&t),
                Some(json!({"scope": scope})),
            )
            .await;
        assert_eq!(r.problem(422), vec!["scope"], "{scope}");
    }
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{id}/objections"),
            Some(&t),
            Some(json!({"scope": "profiling"})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        decision(&app, &t, id, "profiling", "email").await["reason_code"],
        "objection"
    );
}

#[tokio::test]
async fn a_restricted_person_is_refused_for_every_purpose_and_read_only_except_for_the_privacy_officer()
 {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let po = app.user_with_role("dpo@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(
            &t,
            json!({"last_name": "Eingeschränkt", "kind": "consumer"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/api/v1/persons/{id}/restriction");
    app.call(
        "POST",
        &path,
        Some(&t),
        Some(json!({"reason": "Richtigkeit bestritten"})),
    )
    .await
    .problem(403);
    app.call("POST", &path, Some(&po), Some(json!({"reason": ""})))
        .await
        .problem(422);
    let r = app
        .call(
            "POST",
            &path,
            Some(&po),
            Some(json!({"reason": "Art. 18(1)(a): Richtigkeit bestritten"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["restricted"], true);
    for (purpose, channel) in [
        ("newsletter", "email"),
        ("contract", "email"),
        ("postal_marketing", "post"),
    ] {
        assert_eq!(
            decision(&app, &t, id, purpose, channel).await["reason_code"],
            "restricted",
            "{purpose}"
        );
    }
    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/persons/{id}"),
            Some(&t),
            Some(json!({"last_name": "Neu"})),
        )
        .await;
    r.problem(403);
    assert_eq!(r.body["reason_code"], "restricted");
    let r = app
        .call(
            "POST",
            "/api/v1/activities",
            Some(&t),
            Some(json!({"kind": "note", "person_id": id, "subject": "x"})),
        )
        .await;
    assert_eq!(r.body["reason_code"], "restricted");
    app.call("DELETE", &format!("/api/v1/persons/{id}"), Some(&t), None)
        .await
        .problem(403);
    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/persons/{id}"),
            Some(&po),
            Some(json!({"last_name": "Korrigiert"})),
        )
        .await;
    assert_eq!(r.status, 200, "the privacy officer may correct her data");
    assert_eq!(app.call("DELETE", &path, Some(&po), None).await.status, 204);
    app.call("DELETE", &path, Some(&po), None)
        .await
        .problem(404);
    assert_eq!(
        decision(&app, &t, id, "newsletter", "email").await["reason_code"],
        "no_consent"
    );
    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/persons/{id}"),
            Some(&t),
            Some(json!({"last_name": "Frei"})),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_marketing_call_to_a_consumer_without_consent_is_refused_and_not_logged() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app
        .create_person(
            &t,
            json!({"last_name": "Kaltanruf", "phone": "030 1234567", "kind": "consumer"}),
        )
        .await;
    let call = json!({"kind": "call", "person_id": p["id"], "subject": "Angebot", "purpose": "phone_marketing"});
    let r = app
        .call("POST", "/api/v1/activities", Some(&t), Some(call))
        .await;
    r.problem(403);
    assert_eq!(r.body["reason_code"], "no_consent");
    assert_eq!(
        app.store.count_activities().unwrap(),
        0,
        "a refused contact is not recorded"
    );
    let unknown =
        json!({"kind": "call", "person_id": p["id"], "subject": "x", "purpose": "astrology"});
    assert_eq!(
        app.call("POST", "/api/v1/activities", Some(&t), Some(unknown))
            .await
            .problem(422),
        vec!["purpose"]
    );
    // A note with a marketing purpose contacts nobody; a call without purpose is a plain log.
    let note = json!({"kind": "note", "person_id": p["id"], "subject": "Idee", "purpose": "phone_marketing"});
    assert_eq!(
        app.call("POST", "/api/v1/activities", Some(&t), Some(note))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn the_person_page_answers_may_we_for_every_purpose_and_channel() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app
        .create_person(
            &t,
            json!({"last_name": "Fragezeichen", "email": "f@kunde.example"}),
        )
        .await;
    let s = crate::app::login(&app, "sales@staff.example", "Correct-Horse-Battery-9").await;
    let html = app
        .http
        .get(format!(
            "{}/persons/{}",
            app.base,
            p["id"].as_str().unwrap()
        ))
        .header("cookie", &s)
        .header("accept-language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Dürfen wir?"));
    assert!(html.contains("Newsletter"));
    assert!(html.contains("class=\"refused\""));
}

#[tokio::test]
async fn the_privacy_officer_defines_and_versions_purposes_but_never_changes_a_basis() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let po = app.user_with_role("dpo@staff.example", Role::PrivacyOfficer);
    let new = json!({"key": "event_invitations", "name_de": "Einladungen zu Veranstaltungen", "name_en": "Event invitations",
        "description_de": "Einladungen per E-Mail", "description_en": "Invitations by email", "legal_basis": "consent",
        "channels": ["email"], "data_categories": ["contact"], "retention": "consent", "direct_marketing": true});
    app.call("POST", "/api/v1/purposes", Some(&t), Some(new.clone()))
        .await
        .problem(403);
    let r = app
        .call("POST", "/api/v1/purposes", Some(&po), Some(new.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["version"], 1);
    app.call("POST", "/api/v1/purposes", Some(&po), Some(new))
        .await
        .problem(422);
    let bad = json!({"key": "X Y", "name_de": "", "name_en": "n", "description_de": "d", "description_en": "d",
        "legal_basis": "public_task", "channels": ["fax"], "retention": "r"});
    let mut f = app
        .call("POST", "/api/v1/purposes", Some(&po), Some(bad))
        .await
        .problem(422);
    f.sort();
    assert_eq!(f, vec!["channels[0]", "key", "legal_basis", "name_de"]);

    let r = app
        .call(
            "PATCH",
            "/api/v1/purposes/newsletter",
            Some(&po),
            Some(json!({"name_en": "Monthly newsletter"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["version"].as_u64(), r.body["names"]["en"].as_str()),
        (Some(2), Some("Monthly newsletter"))
    );
    let r = app
        .call(
            "PATCH",
            "/api/v1/purposes/newsletter",
            Some(&po),
            Some(json!({"legal_basis": "legitimate_interest"})),
        )
        .await;
    assert_eq!(r.problem(422), vec!["legal_basis"]);
    let list = app.call("GET", "/api/v1/purposes", Some(&t), None).await;
    let nl = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "newsletter")
        .unwrap()
        .clone();
    assert_eq!(
        (nl["legal_basis"].as_str(), nl["version"].as_u64()),
        (Some("consent"), Some(2))
    );
    assert_eq!(
        app.store.purpose_version("newsletter", 1).unwrap().name_en,
        "Newsletter",
        "old versions stay readable"
    );
    // A deactivated purpose refuses every decision.
    let p = app.create_person(&t, json!({"last_name": "X"})).await;
    app.call(
        "PATCH",
        "/api/v1/purposes/newsletter",
        Some(&po),
        Some(json!({"active": false})),
    )
    .await;
    let d = app
        .call(
            "GET",
            &format!(
                "/api/v1/persons/{}/decision?purpose=newsletter&channel=email",
                p["id"].as_str().unwrap()
            ),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(d.body["allowed"], false);
    app.call(
        "PATCH",
        "/api/v1/purposes/astrology",
        Some(&po),
        Some(json!({"active": false})),
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn the_ui_marks_a_restricted_person_and_refuses_edits_in_plain_words() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let po = app.user_with_role("dpo@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(&t, json!({"last_name": "Gesperrt"}))
        .await;
    let id = p["id"].as_str().unwrap();
    app.call(
        "POST",
        &format!("/api/v1/persons/{id}/restriction"),
        Some(&po),
        Some(json!({"reason": "Art. 18(1)(a)"})),
    )
    .await;
    let s = crate::app::login(&app, "sales@staff.example", "Correct-Horse-Battery-9").await;
    let page = app
        .http
        .get(format!("{}/persons/{id}", app.base))
        .header("cookie", &s)
        .header("accept-language", "de")
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Verarbeitung eingeschränkt"),
        "the page marks the restriction"
    );
    let csrf = crate::app::csrf_of(&app, &s, &format!("/persons/{id}/edit")).await;
    let r = app
        .http
        .post(format!("{}/persons/{id}", app.base))
        .header("cookie", &s)
        .header("accept-language", "de")
        .form(&[("csrf", csrf.as_str()), ("last_name", "Neu")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("nur die oder der Datenschutzbeauftragte")
    );
}

#[tokio::test]
async fn phone_consent_with_proof_allows_the_call_and_a_withdrawal_stops_it_at_once() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app
        .create_person(
            &t,
            json!({"last_name": "Anrufbar", "phone": "030 7654321", "kind": "consumer"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/api/v1/persons/{id}/consents");
    let grant = json!({"purpose": "phone_marketing", "channel": "phone", "action": "grant", "source": "staff",
        "wording_version": "phone_marketing-de-1", "evidence": "Aufzeichnung 2026-11-29-0042"});
    let r = app.call("POST", &path, Some(&t), Some(grant)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["state"], "given");
    let d = decision(&app, &t, id, "phone_marketing", "phone").await;
    assert_eq!(
        (d["allowed"].as_bool(), d["legal_basis"].as_str()),
        (Some(true), Some("consent")),
        "{d}"
    );
    let call = json!({"kind": "call", "person_id": id, "subject": "Angebot", "purpose": "phone_marketing"});
    assert_eq!(
        app.call("POST", "/api/v1/activities", Some(&t), Some(call.clone()))
            .await
            .status,
        201
    );

    let r = app
        .call(
            "POST",
            &path,
            Some(&t),
            Some(json!({"purpose": "phone_marketing", "channel": "phone", "action": "withdraw"})),
        )
        .await;
    assert_eq!(r.body["state"], "withdrawn");
    assert_eq!(
        decision(&app, &t, id, "phone_marketing", "phone").await["reason_code"],
        "consent_withdrawn"
    );
    let r = app
        .call("POST", "/api/v1/activities", Some(&t), Some(call))
        .await;
    assert_eq!(r.body["reason_code"], "consent_withdrawn");
    let list = app.call("GET", &path, Some(&t), None).await;
    let row = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purpose"] == "phone_marketing")
        .unwrap()
        .clone();
    assert_eq!(row["state"], "withdrawn");
}

#[tokio::test]
async fn an_email_grant_is_confirmed_only_by_the_button_on_the_page_the_mail_links_to() {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let t = app.sales_token();
    let p = app
        .create_person(
            &t,
            json!({"last_name": "Wartend", "email": "w@kunde.example"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    let grant = json!({"purpose": "newsletter", "channel": "email", "action": "grant", "wording_version": "newsletter-de-1", "evidence": "Messeformular 17"});
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{id}/consents"),
            Some(&t),
            Some(grant),
        )
        .await;
    assert_eq!(
        (r.status, r.body["state"].as_str()),
        (201, Some("pending")),
        "{}",
        r.body
    );
    assert_eq!(
        decision(&app, &t, id, "newsletter", "email").await["reason_code"],
        "consent_pending"
    );

    let mails = smtp.all();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["w@kunde.example"]);
    let data = mails[0].data.replace("=\r\n", "").replace("=3D", "=");
    assert!(
        !data.to_lowercase().contains("angebot"),
        "the confirmation mail carries no advertising"
    );
    let link = data
        .split_whitespace()
        .find(|w| w.contains("/consent/confirm?token="))
        .expect("a confirmation link")
        .to_string();
    let token = link.split("token=").nth(1).unwrap().to_string();

    // Opening the link (as a mail scanner does) confirms nothing.
    let page = app.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"token\""));
    assert_eq!(
        decision(&app, &t, id, "newsletter", "email").await["reason_code"],
        "consent_pending"
    );

    let confirm = || {
        app.http
            .post(format!("{}/consent/confirm", app.base))
            .header("user-agent", "Testbrowser/1.0 (Klar)")
            .form(&[("token", token.as_str())])
            .send()
    };
    assert_eq!(confirm().await.unwrap().status(), 200);
    let d = decision(&app, &t, id, "newsletter", "email").await;
    assert_eq!(
        (d["allowed"].as_bool(), d["legal_basis"].as_str()),
        (Some(true), Some("consent")),
        "{d}"
    );
    assert_eq!(
        confirm().await.unwrap().status(),
        410,
        "a link confirms once"
    );
    let forged = app
        .http
        .post(format!("{}/consent/confirm", app.base))
        .form(&[("token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);
    let events = app.store.consent_events(id.parse().unwrap()).unwrap();
    assert_eq!(events.len(), 2, "grant and confirmation, nothing else");
    // The click's proof: the client's network (truncated) and user agent, sealed.
    assert_eq!(
        events[1].evidence.as_deref(),
        Some("double opt-in link; ip=127.0.0.0/24; ua=Testbrowser/1.0 (Klar)")
    );
}

#[tokio::test]
async fn without_a_mail_server_an_email_grant_is_refused_clearly_and_nothing_is_recorded() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app
        .create_person(
            &t,
            json!({"last_name": "Ohnepost", "email": "o@kunde.example"}),
        )
        .await;
    let grant = json!({"purpose": "newsletter", "channel": "email", "action": "grant", "wording_version": "newsletter-de-1", "evidence": "x"});
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{}/consents", p["id"].as_str().unwrap()),
            Some(&t),
            Some(grant),
        )
        .await;
    r.problem(503);
    assert!(r.body["detail"].as_str().unwrap().contains("KLAR_SMTP_URL"));
    assert!(
        app.store
            .consent_events(p["id"].as_str().unwrap().parse().unwrap())
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn consent_records_without_proof_or_for_the_wrong_purpose_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, json!({"last_name": "Ohne"})).await;
    let path = format!("/api/v1/persons/{}/consents", p["id"].as_str().unwrap());
    let r = app
        .call(
            "POST",
            &path,
            Some(&t),
            Some(json!({"purpose": "phone_marketing", "channel": "phone", "action": "grant"})),
        )
        .await;
    let mut f = r.problem(422);
    f.sort();
    assert_eq!(f, vec!["evidence", "wording_version"]);
    let r = app.call("POST", &path, Some(&t), Some(json!({"purpose": "contract", "channel": "email", "action": "grant", "wording_version": "x", "evidence": "y"}))).await;
    assert_eq!(r.problem(422), vec!["purpose"]);
    let r = app.call("POST", &path, Some(&t), Some(json!({"purpose": "newsletter", "channel": "phone", "action": "grant", "wording_version": "newsletter-de-1", "evidence": "y"}))).await;
    assert_eq!(r.problem(422), vec!["channel"]);
    // The wording must be stored, and stored for this purpose.
    for version in ["newsletter-de-99", "phone_marketing-de-1"] {
        let r = app.call("POST", &path, Some(&t), Some(json!({"purpose": "newsletter", "channel": "email", "action": "grant", "wording_version": version, "evidence": "y"}))).await;
        assert_eq!(r.problem(422), vec!["wording_version"], "{version}");
    }
    let r = app
        .call(
            "POST",
            &path,
            Some(&t),
            Some(json!({"purpose": "newsletter", "channel": "email", "action": "maybe"})),
        )
        .await;
    assert_eq!(r.problem(422), vec!["action"]);
    assert!(
        app.store
            .consent_events(p["id"].as_str().unwrap().parse().unwrap())
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn consent_evidence_is_not_stored_in_plaintext() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, json!({"last_name": "Beweis"})).await;
    let grant = json!({"purpose": "phone_marketing", "channel": "phone", "action": "grant", "wording_version": "phone_marketing-de-1",
        "evidence": "Gesprächsmitschnitt-Quittenbaum-4711"});
    app.call(
        "POST",
        &format!("/api/v1/persons/{}/consents", p["id"].as_str().unwrap()),
        Some(&t),
        Some(grant),
    )
    .await;
    app.store.db().checkpoint().unwrap();
    let bytes = std::fs::read(app.dir.path().join("klar.db")).unwrap();
    assert!(!bytes.windows(12).any(|w| w == b"Quittenbaum-"));
}

#[tokio::test]
async fn consents_objections_and_restrictions_can_be_recorded_on_the_person_page() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    app.user_with_role("dpo@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(
            &t,
            json!({"last_name": "Formular", "phone": "030 1112223", "kind": "consumer"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    let s = crate::app::login(&app, "sales@staff.example", "Correct-Horse-Battery-9").await;
    let csrf = crate::app::csrf_of(&app, &s, &format!("/persons/{id}")).await;
    let post = |path: String, form: Vec<(&'static str, String)>, cookie: String| {
        app.http
            .post(format!("{}{path}", app.base))
            .header("cookie", cookie)
            .header("accept-language", "de")
            .form(&form)
            .send()
    };
    let missing = vec![
        ("csrf", csrf.clone()),
        ("purpose", "phone_marketing".into()),
        ("channel", "phone".into()),
        ("action", "grant".into()),
    ];
    let r = post(format!("/persons/{id}/consents"), missing, s.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(
        r.text().await.unwrap().contains("Nachweis"),
        "the refusal is explained in German"
    );
    let grant = vec![
        ("csrf", csrf.clone()),
        ("purpose", "phone_marketing".into()),
        ("channel", "phone".into()),
        ("action", "grant".into()),
        ("wording_version", "phone_marketing-de-1".into()),
        ("evidence", "Formular 12".into()),
    ];
    assert_eq!(
        post(format!("/persons/{id}/consents"), grant, s.clone())
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        decision(&app, &t, id, "phone_marketing", "phone").await["allowed"],
        true
    );
    let objection = vec![
        ("csrf", csrf.clone()),
        ("scope", "direct_marketing".into()),
        ("source", "Telefon".into()),
    ];
    assert_eq!(
        post(format!("/persons/{id}/objections"), objection, s.clone())
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        decision(&app, &t, id, "phone_marketing", "phone").await["reason_code"],
        "objection"
    );
    let restrict = vec![
        ("csrf", csrf.clone()),
        ("action", "restrict".into()),
        ("reason", "Art. 18".into()),
    ];
    assert_eq!(
        post(
            format!("/persons/{id}/restriction"),
            restrict.clone(),
            s.clone()
        )
        .await
        .unwrap()
        .status(),
        403
    );
    let dpo = crate::app::login(&app, "dpo@staff.example", "Correct-Horse-Battery-9").await;
    let dpo_csrf = crate::app::csrf_of(&app, &dpo, &format!("/persons/{id}")).await;
    let restrict = vec![
        ("csrf", dpo_csrf.clone()),
        ("action", "restrict".into()),
        ("reason", "Art. 18".into()),
    ];
    assert_eq!(
        post(format!("/persons/{id}/restriction"), restrict, dpo.clone())
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        decision(&app, &t, id, "phone_marketing", "phone").await["reason_code"],
        "restricted"
    );
    let lift = vec![("csrf", dpo_csrf), ("action", "lift".into())];
    assert_eq!(
        post(format!("/persons/{id}/restriction"), lift, dpo)
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        decision(&app, &t, id, "phone_marketing", "phone").await["reason_code"],
        "objection"
    );
}
