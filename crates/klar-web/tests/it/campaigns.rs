//! Campaigns end to end against a real SMTP server on loopback: the segment, the preview
//! through the gate, the processor contract, the outbox that sends each pair once, the
//! RFC 8058 headers and one-click unsubscribe, consented tracking, retries.

use crate::app::TestApp;
use crate::support::smtp::{Received, SmtpSink};
use klar_domain::ids::PersonId;
use klar_domain::policy::{Channel, ConsentEvent, ConsentEventKind, ConsentSource};
use klar_domain::role::Role;
use klar_store::Actor;
use serde_json::{Value, json};
use std::time::Duration;

pub struct Setup {
    pub app: TestApp,
    pub smtp: SmtpSink,
    pub sales: String,
    pub marketing: String,
    pub officer: String,
}

pub async fn setup() -> Setup {
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let sales = app.sales_token();
    let marketing = app.user_with_role("marketing@staff.example", Role::Marketing);
    let officer = app.user_with_role("dpo@staff.example", Role::PrivacyOfficer);
    Setup {
        app,
        smtp,
        sales,
        marketing,
        officer,
    }
}

impl Setup {
    pub async fn sender(&self) {
        let r = self
            .app
            .call(
                "PUT",
                "/api/v1/settings/installation",
                Some(&self.officer),
                Some(json!({
                    "controller": {"name": "Muster Maschinenbau GmbH", "address": "Hafenstraße 1\n20457 Hamburg",
                                   "email": "info@muster.example", "phone": "+49 40 123456"},
                    "dpo": {"name": "Dr. Jana Schutz", "email": "datenschutz@muster.example"},
                    "imprint": "Amtsgericht Hamburg HRB 12345\nGeschäftsführer: Max Muster",
                    "measures_text": ""
                })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    pub async fn mail_processor(&self, purposes: &[&str]) -> String {
        let r = self
            .app
            .call(
                "POST",
                "/api/v1/processors",
                Some(&self.officer),
                Some(json!({"name": "Versand GmbH", "role": "processor", "contract_signed_at": "2026-01-15",
                       "purposes": purposes, "data_categories": ["contact"], "country": "DE",
                       "services": ["email_delivery"]})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    pub async fn person(&self, last: &str, email: &str, tags: &[&str]) -> PersonId {
        let p = self
            .app
            .create_person(
                &self.sales,
                json!({"first_name": "Kim", "last_name": last, "email": email, "kind": "consumer", "tags": tags}),
            )
            .await;
        p["id"].as_str().unwrap().parse().unwrap()
    }

    /// A confirmed email consent, as the double opt-in leaves it (grant, then the click).
    pub fn consent(&self, pid: PersonId, purpose: &str) {
        let wording = format!("{purpose}-de-1");
        for kind in [ConsentEventKind::Grant, ConsentEventKind::Confirm] {
            let e = ConsentEvent {
                at: self.app.store.now(),
                purpose: purpose.into(),
                channel: Channel::Email,
                kind,
                source: ConsentSource::Person,
                wording_version: wording.clone(),
                evidence: Some("web form; ip=192.0.2.0/24".into()),
            };
            self.app
                .store
                .append_consent_event(Actor::system(), pid, 1, &e)
                .unwrap();
        }
    }

    pub async fn campaign(&self, segment: Value) -> String {
        let r = self
            .app
            .call(
                "POST",
                "/api/v1/campaigns",
                Some(&self.marketing),
                Some(json!({
                    "name": "Messe-Nachfass", "purpose": "newsletter", "channel": "email",
                    "subject": "Hallo {{first_name}}, danke für Ihren Besuch",
                    "body": "Liebe(r) {{full_name}},\n\ndie Neuheiten finden Sie unter https://muster.example/messe.\n\nViele Grüße",
                    "segment": segment
                })),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    pub async fn send(&self, id: &str) -> crate::app::Resp {
        self.app
            .call(
                "POST",
                &format!("/api/v1/campaigns/{id}/send"),
                Some(&self.marketing),
                None,
            )
            .await
    }

    /// Waits until nothing of the campaign is queued or in flight; returns the report.
    pub async fn finished(&self, id: &str) -> Value {
        for _ in 0..200 {
            let r = self
                .app
                .call(
                    "GET",
                    &format!("/api/v1/campaigns/{id}/report"),
                    Some(&self.marketing),
                    None,
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            if r.body["queued"] == 0 && r.body["sending"] == 0 {
                return r.body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the campaign did not finish");
    }

    pub async fn decision(&self, pid: PersonId, purpose: &str) -> Value {
        self.app
            .call(
                "GET",
                &format!("/api/v1/persons/{pid}/decision?purpose={purpose}&channel=email"),
                Some(&self.sales),
                None,
            )
            .await
            .body
    }
}

/// The URL in `<…>` of the `List-Unsubscribe` header that starts with `http`.
pub fn unsubscribe_url(m: &Received) -> String {
    let h = m.header("List-Unsubscribe").expect("List-Unsubscribe");
    h.split(',')
        .map(|s| s.trim().trim_matches(['<', '>']).to_string())
        .find(|s| s.starts_with("http"))
        .expect("an http link")
}

/// The first link in the decoded mail that starts with `prefix`.
pub fn link(m: &Received, prefix: &str) -> String {
    let text = m.decoded();
    let at = text.find(prefix).expect("the link");
    text[at..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_segment_yields_exactly_the_lawful_mails_once() {
    let s = setup().await;
    let allowed = s
        .person("Erlaubt", "erlaubt@kunde.example", &["messe"])
        .await;
    let without = s.person("Ohne", "ohne@kunde.example", &["messe"]).await;
    let objected = s
        .person("Widerspruch", "widerspruch@kunde.example", &["messe"])
        .await;
    let restricted = s
        .person("Eingeschraenkt", "eingeschraenkt@kunde.example", &["messe"])
        .await;
    let elsewhere = s
        .person("Anderswo", "anderswo@kunde.example", &["webinar"])
        .await;
    for p in [allowed, objected, restricted, elsewhere] {
        s.consent(p, "newsletter");
    }
    let r = s
        .app
        .call(
            "POST",
            &format!("/api/v1/persons/{objected}/objections"),
            Some(&s.sales),
            Some(json!({"scope": "direct_marketing"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .app
        .call(
            "POST",
            &format!("/api/v1/persons/{restricted}/restriction"),
            Some(&s.officer),
            Some(json!({"reason": "Richtigkeit bestritten"})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);

    let id = s.campaign(json!({"tag": "messe"})).await;
    let count = s
        .app
        .call(
            "GET",
            "/api/v1/segments/count?tag=messe",
            Some(&s.marketing),
            None,
        )
        .await;
    assert_eq!(count.body["count"], 4);

    // Preview: who is excluded and why; the send is blocked without a contract.
    let pv = s
        .app
        .call(
            "POST",
            &format!("/api/v1/campaigns/{id}/preview"),
            Some(&s.marketing),
            None,
        )
        .await;
    assert_eq!(pv.status, 200, "{}", pv.body);
    assert_eq!(pv.body["segment_size"], 4);
    assert_eq!(pv.body["eligible"], 1);
    assert_eq!(
        pv.body["excluded"],
        json!({"no_consent": 1, "objection": 1, "restricted": 1})
    );
    assert_eq!(pv.body["blocked"]["reason_code"], "content_missing_sender");
    assert!(
        pv.body["sample"]["subject"]
            .as_str()
            .unwrap()
            .contains("Erika")
    );
    s.sender().await;
    let r = s.send(&id).await;
    assert_eq!(
        (r.status, r.body["reason_code"].as_str()),
        (403, Some("no_contract_on_file")),
        "{}",
        r.body
    );
    // A contract for another purpose does not cover this one.
    s.mail_processor(&["contract"]).await;
    let r = s.send(&id).await;
    assert_eq!(r.body["reason_code"], "no_contract_on_file", "{}", r.body);
    assert!(s.smtp.all().is_empty(), "nothing left before the contract");
    let processor = s.mail_processor(&["newsletter"]).await;

    let r = s.send(&id).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let report = s.finished(&id).await;
    assert_eq!(report["sent"], 1, "{report}");
    assert_eq!(
        report["refused"],
        json!({"no_consent": 1, "objection": 1, "restricted": 1})
    );
    let mails = s.smtp.all();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["erlaubt@kunde.example"]);

    // Sending again sends nothing new.
    let r = s.send(&id).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let report = s.finished(&id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(report["sent"], 1);
    assert_eq!(s.smtp.all().len(), 1, "a pair is sent at most once");

    // The mail: RFC 8058 headers, the footer the law requires, no tracking without consent.
    let m = &mails[0];
    assert_eq!(
        m.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let lu = m.header("List-Unsubscribe").unwrap();
    assert!(
        lu.contains("/u/") && lu.contains("<mailto:info@muster.example"),
        "{lu}"
    );
    let text = m.decoded();
    for needle in [
        "Liebe(r) Kim Erlaubt",
        "Muster Maschinenbau GmbH",
        "20457 Hamburg",
        "HRB 12345",
        "Art. 21 Abs. 2 DSGVO",
        "/p/",
        "https://muster.example/messe",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
    assert!(!text.contains("/t/"), "no tracking without consent");

    // The disclosure to the mail provider is logged for Art. 15 and 19.
    let d = s.app.store.disclosures_of(allowed).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].processor_id, processor);
    assert!(s.app.store.disclosures_of(without).unwrap().is_empty());

    // One click (as the mail client posts it) withdraws at once; a second does nothing.
    let url = unsubscribe_url(m);
    let one_click = || {
        s.app
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
    };
    assert_eq!(one_click().await.unwrap().status(), 200);
    assert_eq!(
        s.decision(allowed, "newsletter").await["reason_code"],
        "consent_withdrawn"
    );
    let events = s.app.store.consent_events(allowed).unwrap();
    assert_eq!(events.last().unwrap().source, ConsentSource::OneClick);
    assert_eq!(one_click().await.unwrap().status(), 200);
    assert_eq!(
        s.app.store.consent_events(allowed).unwrap().len(),
        events.len()
    );
    let report = s.finished(&id).await;
    assert_eq!(report["unsubscribed"], 1);
    // Opening the link (a mail scanner) changes nothing; it shows a button.
    let page = s.app.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("method=\"post\""));

    // The operator sees the outbox in the metrics.
    let admin = s.app.user_with_role("admin@staff.example", Role::Admin);
    let metrics = s
        .app
        .http
        .get(format!("{}/metrics", s.app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("klar_outbox_mails{status=\"sent\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("klar_outbox_mails{status=\"refused\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_gate_is_asked_again_when_the_outbox_sends() {
    let s = setup().await;
    s.sender().await;
    s.mail_processor(&["newsletter"]).await;
    let stays = s.person("Bleibt", "bleibt@kunde.example", &["a"]).await;
    let leaves = s.person("Geht", "geht@kunde.example", &["a"]).await;
    s.consent(stays, "newsletter");
    s.consent(leaves, "newsletter");
    let id = s.campaign(json!({"tag": "a"})).await;
    let pv = s
        .app
        .call(
            "POST",
            &format!("/api/v1/campaigns/{id}/preview"),
            Some(&s.marketing),
            None,
        )
        .await;
    assert_eq!(pv.body["eligible"], 2);
    // Both were queued while allowed; then one withdraws before the outbox reaches her.
    s.app
        .store
        .append_consent_event(
            Actor::system(),
            leaves,
            1,
            &ConsentEvent {
                at: s.app.store.now(),
                purpose: "newsletter".into(),
                channel: Channel::Email,
                kind: ConsentEventKind::Withdraw,
                source: ConsentSource::Person,
                wording_version: "newsletter-de-1".into(),
                evidence: None,
            },
        )
        .unwrap();
    s.app
        .store
        .enqueue_campaign(Actor::system(), &id, &[stays, leaves], &[])
        .unwrap();
    let report = s.finished(&id).await;
    assert_eq!(report["sent"], 1, "{report}");
    assert_eq!(report["refused"], json!({"consent_withdrawn": 1}));
    assert_eq!(s.smtp.all().len(), 1);
    assert_eq!(s.smtp.all()[0].to, vec!["bleibt@kunde.example"]);
    // Each send-time decision is in the audit trail.
    let audit = s
        .app
        .call(
            "GET",
            &format!("/api/v1/audit?person_id={leaves}"),
            Some(&s.officer),
            None,
        )
        .await;
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "decision" && e["outcome"] == "consent_withdrawn"),
        "{}",
        audit.body
    );
}

#[tokio::test]
async fn temporary_failures_are_retried_and_permanent_ones_marked() {
    let s = setup().await;
    s.sender().await;
    s.mail_processor(&["newsletter"]).await;
    let later = s.person("Spaeter", "spaeter@kunde.example", &["b"]).await;
    let never = s.person("Nie", "nie@kunde.example", &["b"]).await;
    s.consent(later, "newsletter");
    s.consent(never, "newsletter");
    s.smtp.fail_rcpt("spaeter@kunde.example", 451, 1);
    s.smtp.fail_rcpt("nie@kunde.example", 550, 100);
    let id = s.campaign(json!({"tag": "b"})).await;
    assert_eq!(s.send(&id).await.status, 202);
    let report = s.finished(&id).await;
    assert_eq!(report["sent"], 1, "{report}");
    assert_eq!(report["failed"], 1, "{report}");
    assert_eq!(s.smtp.to("spaeter@kunde.example").len(), 1);
    assert!(s.smtp.to("nie@kunde.example").is_empty());
}

#[tokio::test]
async fn tracking_is_added_only_for_persons_who_consented_to_it() {
    let s = setup().await;
    s.sender().await;
    s.mail_processor(&["newsletter"]).await;
    let tracked = s.person("Gemessen", "gemessen@kunde.example", &["c"]).await;
    let plain = s.person("Schlicht", "schlicht@kunde.example", &["c"]).await;
    s.consent(tracked, "newsletter");
    s.consent(tracked, "email_tracking");
    s.consent(plain, "newsletter");
    let id = s.campaign(json!({"tag": "c"})).await;
    assert_eq!(s.send(&id).await.status, 202);
    let report = s.finished(&id).await;
    assert_eq!(
        (report["sent"].as_i64(), report["tracked"].as_i64()),
        (Some(2), Some(1))
    );

    let plain_mail = s.smtp.to("schlicht@kunde.example").pop().unwrap();
    let text = plain_mail.decoded();
    assert!(!text.contains("/t/"), "no pixel, no redirect: {text}");
    assert!(
        text.contains("href=\"https://muster.example/messe\""),
        "{text}"
    );
    assert!(!text.contains("<img"), "no remote images");

    let tracked_mail = s.smtp.to("gemessen@kunde.example").pop().unwrap();
    let pixel = link(&tracked_mail, &format!("{}/t/", s.app.base));
    assert!(
        pixel.ends_with("/o.gif") || pixel.contains("/c/"),
        "{pixel}"
    );
    let text = tracked_mail.decoded();
    let base = text
        .split(&format!("{}/t/", s.app.base))
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let t = format!("{}/t/{base}", s.app.base);
    let r = s.app.http.get(format!("{t}/o.gif")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/gif");
    let r = s.app.http.get(format!("{t}/c/0")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "https://muster.example/messe");
    // A forged tracking link records nothing and leads nowhere.
    let r = s
        .app
        .http
        .get(format!("{}/t/forged/c/0", s.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let report = s.finished(&id).await;
    assert_eq!(
        (report["opened"].as_i64(), report["clicked"].as_i64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn bad_campaigns_and_links_are_refused_clearly_and_change_nothing() {
    let s = setup().await;
    let base = json!({"name": "X", "purpose": "newsletter", "subject": "Hallo", "body": "Text", "segment": {"tag": "x"}});
    let post = |body: Value, token: String| {
        let app = &s.app;
        async move {
            app.call("POST", "/api/v1/campaigns", Some(&token), Some(body))
                .await
        }
    };
    for (patch, field) in [
        (json!({"body": "Hallo {{vorname}}"}), "body"),
        (json!({"subject": "<script>alert(1)</script>"}), "subject"),
        (json!({"segment": {}}), "segment"),
        (json!({"segment": {"farbe": "rot"}}), "segment"),
        (json!({"purpose": "contract"}), "purpose"),
        (json!({"channel": "phone"}), "channel"),
    ] {
        let mut b = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = post(b, s.marketing.clone()).await;
        assert_eq!(r.status, 422, "{patch}: {}", r.body);
        assert!(
            r.problem(422).iter().any(|f| f.starts_with(field)),
            "{patch}: {}",
            r.body
        );
    }
    let r = post(base.clone(), s.sales.clone()).await;
    assert_eq!(r.status, 403, "only marketing builds campaigns");
    let list = s
        .app
        .call("GET", "/api/v1/campaigns", Some(&s.marketing), None)
        .await;
    assert_eq!(list.body, json!([]), "nothing was created");

    // A campaign whose segment holds nobody is not sent.
    s.sender().await;
    s.mail_processor(&["newsletter"]).await;
    let id = s.campaign(json!({"tag": "niemand"})).await;
    let r = s.send(&id).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = s
        .app
        .call(
            "POST",
            "/api/v1/campaigns/0000/send",
            Some(&s.marketing),
            None,
        )
        .await;
    assert_eq!(r.status, 404);

    // Forged links reveal nothing.
    for path in ["/u/forged", "/p/forged"] {
        let r = s
            .app
            .http
            .get(format!("{}{path}", s.app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = s
        .app
        .http
        .post(format!("{}/u/forged", s.app.base))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_preference_page_switches_purposes_with_double_opt_in_and_objects_in_one_click() {
    let s = setup().await;
    let pid = s.person("Selbst", "selbst@kunde.example", &[]).await;
    // The person asks for a link on the public page; the answer is the same for unknown addresses.
    let ask = |email: &'static str| {
        s.app
            .http
            .post(format!("{}/privacy/preferences", s.app.base))
            .form(&[("email", email)])
            .send()
    };
    let unknown = ask("fremd@nirgends.example").await.unwrap();
    let unknown = (unknown.status(), unknown.text().await.unwrap());
    let known = ask("selbst@kunde.example").await.unwrap();
    assert_eq!((known.status(), known.text().await.unwrap()), unknown);
    let mut mails = Vec::new();
    for _ in 0..100 {
        mails = s.smtp.to("selbst@kunde.example");
        if !mails.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mails.len(), 1);
    assert!(s.smtp.to("fremd@nirgends.example").is_empty());
    let url = link(&mails[0], &format!("{}/p/", s.app.base));

    // Everything optional is off until he switches it on.
    let page = s
        .app
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-purpose=\"newsletter\""), "{page}");
    assert!(!page.contains("state-on"), "everything starts off");

    let post =
        |fields: Vec<(&'static str, &'static str)>| s.app.http.post(&url).form(&fields).send();
    let r = post(vec![
        ("action", "on"),
        ("purpose", "newsletter"),
        ("channel", "email"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("state-pending"));
    assert_eq!(
        s.decision(pid, "newsletter").await["reason_code"],
        "consent_pending"
    );
    let doi = s.smtp.to("selbst@kunde.example");
    assert_eq!(doi.len(), 2, "a double opt-in mail");
    let ev = s.app.store.consent_events(pid).unwrap();
    assert_eq!(ev[0].source, ConsentSource::PreferenceCenter);
    let confirm = link(&doi[1], &format!("{}/consent/confirm?token=", s.app.base));
    let token = confirm.split("token=").nth(1).unwrap().to_string();
    let r = s
        .app
        .http
        .post(format!("{}/consent/confirm", s.app.base))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.decision(pid, "newsletter").await["allowed"], true);

    // Switching off is a withdrawal with source preference_center.
    post(vec![
        ("action", "off"),
        ("purpose", "newsletter"),
        ("channel", "email"),
    ])
    .await
    .unwrap();
    assert_eq!(
        s.decision(pid, "newsletter").await["reason_code"],
        "consent_withdrawn"
    );
    let ev = s.app.store.consent_events(pid).unwrap();
    assert_eq!(ev.last().unwrap().source, ConsentSource::PreferenceCenter);
    assert_eq!(ev.last().unwrap().kind, ConsentEventKind::Withdraw);

    // One click objects to all direct marketing.
    let r = post(vec![("action", "object")]).await.unwrap();
    assert!(r.text().await.unwrap().contains("role=\"status\""));
    let obj = s.app.store.objections(pid).unwrap();
    assert_eq!(obj.len(), 1);
    assert_eq!(
        (obj[0].scope.as_str(), obj[0].source.as_str()),
        ("direct_marketing", "preference_center")
    );

    // A forged link changes nothing.
    let r = s
        .app
        .http
        .post(format!("{}/p/forged", s.app.base))
        .form(&[("action", "object")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_marketer_builds_a_segment_previews_the_exclusions_and_sends_in_the_ui() {
    let s = setup().await;
    s.sender().await;
    s.mail_processor(&["newsletter"]).await;
    let yes = s.person("Ja", "ja@kunde.example", &["messe"]).await;
    s.person("Nein", "nein@kunde.example", &["messe"]).await;
    s.consent(yes, "newsletter");
    let b = crate::app::Browser::login(&s.app, "marketing@staff.example", "de").await;
    let list = b.get("/campaigns").await;
    assert_eq!(list.status, 200);
    assert!(list.html.contains("href=\"/campaigns/new\""));

    // The live count of the segment being built.
    let count = b.get("/campaigns/segment-count?tag=messe").await;
    assert!(count.html.contains("<strong>2</strong>"), "{}", count.html);

    // A template with an unknown placeholder is refused at its field, in German.
    let bad = b
        .post(
            "/campaigns/new",
            &[
                ("name", "Messe"),
                ("purpose", "newsletter"),
                ("locale", "de"),
                ("tag", "messe"),
                ("subject", "Hallo"),
                ("body", "Hallo {{vorname}}"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("unbekannten Platzhalter"), "{}", bad.html);

    let created = b
        .post(
            "/campaigns/new",
            &[
                ("name", "Messe"),
                ("purpose", "newsletter"),
                ("locale", "de"),
                ("tag", "messe"),
                ("subject", "Hallo {{first_name}}"),
                ("body", "Guten Tag {{full_name}}"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.html);
    // The draft can be changed before it is sent.
    let edit = b.get(&format!("{}/edit", created.location)).await;
    assert_eq!(edit.status, 200);
    assert!(
        edit.html.contains("value=\"Hallo {{first_name}}\""),
        "{}",
        edit.html
    );
    let saved = b
        .post(
            &format!("{}/edit", created.location),
            &[
                ("name", "Messe 2027"),
                ("purpose", "newsletter"),
                ("locale", "de"),
                ("tag", "messe"),
                ("subject", "Guten Tag {{first_name}}"),
                ("body", "Guten Tag {{full_name}}"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let page = b.get(&created.location).await;
    assert!(page.html.contains("Messe 2027"), "{}", page.html);
    assert!(
        page.html.contains("<strong id=\"eligible\">1</strong>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("data-reason=\"no_consent\""),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("Erika Mustermann"),
        "the sample uses a fictional person"
    );

    let sent = b.post(&format!("{}/send", created.location), &[]).await;
    assert_eq!(sent.status, 303, "{}", sent.html);
    let id = created
        .location
        .trim_start_matches("/campaigns/")
        .to_string();
    s.finished(&id).await;
    let page = b.get(&created.location).await;
    assert!(
        page.html.contains("<dd id=\"report-sent\">1</dd>"),
        "{}",
        page.html
    );
    // A sent campaign is not edited any more.
    let late = b.get(&format!("{}/edit", created.location)).await;
    assert!(late.html.contains("role=\"alert\""), "{}", late.html);
    assert!(
        !late.html.contains("name=\"subject\""),
        "no form: {}",
        late.html
    );
    assert_eq!(s.smtp.to("ja@kunde.example").len(), 1);
    assert!(s.smtp.to("nein@kunde.example").is_empty());

    // Other roles do not reach the campaign pages.
    s.app.user_with_role("sales2@staff.example", Role::Sales);
    let sales = crate::app::Browser::login(&s.app, "sales2@staff.example", "de").await;
    assert_eq!(sales.get("/campaigns").await.status, 403);
}

#[tokio::test]
async fn placeholders_are_filled_from_each_recipients_record() {
    let s = setup().await;
    s.sender().await;
    s.mail_processor(&["newsletter"]).await;
    let org = s
        .app
        .call(
            "POST",
            "/api/v1/organizations",
            Some(&s.sales),
            Some(json!({"name": "Hafenkontor KG"})),
        )
        .await;
    assert_eq!(org.status, 201, "{}", org.body);
    let p = s
        .app
        .create_person(
            &s.sales,
            json!({"first_name": "Jörg", "last_name": "Brenner", "email": "brenner@hafen.example",
                   "kind": "business", "organization_id": org.body["id"], "tags": ["d"]}),
        )
        .await;
    let pid: PersonId = p["id"].as_str().unwrap().parse().unwrap();
    s.consent(pid, "newsletter");
    let r = s
        .app
        .call(
            "POST",
            "/api/v1/campaigns",
            Some(&s.marketing),
            Some(json!({"name": "Platzhalter", "purpose": "newsletter",
                   "subject": "{{first_name}}, Neues für {{organization}}",
                   "body": "Guten Tag {{full_name}} ({{last_name}}) von {{organization}}",
                   "segment": {"tag": "d"}})),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(s.send(&id).await.status, 202);
    s.finished(&id).await;
    let m = s.smtp.to("brenner@hafen.example").pop().unwrap();
    let text = m.decoded();
    assert!(
        text.contains("Guten Tag Jörg Brenner (Brenner) von Hafenkontor KG"),
        "{text}"
    );
    let subject = m.header("Subject").unwrap();
    assert!(
        subject.contains("Hafenkontor") || subject.starts_with("=?utf-8?"),
        "{subject}"
    );
}
