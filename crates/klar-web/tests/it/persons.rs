use crate::app::TestApp;
use serde_json::json;

fn erika() -> serde_json::Value {
    json!({"first_name": "Erika", "last_name": "Mustermann", "email": "erika@kunde.example",
           "phone": "030 1234567", "kind": "consumer", "tags": ["messe"], "source": "Messe Hannover"})
}

#[tokio::test]
async fn a_created_person_can_be_read_back_with_normalised_values() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, erika()).await;
    assert_eq!(p["phone"], "+49301234567");
    assert_eq!(p["tags"], json!(["messe"]));
    let got = app
        .call(
            "GET",
            &format!("/api/v1/persons/{}", p["id"].as_str().unwrap()),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["email"], "erika@kunde.example");
    assert_eq!(got.body["last_name"], "Mustermann");
    assert!(got.body["created_by"].is_string());
}

#[tokio::test]
async fn search_finds_a_person_by_name_prefix_email_and_phone() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, erika()).await;
    app.create_person(
        &t,
        json!({"first_name": "Jürgen", "last_name": "Müller", "kind": "business"}),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    for q in [
        "Muster",
        "mu%20er",
        "Erika%20Must",
        "erika%40kunde.example",
        "%2B49%2030%201234567",
        "0301234567",
    ] {
        let r = app
            .call("GET", &format!("/api/v1/persons?q={q}"), Some(&t), None)
            .await;
        assert_eq!(r.status, 200);
        let ids: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&id), "query {q} did not find her: {}", r.body);
    }
    let r = app
        .call("GET", "/api/v1/persons?q=mul", Some(&t), None)
        .await;
    assert_eq!(
        r.body["items"][0]["last_name"], "Müller",
        "umlauts fold for search"
    );
    let r = app
        .call("GET", "/api/v1/persons?q=Schmidt", Some(&t), None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn lists_page_with_an_opaque_cursor_and_filter_by_tag_and_organization() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let org = app
        .call(
            "POST",
            "/api/v1/organizations",
            Some(&t),
            Some(json!({"name": "Bäckerei Schulze GmbH"})),
        )
        .await;
    let org_id = org.body["id"].as_str().unwrap().to_string();
    for i in 0..5 {
        let mut b =
            json!({"first_name": format!("P{i}"), "last_name": "Tester", "kind": "business"});
        if i % 2 == 0 {
            b["tags"] = json!(["vip"]);
            b["organization_id"] = json!(org_id);
        }
        app.create_person(&t, b).await;
    }
    let first = app
        .call("GET", "/api/v1/persons?limit=2", Some(&t), None)
        .await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let mut seen: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().into())
        .collect();
    let mut cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    loop {
        let r = app
            .call(
                "GET",
                &format!("/api/v1/persons?limit=2&cursor={cursor}"),
                Some(&t),
                None,
            )
            .await;
        seen.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_string()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "every person exactly once across pages");
    let vip = app
        .call("GET", "/api/v1/persons?tag=VIP", Some(&t), None)
        .await;
    assert_eq!(vip.body["items"].as_array().unwrap().len(), 3);
    let by_org = app
        .call(
            "GET",
            &format!("/api/v1/persons?organization_id={org_id}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(by_org.body["items"].as_array().unwrap().len(), 3);
    let bad = app
        .call("GET", "/api/v1/persons?cursor=garbage", Some(&t), None)
        .await;
    assert_eq!(bad.problem(422), vec!["cursor"]);
}

#[tokio::test]
async fn patch_changes_only_the_given_fields_and_null_clears() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, erika()).await;
    let path = format!("/api/v1/persons/{}", p["id"].as_str().unwrap());
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&t),
            Some(json!({"last_name": "Musterfrau", "phone": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["last_name"], "Musterfrau");
    assert_eq!(r.body["first_name"], "Erika");
    assert!(r.body["phone"].is_null());
    let found = app
        .call("GET", "/api/v1/persons?q=musterfrau", Some(&t), None)
        .await;
    assert_eq!(
        found.body["items"].as_array().unwrap().len(),
        1,
        "the blind index follows the change"
    );
    let old = app
        .call("GET", "/api/v1/persons?q=mustermann", Some(&t), None)
        .await;
    assert_eq!(old.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn invalid_input_names_each_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, erika()).await;
    let r = app
        .call(
            "POST",
            "/api/v1/persons",
            Some(&t),
            Some(json!({"first_name": "X", "email": "nope", "phone": "abc", "kind": "alien"})),
        )
        .await;
    let mut fields = r.problem(422);
    fields.sort();
    assert_eq!(fields, vec!["email", "kind", "phone"]);
    assert!(
        !r.body["detail"].as_str().unwrap().contains("nope"),
        "submitted values are not echoed"
    );
    let long = "x".repeat(101);
    let r = app
        .call(
            "POST",
            "/api/v1/persons",
            Some(&t),
            Some(json!({"first_name": long, "last_name": "Y"})),
        )
        .await;
    assert_eq!(r.problem(422), vec!["first_name"]);
    let r = app
        .call(
            "POST",
            "/api/v1/persons",
            Some(&t),
            Some(json!({"last_name": "Y", "shoe_size": 42})),
        )
        .await;
    r.problem(400);
    assert!(
        r.body["detail"].as_str().unwrap().contains("shoe_size"),
        "{}",
        r.body
    );
    let r = app
        .raw(
            "POST",
            "/api/v1/persons",
            &t,
            "application/json",
            b"{\"last_name\": ",
        )
        .await;
    r.problem(400);
    let r = app
        .raw("POST", "/api/v1/persons", &t, "text/plain", b"{}")
        .await;
    r.problem(415);
    let path = format!("/api/v1/persons/{}", p["id"].as_str().unwrap());
    let r = app
        .call(
            "PATCH",
            &path,
            Some(&t),
            Some(json!({"email": "broken@", "last_name": "Neu"})),
        )
        .await;
    r.problem(422);
    let still = app.call("GET", &path, Some(&t), None).await;
    assert_eq!(
        still.body["last_name"], "Mustermann",
        "a refused PATCH changes nothing"
    );
    assert_eq!(app.store.count_persons().unwrap(), 1);
}

#[tokio::test]
async fn unknown_and_foreign_ids_are_not_found() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let org = app
        .call(
            "POST",
            "/api/v1/organizations",
            Some(&t),
            Some(json!({"name": "ACME"})),
        )
        .await;
    for path in [
        "/api/v1/persons/not-an-id".to_string(),
        "/api/v1/persons/0192f5a0-0000-7000-8000-000000000000".to_string(),
        format!("/api/v1/persons/{}", org.body["id"].as_str().unwrap()),
        "/api/v1/persons/%00%ff".to_string(),
    ] {
        app.call("GET", &path, Some(&t), None).await.problem(404);
    }
    let r = app.call("POST", "/api/v1/persons", Some(&t), Some(json!({"last_name": "Y", "organization_id": "0192f5a0-0000-7000-8000-000000000000"}))).await;
    assert_eq!(r.problem(422), vec!["organization_id"]);
    app.call("GET", "/api/v1/nothing-here", Some(&t), None)
        .await
        .problem(404);
    app.call("PUT", "/api/v1/persons", Some(&t), None)
        .await
        .problem(405);
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retried_post_create_one_person() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let send = |body: serde_json::Value| {
        app.http
            .post(format!("{}/api/v1/persons", app.base))
            .bearer_auth(&t)
            .header("Idempotency-Key", "retry-1")
            .json(&body)
            .send()
    };
    let a = TestApp::read(send(erika()).await.unwrap()).await;
    let b = TestApp::read(send(erika()).await.unwrap()).await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(b.headers.get("idempotency-replayed").unwrap(), "true");
    assert_eq!(app.store.count_persons().unwrap(), 1);
    let c = TestApp::read(send(json!({"last_name": "Anders"})).await.unwrap()).await;
    c.problem(422);
    assert_eq!(app.store.count_persons().unwrap(), 1);
}

#[tokio::test]
async fn an_erased_person_is_gone_and_unfindable() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let p = app.create_person(&t, erika()).await;
    let path = format!("/api/v1/persons/{}", p["id"].as_str().unwrap());
    app.call(
        "POST",
        "/api/v1/activities",
        Some(&t),
        Some(json!({"kind": "note", "person_id": p["id"], "subject": "Rückruf"})),
    )
    .await;
    let r = app.call("DELETE", &path, Some(&t), None).await;
    assert_eq!(r.status, 204);
    app.call("GET", &path, Some(&t), None).await.problem(404);
    let r = app
        .call(
            "GET",
            "/api/v1/persons?q=erika%40kunde.example",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    app.call("DELETE", &path, Some(&t), None).await.problem(410);
    assert_eq!(app.store.count_activities().unwrap(), 0);
}

/// The raw bytes of every database file, WAL included, hold no name, email or phone.
#[tokio::test]
async fn no_personal_data_is_stored_in_plaintext() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let secrets = [
        "Zwetschgenbaum",
        "Kunigunde",
        "kunigunde.zwetschgenbaum@geheim.example",
        "+4917612345678",
        "Geheimstraße 7",
    ];
    let p = app
        .create_person(
            &t,
            json!({"first_name": secrets[1], "last_name": secrets[0], "email": secrets[2], "phone": secrets[3],
                   "address": {"street": secrets[4]}, "notes": "Kunigunde mag Zwetschgen"}),
        )
        .await;
    app.call("POST", "/api/v1/activities", Some(&t), Some(json!({"kind": "call", "person_id": p["id"], "subject": "Kunigunde angerufen", "body": "Zwetschgenbaum"}))).await;
    let scan = |label: &str| {
        let mut files = 0;
        for e in std::fs::read_dir(app.dir.path()).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with("klar.db") {
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            for s in secrets
                .iter()
                .chain(["4917612345678", "geheim.example"].iter())
            {
                let needle = s.as_bytes();
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{label}: {name} contains {s}"
                );
                let lower = s.to_lowercase();
                assert!(
                    !bytes.windows(lower.len()).any(|w| w == lower.as_bytes()),
                    "{label}: {name} contains {lower}"
                );
            }
        }
        assert!(files >= 2, "database and WAL files are scanned");
    };
    scan("before checkpoint");
    app.store.db().checkpoint().unwrap();
    scan("after checkpoint");
    // The data is still there for those allowed to read it.
    let r = app
        .call("GET", "/api/v1/persons?q=zwetsch", Some(&t), None)
        .await;
    assert_eq!(r.body["items"][0]["email"], secrets[2]);
}
