//! Erasure (Art. 17) end to end: a person with everything a CRM can hold about her is
//! erased through the API, and afterwards nothing in the data directory reveals her, while
//! the deal, the audit trail and the suppression of her addresses stay.

use crate::app::TestApp;
use klar_domain::role::Role;
use klar_store::db::Val;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const FIRST: &str = "Wiebke";
const LAST: &str = "Jürgensmeyer";
const EMAIL: &str = "Wiebke.Juergensmeyer@moorhof-friesland.example";
const EMAIL2: &str = "wj.reetdach@watt-post.example";
const PHONE: &str = "+49 4921 555 0173";
const STREET: &str = "Deichweg 17a";
const CITY: &str = "Moorhausen-Siel";
const NOTE: &str = "Bernsteinsammlung Peselstube";
const CUSTOM: &str = "Heidschnuckenzucht";
const TAG: &str = "Krabbenkutterflotte";
const ACTIVITY_SUBJECT: &str = "Reetdachsanierung Moorhofscheune";
const ACTIVITY_BODY: &str = "Gezeitenkalender Sturmflutschutzwall";
const EVIDENCE: &str = "Tonbandmitschnitt Moorhof 4711";
const PRESUMED: &str = "Kutterwartungsanfrage Greetsielhafen";
const IDEMPOTENCY_KEY: &str = "anlage-wiebke-juergensmeyer-1";

/// Every spelling of her data that might reach a file: as entered, lower and upper case,
/// the umlaut decomposed (NFD) or transliterated, the phone in E.164, national and digit
/// forms, and the words of her notes one by one.
fn needles() -> Vec<String> {
    let mut v: Vec<String> = vec![
        FIRST.into(),
        LAST.into(),
        "Ju\u{308}rgensmeyer".into(),
        "Juergensmeyer".into(),
        "Jurgensmeyer".into(),
        format!("{FIRST} {LAST}"),
        EMAIL.into(),
        "moorhof-friesland".into(),
        EMAIL2.into(),
        "wj.reetdach".into(),
        "watt-post".into(),
        PHONE.into(),
        "+4949215550173".into(),
        "4949215550173".into(),
        "049215550173".into(),
        "4921 555 0173".into(),
        "5550173".into(),
        STREET.into(),
        "Deichweg".into(),
        CITY.into(),
        CUSTOM.into(),
        TAG.into(),
        IDEMPOTENCY_KEY.into(),
    ];
    for text in [NOTE, ACTIVITY_SUBJECT, ACTIVITY_BODY, EVIDENCE, PRESUMED] {
        v.push(text.into());
        v.extend(
            text.split_whitespace()
                .filter(|w| w.chars().count() >= 6 && !w.chars().all(|c| c.is_ascii_digit()))
                .map(str::to_string),
        );
    }
    let mut out = Vec::new();
    for n in v {
        for s in [n.clone(), n.to_lowercase(), n.to_uppercase()] {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under the data directory (database, WAL, shared memory, master key):
/// the labelled byte strings found in it.
fn scan(dir: &Path, needles: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("klar.db"))
            && files.iter().any(|f| f.ends_with("master.key")),
        "the scan covers the database and the master key: {files:?}"
    );
    let mut found = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for (label, n) in needles {
            if contains(&bytes, n) {
                found.push(format!("{}: {label}", f.display()));
            }
        }
    }
    found
}

fn blobs(app: &TestApp, sql: &str, pid: &str) -> Vec<Vec<u8>> {
    app.store
        .db()
        .read(|c| {
            c.query(sql, &[pid.into()])?
                .iter()
                .map(|r| r.get::<Vec<u8>>(0))
                .collect()
        })
        .unwrap()
}

/// Every (table, column) of the schema whose value equals `id`, outside the audit trail
/// and the erasure journal, which keep ids by design.
fn rows_naming(app: &TestApp, id: &str) -> Vec<String> {
    app.store
        .db()
        .read(|c| {
            let tables: Vec<String> = c
                .query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                    &[],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect::<Result<_, _>>()?;
            let mut hits = Vec::new();
            for t in tables {
                if ["audit_log", "erasures", "klar_migrations"].contains(&t.as_str()) {
                    continue;
                }
                let cols: Vec<String> = c
                    .query(&format!("SELECT name FROM pragma_table_info('{t}')"), &[])?
                    .iter()
                    .map(|r| r.get(0))
                    .collect::<Result<_, _>>()?;
                for col in cols {
                    let n: i64 = c
                        .query_one(
                            &format!("SELECT COUNT(*) FROM {t} WHERE CAST({col} AS TEXT) = $1"),
                            &[id.into()],
                        )?
                        .get(0)?;
                    if n > 0 {
                        hits.push(format!("{t}.{col}"));
                    }
                }
            }
            Ok(hits)
        })
        .unwrap()
}

async fn items(app: &TestApp, t: &str, path: &str) -> Vec<Value> {
    let r = app.call("GET", path, Some(t), None).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

async fn audit_actions(app: &TestApp, officer: &str, pid: &str) -> Vec<String> {
    items(
        app,
        officer,
        &format!("/api/v1/audit?person_id={pid}&limit=200"),
    )
    .await
    .iter()
    .map(|e| e["action"].as_str().unwrap().to_string())
    // Reading the trail is itself audited; what matters here is the rest.
    .filter(|a| a != "audit.read")
    .collect()
}

/// Builds Wiebke with everything: two emails, phone, address, notes, a custom field, a tag,
/// activities with text (one on a deal), a deal, a consent with evidence, an objection, a
/// presumed consent, the "no advertising" marker; created with an Idempotency-Key and
/// searched for. Returns her id and the deal's.
async fn wiebke(app: &TestApp, t: &str) -> (String, String) {
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    let r = app
        .call(
            "POST",
            "/api/v1/custom-fields",
            Some(&admin),
            Some(json!({"record_type": "person", "key": "hobby", "label": "Hobby", "field_type": "text"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let body = json!({
        "first_name": FIRST, "last_name": LAST, "kind": "business",
        "emails": [{"label": "work", "value": EMAIL}, {"label": "private", "value": EMAIL2}],
        "phone": PHONE,
        "address": {"street": STREET, "postal_code": "26736", "city": CITY, "country": "DE"},
        "notes": NOTE, "tags": [TAG], "custom_fields": {"hobby": CUSTOM},
    });
    let created = TestApp::read(
        app.http
            .post(format!("{}/api/v1/persons", app.base))
            .bearer_auth(t)
            .header("Idempotency-Key", IDEMPOTENCY_KEY)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let pid = created.body["id"].as_str().unwrap().to_string();
    let deal = app
        .call(
            "POST",
            "/api/v1/deals",
            Some(t),
            Some(json!({"title": "Wartungsvertrag Kutter", "value_cents": 480_000, "currency": "EUR", "stage": "qualified", "person_id": pid})),
        )
        .await;
    assert_eq!(deal.status, 201, "{}", deal.body);
    let did = deal.body["id"].as_str().unwrap().to_string();
    for a in [
        json!({"kind": "call", "person_id": pid, "subject": ACTIVITY_SUBJECT, "body": ACTIVITY_BODY}),
        json!({"kind": "note", "person_id": pid, "deal_id": did, "subject": NOTE}),
    ] {
        let r = app
            .call("POST", "/api/v1/activities", Some(t), Some(a))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{pid}/consents"),
            Some(t),
            Some(
                json!({"purpose": "phone_marketing", "channel": "phone", "action": "grant",
                        "wording_version": "phone_marketing-de-1", "evidence": EVIDENCE}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .call(
            "PUT",
            &format!("/api/v1/persons/{pid}/presumed-consent"),
            Some(t),
            Some(json!({"reason": PRESUMED})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .call(
            "PUT",
            &format!("/api/v1/persons/{pid}/advertising-marker"),
            Some(t),
            None,
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{pid}/objections"),
            Some(t),
            Some(json!({"scope": "direct_marketing", "source": "letter"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    for q in [
        "J%C3%BCrgensm",
        "wiebke.juergensmeyer%40moorhof-friesland.example",
        "%2B4949215550173",
    ] {
        assert_eq!(
            items(app, t, &format!("/api/v1/persons?q={q}")).await.len(),
            1,
            "search {q} before erasure"
        );
    }
    (pid, did)
}

#[tokio::test]
async fn an_erased_person_leaves_no_trace_in_any_file_of_the_data_directory() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let (pid, did) = wiebke(&app, &t).await;

    // Her ciphertexts, key and name-prefix index entries, as stored before the erasure: none
    // of these bytes may survive either. (Her email and phone hashes do, on purpose: the
    // suppression list keeps them.)
    let mut stored: Vec<(String, Vec<u8>)> = Vec::new();
    for (label, sql) in [
        (
            "wrapped key",
            "SELECT wrapped_key FROM person_keys WHERE person_id = $1",
        ),
        (
            "sealed record",
            "SELECT personal FROM persons WHERE id = $1",
        ),
        (
            "activity text",
            "SELECT text FROM activities WHERE person_id = $1",
        ),
        (
            "consent evidence",
            "SELECT evidence FROM consent_events WHERE person_id = $1",
        ),
        (
            "presumed-consent reason",
            "SELECT reason FROM presumed_consents WHERE person_id = $1",
        ),
        (
            "name index",
            "SELECT hash FROM person_lookup WHERE person_id = $1 AND kind = 'name'",
        ),
    ] {
        let found = blobs(&app, sql, &pid);
        assert!(!found.is_empty(), "{label} exists before the erasure");
        stored.extend(found.into_iter().map(|b| (label.to_string(), b)));
    }
    let idem: i64 = app
        .store
        .db()
        .read(|c| {
            c.query_one(
                "SELECT COUNT(*) FROM idempotency_keys WHERE resource_id = $1",
                &[pid.as_str().into()],
            )?
            .get(0)
        })
        .unwrap();
    assert_eq!(idem, 1, "the idempotent create was recorded");

    let r = app
        .call("DELETE", &format!("/api/v1/persons/{pid}"), Some(&t), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);

    // Gone for the API: not readable, not findable, no activity left.
    app.call("GET", &format!("/api/v1/persons/{pid}"), Some(&t), None)
        .await
        .problem(404);
    for q in [
        "J%C3%BCrgensm",
        "Wiebke",
        "wiebke.juergensmeyer%40moorhof-friesland.example",
        "wj.reetdach%40watt-post.example",
        "%2B4949215550173",
    ] {
        assert!(
            items(&app, &t, &format!("/api/v1/persons?q={q}"))
                .await
                .is_empty(),
            "search {q} after erasure"
        );
    }
    assert!(
        items(&app, &t, &format!("/api/v1/activities?person_id={pid}"))
            .await
            .is_empty()
    );
    assert!(
        items(&app, &t, &format!("/api/v1/activities?deal_id={did}"))
            .await
            .is_empty()
    );
    let tags = app.call("GET", "/api/v1/tags", Some(&t), None).await;
    assert!(!tags.body.to_string().contains(TAG), "{}", tags.body);

    // The deal stays, without her.
    let deal = app
        .call("GET", &format!("/api/v1/deals/{did}"), Some(&t), None)
        .await;
    assert_eq!(deal.status, 200);
    assert!(deal.body["person_id"].is_null(), "{}", deal.body);
    assert_eq!(deal.body["value_cents"], 480_000);

    // The audit trail keeps her id, with the erasure on top; the journal has a tombstone.
    let trail = audit_actions(&app, &officer, &pid).await;
    assert_eq!(
        trail.first().map(String::as_str),
        Some("person.erase"),
        "{trail:?}"
    );
    assert!(trail.iter().any(|a| a == "person.create"), "{trail:?}");
    assert!(app.store.erased_at(pid.parse().unwrap()).unwrap().is_some());

    // No row anywhere names her any more (besides the trail and the journal).
    assert_eq!(rows_naming(&app, &pid), Vec::<String>::new());

    // Every file under the data directory, while the server runs: none of her plaintext,
    // in any spelling, and none of her stored key, ciphertext or name-index bytes.
    let mut needles: Vec<(String, Vec<u8>)> = needles()
        .into_iter()
        .map(|n| (n.clone(), n.into_bytes()))
        .collect();
    needles.extend(stored);
    let found = scan(app.dir.path(), &needles);
    assert!(
        found.is_empty(),
        "found after erasure:\n{}",
        found.join("\n")
    );

    // Her addresses stay suppressed: entered again, she is refused for marketing.
    let again = app
        .create_person(
            &t,
            json!({"last_name": "Neu", "kind": "business", "email": EMAIL, "phone": PHONE}),
        )
        .await;
    let again = again["id"].as_str().unwrap();
    for (purpose, channel) in [("newsletter", "email"), ("phone_marketing", "phone")] {
        let d = app
            .call(
                "GET",
                &format!("/api/v1/persons/{again}/decision?purpose={purpose}&channel={channel}"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(d.status, 200, "{}", d.body);
        assert_eq!(d.body["allowed"], false, "{}", d.body);
        assert_eq!(d.body["reason_code"], "suppressed", "{}", d.body);
    }
}

#[tokio::test]
async fn a_second_erasure_is_answered_gone_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(&t, json!({"first_name": FIRST, "last_name": LAST}))
        .await;
    let pid = p["id"].as_str().unwrap();
    let path = format!("/api/v1/persons/{pid}");
    assert_eq!(app.call("DELETE", &path, Some(&t), None).await.status, 204);
    let trail = audit_actions(&app, &officer, pid).await;
    let erased_at = app.store.erased_at(pid.parse().unwrap()).unwrap();
    let journal = || {
        app.store
            .db()
            .read(|c| {
                c.query_one("SELECT COUNT(*) FROM erasures", &[])?
                    .get::<i64>(0)
            })
            .unwrap()
    };
    assert_eq!(journal(), 1);

    let r = app.call("DELETE", &path, Some(&t), None).await;
    r.problem(410);
    assert_eq!(r.body["type"], "urn:klar:problem:gone");
    assert_eq!(r.body["detail"], "this person has been erased");
    // Reading her stays a plain 404, as the contract says.
    app.call("GET", &path, Some(&t), None).await.problem(404);

    assert_eq!(audit_actions(&app, &officer, pid).await, trail);
    assert_eq!(
        app.store.erased_at(pid.parse().unwrap()).unwrap(),
        erased_at
    );
    assert_eq!(journal(), 1);

    // An id that never named a person is not found, and is not journalled.
    let unknown = "0190a000-0000-7000-8000-000000000000";
    let r = app
        .call(
            "DELETE",
            &format!("/api/v1/persons/{unknown}"),
            Some(&t),
            None,
        )
        .await;
    r.problem(404);
    assert_eq!(r.body["detail"], "no person with this id");
    assert_eq!(journal(), 1);
}

#[tokio::test]
async fn a_restricted_person_is_erased_only_by_the_privacy_officer() {
    let app = TestApp::spawn().await;
    let t = app.sales_token();
    let officer = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(&t, json!({"last_name": LAST, "email": EMAIL}))
        .await;
    let pid = p["id"].as_str().unwrap();
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{pid}/restriction"),
            Some(&officer),
            Some(json!({"reason": "Richtigkeit bestritten"})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let path = format!("/api/v1/persons/{pid}");
    let r = app.call("DELETE", &path, Some(&t), None).await;
    r.problem(403);
    assert_eq!(r.body["reason_code"], "restricted");
    assert!(app.store.erased_at(pid.parse().unwrap()).unwrap().is_none());
    assert_eq!(app.call("GET", &path, Some(&t), None).await.status, 200);

    assert_eq!(
        app.call("DELETE", &path, Some(&officer), None).await.status,
        204
    );
    app.call("GET", &path, Some(&t), None).await.problem(404);
    let restricted: i64 = app
        .store
        .db()
        .read(|c| {
            c.query_one(
                "SELECT COUNT(*) FROM restrictions WHERE person_id = $1",
                &[Val::Text(pid.to_string())],
            )?
            .get(0)
        })
        .unwrap();
    assert_eq!(restricted, 0);
}
