//! The lapse of unconfirmed double opt-ins: the configured window feeds the link's expiry and
//! the decision, and the lapse job writes the lapse into the ledger once.

use crate::app::TestApp;
use crate::support::smtp::SmtpSink;
use jiff::{SignedDuration, Timestamp};
use klar_domain::clock::ManualClock;
use klar_domain::policy::{ConsentEventKind, ConsentSource};
use serde_json::{Value, json};
use std::sync::Arc;

fn start() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Timestamp::from_second(1_767_225_600).unwrap(),
    ))
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

async fn person(app: &TestApp, t: &str, email: &str) -> String {
    let p = app
        .create_person(t, json!({"last_name": "Wartend", "email": email}))
        .await;
    p["id"].as_str().unwrap().to_string()
}

async fn grant_newsletter(app: &TestApp, t: &str, id: &str) {
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{id}/consents"),
            Some(t),
            Some(json!({"purpose": "newsletter", "channel": "email", "action": "grant", "wording_version": "newsletter-de-1", "evidence": "Messeformular 17"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["state"].as_str()),
        (201, Some("pending")),
        "{}",
        r.body
    );
}

/// The confirmation link of the latest mail to `to`.
fn link_to(smtp: &SmtpSink, to: &str) -> String {
    let mail = smtp
        .all()
        .into_iter()
        .rfind(|m| m.to == vec![to.to_string()])
        .expect("a mail to the person");
    mail.data
        .replace("=\r\n", "")
        .replace("=3D", "=")
        .split_whitespace()
        .find(|w| w.contains("/consent/confirm?token="))
        .expect("a confirmation link")
        .to_string()
}

async fn confirm(app: &TestApp, link: &str) -> u16 {
    let token = link.split("token=").nth(1).unwrap();
    app.http
        .post(format!("{}/consent/confirm", app.base))
        .header("origin", &app.base)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn decision(app: &TestApp, t: &str, id: &str) -> Value {
    app.call(
        "GET",
        &format!("/api/v1/persons/{id}/decision?purpose=newsletter&channel=email"),
        Some(t),
        None,
    )
    .await
    .body
}

fn expiries(app: &TestApp, id: &str) -> Vec<klar_domain::policy::ConsentEvent> {
    app.store
        .consent_events(id.parse().unwrap())
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == ConsentEventKind::Expire)
        .collect()
}

#[tokio::test]
async fn an_unconfirmed_email_grant_lapses_after_the_configured_days_and_the_ledger_shows_it_once()
{
    let clock = start();
    let t0 = klar_domain::Clock::now(clock.as_ref());
    let (app, smtp) = TestApp::spawn_with_clock(clock.clone(), 7).await;
    let t = app.sales_token();
    let waiting = person(&app, &t, "wartet@kunde.example").await;
    let confirmed = person(&app, &t, "bestaetigt@kunde.example").await;
    grant_newsletter(&app, &t, &waiting).await;
    grant_newsletter(&app, &t, &confirmed).await;
    assert!(
        smtp.all()[0]
            .data
            .replace("=\r\n", "")
            .contains("gilt 7 Tage"),
        "the mail names the configured validity"
    );
    assert_eq!(
        confirm(&app, &link_to(&smtp, "bestaetigt@kunde.example")).await,
        200
    );

    // Within the window nothing lapses, and the link still opens.
    clock.advance(hours(7 * 24 - 1));
    assert_eq!(app.store.lapse_unconfirmed_doi().unwrap(), 0);
    let link = link_to(&smtp, "wartet@kunde.example");
    assert_eq!(app.http.get(&link).send().await.unwrap().status(), 200);
    assert_eq!(
        decision(&app, &t, &waiting).await["reason_code"],
        "consent_pending"
    );

    // After seven days (not the default thirty) the link is refused and the grant lapsed.
    clock.advance(hours(2));
    assert_eq!(app.http.get(&link).send().await.unwrap().status(), 410);
    assert_eq!(app.store.lapse_unconfirmed_doi().unwrap(), 1);
    assert_eq!(app.store.lapse_unconfirmed_doi().unwrap(), 0, "idempotent");
    clock.advance(hours(1));
    assert_eq!(app.store.lapse_unconfirmed_doi().unwrap(), 0, "idempotent");

    let lapsed = expiries(&app, &waiting);
    assert_eq!(lapsed.len(), 1, "exactly one expire event: {lapsed:?}");
    assert_eq!(lapsed[0].source, ConsentSource::System);
    assert_eq!(lapsed[0].wording_version, "newsletter-de-1");
    assert_eq!(
        lapsed[0].at,
        t0.checked_add(hours(7 * 24)).unwrap(),
        "dated at the link's expiry"
    );
    assert_eq!(
        decision(&app, &t, &waiting).await["reason_code"],
        "consent_expired"
    );
    assert_eq!(
        confirm(&app, &link).await,
        410,
        "a lapsed link confirms nothing"
    );

    assert!(
        expiries(&app, &confirmed).is_empty(),
        "a confirmed grant does not lapse"
    );
    let d = decision(&app, &t, &confirmed).await;
    assert_eq!(d["allowed"], true, "{d}");

    let list = app
        .call(
            "GET",
            &format!("/api/v1/persons/{waiting}/consents"),
            Some(&t),
            None,
        )
        .await;
    let row = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purpose"] == "newsletter" && c["channel"] == "email")
        .unwrap()
        .clone();
    assert_eq!(row["state"], "expired");
}

#[tokio::test]
async fn the_lapse_of_an_old_link_does_not_end_a_newer_pending_grant_or_a_given_consent() {
    let clock = start();
    let (app, smtp) = TestApp::spawn_with_clock(clock.clone(), 7).await;
    let t = app.sales_token();
    let renewed = person(&app, &t, "erneut@kunde.example").await;
    let active = person(&app, &t, "aktiv@kunde.example").await;
    grant_newsletter(&app, &t, &renewed).await;
    grant_newsletter(&app, &t, &active).await;
    assert_eq!(
        confirm(&app, &link_to(&smtp, "aktiv@kunde.example")).await,
        200
    );

    // Five days later: a second grant for the first person (a new link), and a renewal
    // for the second person, whose consent is given; neither is confirmed yet.
    clock.advance(hours(5 * 24));
    grant_newsletter(&app, &t, &renewed).await;
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{active}/consents"),
            Some(&t),
            Some(json!({"purpose": "newsletter", "channel": "email", "action": "grant", "wording_version": "newsletter-en-1", "evidence": "Messeformular 18"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    // The first links lapse; the second grant is still pending, the given consent stays.
    clock.advance(hours(3 * 24));
    assert_eq!(app.store.lapse_unconfirmed_doi().unwrap(), 0);
    assert!(expiries(&app, &renewed).is_empty());
    assert!(expiries(&app, &active).is_empty());
    assert_eq!(
        decision(&app, &t, &renewed).await["reason_code"],
        "consent_pending"
    );
    assert_eq!(decision(&app, &t, &active).await["allowed"], true);
    assert_eq!(
        confirm(&app, &link_to(&smtp, "erneut@kunde.example")).await,
        200
    );
    assert_eq!(decision(&app, &t, &renewed).await["allowed"], true);

    // The renewal's own link lapses later without ending the consent given before it.
    clock.advance(hours(7 * 24));
    assert_eq!(app.store.lapse_unconfirmed_doi().unwrap(), 0);
    assert!(expiries(&app, &active).is_empty());
    assert_eq!(decision(&app, &t, &active).await["allowed"], true);
}
