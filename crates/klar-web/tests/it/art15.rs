//! The Art. 15 answer, the Art. 20 copy and the register of processors, end to end: a
//! person with a phone consent, activities, a won deal and a custom field value; two
//! processors (one outside the EEA) and a logged disclosure.

use crate::app::TestApp;
use klar_domain::policy::LegalBasis;
use klar_domain::role::Role;
use klar_store::Actor;
use klar_store::processors::NewDisclosure;
use serde_json::{Value, json};

const STAFF: [&str; 3] = [
    "sales@staff.example",
    "dsb@staff.example",
    "admin@staff.example",
];

struct World {
    app: TestApp,
    sales: String,
    officer: String,
    admin: String,
    pid: String,
    callcenter: String,
}

async fn post(app: &TestApp, t: &str, path: &str, body: Value) -> Value {
    let r = app.call("POST", path, Some(t), Some(body)).await;
    assert!(r.status == 201 || r.status == 200, "{path}: {}", r.body);
    r.body
}

fn callcenter() -> Value {
    json!({"name": "Callcenter Nord GmbH", "role": "processor", "contract_signed_at": "2026-01-15",
           "purposes": ["phone_marketing"], "data_categories": ["contact"], "country": "DE"})
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    post(
        &app,
        &admin,
        "/api/v1/custom-fields",
        json!({"record_type": "person", "key": "shoe_size", "label": "Schuhgröße", "field_type": "text"}),
    )
    .await;
    let p = app
        .create_person(
            &sales,
            json!({"first_name": "Erika", "last_name": "Mustermann", "email": "erika@example.org",
                   "phone": "+49 30 1234567", "kind": "consumer", "source": "Messe Leipzig 2026",
                   "tags": ["heißer-lead"], "notes": "Wirkt kaufbereit",
                   "custom_fields": {"shoe_size": "38"}}),
        )
        .await;
    let pid = p["id"].as_str().unwrap().to_string();
    post(
        &app,
        &sales,
        &format!("/api/v1/persons/{pid}/consents"),
        json!({"purpose": "phone_marketing", "channel": "phone", "action": "grant", "source": "staff",
               "wording_version": "phone_marketing-de-1", "evidence": "Aufnahme 2026-11-29-0815"}),
    )
    .await;
    post(
        &app,
        &sales,
        "/api/v1/activities",
        json!({"kind": "call", "person_id": pid, "subject": "Rückruf zum Angebot", "purpose": "phone_marketing"}),
    )
    .await;
    post(
        &app,
        &sales,
        "/api/v1/activities",
        json!({"kind": "note", "person_id": pid, "subject": "Einschätzung: zahlungskräftig"}),
    )
    .await;
    post(
        &app,
        &sales,
        "/api/v1/deals",
        json!({"title": "Küchenmaschine", "value_cents": 49900, "currency": "EUR", "stage": "won", "person_id": pid}),
    )
    .await;
    let cc = post(&app, &officer, "/api/v1/processors", callcenter()).await;
    post(
        &app,
        &officer,
        "/api/v1/processors",
        json!({"name": "Cloud Backup Inc.", "role": "processor", "contract_signed_at": "2026-02-01",
               "purposes": ["contract"], "data_categories": ["contact", "contract"], "country": "US",
               "transfer_mechanism": "scc", "services": ["backup"]}),
    )
    .await;
    let callcenter = cc["id"].as_str().unwrap().to_string();
    app.store
        .record_disclosure(
            Actor::system(),
            &NewDisclosure {
                processor_id: callcenter.clone(),
                person_id: pid.parse().unwrap(),
                data_categories: vec!["contact".into()],
                purpose: "phone_marketing".into(),
                legal_basis: LegalBasis::Consent,
                at: None,
            },
        )
        .unwrap();
    // Consultations for the access log: a read and a decision by sales.
    assert_eq!(
        app.call("GET", &format!("/api/v1/persons/{pid}"), Some(&sales), None)
            .await
            .status,
        200
    );
    let d = app
        .call(
            "GET",
            &format!("/api/v1/persons/{pid}/decision?purpose=phone_marketing&channel=phone"),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(d.body["allowed"], true, "{}", d.body);
    World {
        app,
        sales,
        officer,
        admin,
        pid,
        callcenter,
    }
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

#[tokio::test]
async fn the_art15_answer_contains_every_item_of_table_4b() {
    let w = world().await;
    let r = w
        .app
        .call(
            "GET",
            &format!("/api/v1/persons/{}/export", w.pid),
            Some(&w.officer),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = &r.body;
    // Confirmation.
    assert_eq!(a["confirmation"]["processed"], true);
    assert!(!a["confirmation"]["text"]["de"].as_str().unwrap().is_empty());
    // (a) purposes with their basis, (d) retention.
    let pm = find(&a["purposes"], "key", "phone_marketing");
    assert_eq!(pm["legal_basis"], "consent");
    assert_eq!(pm["legal_basis_article"], "Art. 6(1)(a) GDPR");
    assert_eq!(pm["applies"], true);
    assert!(!pm["retention"]["en"].as_str().unwrap().is_empty());
    let contract = find(&a["purposes"], "key", "contract");
    assert_eq!(
        (&contract["legal_basis"], &contract["applies"]),
        (&json!("contract"), &json!(true))
    );
    assert_eq!(find(&a["purposes"], "key", "newsletter")["applies"], false);
    // (b) categories held.
    for k in [
        "contact",
        "interaction",
        "contract",
        "custom_fields",
        "consents",
    ] {
        find(&a["data_categories"], "key", k);
    }
    // (c) recipients by name, the logged one marked disclosed; 15(2) transfers.
    let cc = find(&a["recipients"], "name", "Callcenter Nord GmbH");
    assert_eq!(cc["disclosed"], true);
    assert_eq!(cc["id"], w.callcenter.as_str());
    let backup = find(&a["recipients"], "name", "Cloud Backup Inc.");
    assert_eq!(
        (&backup["third_country"], &backup["disclosed"]),
        (&json!(true), &json!(false))
    );
    let t = find(&a["transfers"], "recipient", "Cloud Backup Inc.");
    assert_eq!(
        (&t["country"], &t["transfer_mechanism"]),
        (&json!("US"), &json!("scc"))
    );
    assert!(
        t["safeguard"]["de"]
            .as_str()
            .unwrap()
            .contains("Standardvertragsklauseln")
    );
    let d = find(&a["disclosures"], "recipient", "Callcenter Nord GmbH");
    assert_eq!(
        (&d["purpose"], &d["legal_basis"]),
        (&json!("phone_marketing"), &json!("consent"))
    );
    // (e), (f) rights including the complaint.
    for k in [
        "rectification",
        "erasure",
        "restriction",
        "objection",
        "complaint",
    ] {
        find(&a["rights"], "key", k);
    }
    // (g) source, (h) automated decisions.
    assert_eq!(a["source"]["recorded"], "Messe Leipzig 2026");
    assert_eq!(a["automated_decisions"]["takes_place"], false);
    assert!(
        a["automated_decisions"]["text"]["en"]
            .as_str()
            .unwrap()
            .contains("Art. 22")
    );
    // Copy of all data: fields, contact points, activities, deals, notes, custom fields.
    let person = &a["data"]["person"];
    assert_eq!(
        (&person["first_name"], &person["last_name"]),
        (&json!("Erika"), &json!("Mustermann"))
    );
    assert_eq!(person["emails"][0]["value"], "erika@example.org");
    assert_eq!(person["phones"][0]["value"], "+49301234567");
    assert_eq!(person["notes"], "Wirkt kaufbereit");
    let shoe = find(&person["custom_fields"], "key", "shoe_size");
    assert_eq!(
        (&shoe["label"], &shoe["value"]),
        (&json!("Schuhgröße"), &json!("38"))
    );
    assert_eq!(a["data"]["activities"].as_array().unwrap().len(), 2);
    let deal = find(&a["data"]["deals"], "title", "Küchenmaschine");
    assert_eq!(deal["status"], "won");
    // Consent history with the wording's text and hash, and the evidence.
    let c = &a["consent_history"][0];
    assert_eq!(
        (&c["purpose"], &c["action"], &c["wording_version"]),
        (
            &json!("phone_marketing"),
            &json!("grant"),
            &json!("phone_marketing-de-1")
        )
    );
    let text = c["wording"]["text"].as_str().unwrap();
    assert!(!text.is_empty());
    assert_eq!(
        c["wording"]["sha256"].as_str().unwrap(),
        klar_store::wordings::sha256_hex(text)
    );
    assert_eq!(c["evidence"], "Aufnahme 2026-11-29-0815");
    // Access log: dates and purposes of the consultations, never who.
    let log = &a["access_log"];
    find(log, "action", "person.read");
    let decision = find(log, "action", "decision");
    assert_eq!(decision["purpose"], "phone_marketing");
    assert!(!decision["at"].as_str().unwrap().is_empty());
    for entry in log.as_array().unwrap() {
        assert!(entry.get("actor").is_none(), "{entry}");
    }
    let raw = r.body.to_string();
    assert!(
        !raw.contains("user:"),
        "a staff account id is in the answer"
    );
    for email in STAFF {
        assert!(!raw.contains(email), "{email} is in the answer");
    }
    // Every compilation is audited.
    let trail = w
        .app
        .call(
            "GET",
            &format!("/api/v1/audit?person_id={}&action=person.export", w.pid),
            Some(&w.officer),
            None,
        )
        .await;
    assert_eq!(trail.status, 200, "{}", trail.body);
    assert_eq!(trail.body["items"][0]["outcome"], "art15.json");
}

#[tokio::test]
async fn the_art15_page_is_printable_in_german_and_english_and_names_no_staff() {
    let w = world().await;
    for (lang, headings) in [
        (
            "de",
            [
                "Auskunft nach Art. 15 DSGVO",
                "Zwecke, Rechtsgrundlagen und Speicherdauer",
                "Empfänger",
                "Übermittlungen in Drittländer",
                "Ihre Rechte",
                "Einwilligungen (Verlauf)",
                "Zugriffe auf Ihre Daten",
            ],
        ),
        (
            "en",
            [
                "Access answer under Art. 15 GDPR",
                "Purposes, legal bases and retention",
                "Recipients",
                "Transfers to third countries",
                "Your rights",
                "Consents (history)",
                "Consultations of your data",
            ],
        ),
    ] {
        let r = w
            .app
            .http
            .get(format!(
                "{}/api/v1/persons/{}/export?format=html&lang={lang}",
                w.app.base, w.pid
            ))
            .bearer_auth(&w.officer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!("<html lang=\"{lang}\">")));
        assert!(html.contains("Erika Mustermann"));
        for h in headings {
            assert!(html.contains(h), "{lang}: heading {h} missing");
        }
        assert!(html.contains("Callcenter Nord GmbH"));
        assert!(html.contains("Aufnahme 2026-11-29-0815"));
        assert!(html.contains("Schuhgröße"));
        assert!(
            !html.contains("<script"),
            "{lang}: the page needs no script"
        );
        assert!(!html.contains("??"), "{lang}: a label is missing");
        for email in STAFF {
            assert!(!html.contains(email), "{lang}: {email} on the page");
        }
    }
    // Without `lang`, Accept-Language decides.
    let r = w
        .app
        .http
        .get(format!(
            "{}/api/v1/persons/{}/export?format=html",
            w.app.base, w.pid
        ))
        .bearer_auth(&w.officer)
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Your rights"));
    w.app
        .call(
            "GET",
            &format!("/api/v1/persons/{}/export?format=pdf", w.pid),
            Some(&w.officer),
            None,
        )
        .await
        .problem(422);
}

#[tokio::test]
async fn portability_gives_provided_and_observed_data_but_no_inferred_data() {
    let w = world().await;
    let r = w
        .app
        .call(
            "GET",
            &format!("/api/v1/persons/{}/portability", w.pid),
            Some(&w.officer),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["provided"]["first_name"], "Erika");
    assert_eq!(b["provided"]["emails"][0]["value"], "erika@example.org");
    assert_eq!(b["provided"]["custom_fields"][0]["value"], "38");
    assert_eq!(b["observed"]["consent_events"][0]["action"], "grant");
    let interactions = b["observed"]["interactions"].as_array().unwrap();
    assert_eq!(interactions.len(), 1);
    assert_eq!(interactions[0]["kind"], "call");
    assert_eq!(b["observed"]["deals"][0]["title"], "Küchenmaschine");
    let raw = b.to_string();
    for inferred in [
        "Wirkt kaufbereit",
        "zahlungskräftig",
        "heißer-lead",
        "allowed",
        "reason_code",
    ] {
        assert!(
            !raw.contains(inferred),
            "inferred data in the copy: {inferred}"
        );
    }
    for email in STAFF {
        assert!(!raw.contains(email));
    }

    let r = w
        .app
        .http
        .get(format!(
            "{}/api/v1/persons/{}/portability?format=csv",
            w.app.base, w.pid
        ))
        .bearer_auth(&w.officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}section;field;value\r\n"));
    assert!(csv.contains("\"provided\";\"first_name\";\"Erika\""));
    assert!(csv.contains("\"provided\";\"phones.0.value\";\"'+49301234567\""));
    assert!(
        csv.contains("\"observed\";\"consent_events.0.wording_version\";\"phone_marketing-de-1\"")
    );
    assert!(!csv.contains("Wirkt kaufbereit"));
}

#[tokio::test]
async fn only_the_privacy_officer_may_compile_answers_and_unknown_persons_are_not_found() {
    let w = world().await;
    let marketing = w
        .app
        .user_with_role("marketing@staff.example", Role::Marketing);
    let viewer = w.app.user_with_role("viewer@staff.example", Role::Viewer);
    for path in ["export", "export?format=html", "portability"] {
        for t in [&w.sales, &w.admin, &marketing, &viewer] {
            w.app
                .call(
                    "GET",
                    &format!("/api/v1/persons/{}/{path}", w.pid),
                    Some(t),
                    None,
                )
                .await
                .problem(403);
        }
        w.app
            .call(
                "GET",
                &format!("/api/v1/persons/0190b5a2-0000-7000-8000-000000000000/{path}"),
                Some(&w.officer),
                None,
            )
            .await
            .problem(404);
    }
    assert_eq!(
        w.app
            .call(
                "GET",
                &format!("/api/v1/persons/{}/export", w.pid),
                None,
                None
            )
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn the_processor_register_checks_every_field_and_changes_nothing_on_error() {
    let w = world().await;
    let before = w
        .app
        .call("GET", "/api/v1/processors", Some(&w.admin), None)
        .await;
    assert_eq!(before.status, 200);
    assert_eq!(before.body.as_array().unwrap().len(), 2);
    let cc = find(&before.body, "name", "Callcenter Nord GmbH");
    assert_eq!(
        (&cc["role"], &cc["contract_signed_at"], &cc["country"]),
        (&json!("processor"), &json!("2026-01-15"), &json!("DE"))
    );
    assert_eq!(cc["transfer_mechanism"], "none");

    let with = |k: &str, v: Value| {
        let mut b = callcenter();
        b[k] = v;
        b
    };
    let mut missing_name = callcenter();
    missing_name.as_object_mut().unwrap().remove("name");
    for (body, field) in [
        (with("role", json!("friend")), "role"),
        (with("country", json!("Germany")), "country"),
        (missing_name, "name"),
        (with("country", json!("US")), "transfer_mechanism"),
        (with("purposes", json!(["no_such_purpose"])), "purposes[0]"),
        (with("services", json!(["telepathy"])), "services[0]"),
        (
            with("contract_signed_at", json!("15.01.2026")),
            "contract_signed_at",
        ),
    ] {
        let fields = w
            .app
            .call("POST", "/api/v1/processors", Some(&w.officer), Some(body))
            .await
            .problem(422);
        assert_eq!(fields, [field]);
    }
    // Sales and administrators may not add entries; sales may not read the register.
    for t in [&w.sales, &w.admin] {
        w.app
            .call("POST", "/api/v1/processors", Some(t), Some(callcenter()))
            .await
            .problem(403);
    }
    w.app
        .call("GET", "/api/v1/processors", Some(&w.sales), None)
        .await
        .problem(403);
    let after = w
        .app
        .call("GET", "/api/v1/processors", Some(&w.officer), None)
        .await;
    assert_eq!(
        after.body, before.body,
        "a refused entry changed the register"
    );
}

#[tokio::test]
async fn the_disclosure_log_lists_each_recipient_once_and_outlives_the_person() {
    let w = world().await;
    let pid = w.pid.parse().unwrap();
    w.app
        .store
        .record_disclosure(
            Actor::system(),
            &NewDisclosure {
                processor_id: w.callcenter.clone(),
                person_id: pid,
                data_categories: vec!["contact".into()],
                purpose: "phone_marketing".into(),
                legal_basis: LegalBasis::Consent,
                at: None,
            },
        )
        .unwrap();
    let names: Vec<String> = w
        .app
        .store
        .recipients_of(pid)
        .unwrap()
        .into_iter()
        .map(|p| p.spec.name)
        .collect();
    assert_eq!(names, ["Callcenter Nord GmbH"]);
    assert_eq!(w.app.store.disclosures_of(pid).unwrap().len(), 2);
    // An unknown recipient is refused by field.
    let err = w
        .app
        .store
        .record_disclosure(
            Actor::system(),
            &NewDisclosure {
                processor_id: "not-in-the-register".into(),
                person_id: pid,
                data_categories: vec!["contact".into()],
                purpose: "phone_marketing".into(),
                legal_basis: LegalBasis::Consent,
                at: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, klar_store::StoreError::Invalid(_)), "{err}");
    // After erasure, whom to notify (Art. 19) is still known.
    let r = w
        .app
        .call(
            "DELETE",
            &format!("/api/v1/persons/{}", w.pid),
            Some(&w.sales),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(w.app.store.recipients_of(pid).unwrap().len(), 1);
}
