//! No input makes the server fail: arbitrary JSON bodies and query strings get a 2xx or a
//! 4xx problem document, never a 5xx, and a refused request changes nothing.

use crate::app::TestApp;
use proptest::prelude::*;
use serde_json::{Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        Just(Value::from("x".repeat(300))),
    ];
    let field = prop_oneof![
        Just("first_name"),
        Just("last_name"),
        Just("email"),
        Just("phone"),
        Just("emails"),
        Just("phones"),
        Just("address"),
        Just("birthday"),
        Just("notes"),
        Just("kind"),
        Just("organization_id"),
        Just("owner_id"),
        Just("tags"),
        Just("source"),
        Just("custom_fields"),
        Just("label"),
        Just("value"),
        Just("street"),
        Just("country"),
        Just("unknown"),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(field.clone().prop_map(String::from), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn arbitrary_person_bodies_never_cause_a_server_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, token, path) = rt.block_on(async {
        let app = TestApp::spawn().await;
        let t = app.sales_token();
        let p = app
            .create_person(
                &t,
                json!({"first_name": "Erika", "last_name": "Mustermann"}),
            )
            .await;
        let path = format!("/api/v1/persons/{}", p["id"].as_str().unwrap());
        (app, t, path)
    });
    let config = ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(body in arb_json(), patch in any::<bool>(), q in "\\PC{0,30}")| {
        rt.block_on(async {
            let before = app.store.count_persons().unwrap();
            let (method, target) = if patch { ("PATCH", path.as_str()) } else { ("POST", "/api/v1/persons") };
            let r = app.call(method, target, Some(&token), Some(body.clone())).await;
            prop_assert!(r.status < 500, "{} {} -> {}: {}", method, body, r.status, r.body);
            if r.status >= 400 {
                prop_assert!(r.content_type.starts_with("application/problem+json"));
                prop_assert_eq!(app.store.count_persons().unwrap(), before);
            }
            let url = format!("/api/v1/persons?q={}", urlencode(&q));
            let r = app.call("GET", &url, Some(&token), None).await;
            prop_assert!(r.status == 200 || (400..500).contains(&r.status), "search {:?} -> {}", q, r.status);
            Ok(())
        })?;
    });
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
