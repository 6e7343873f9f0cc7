//! The UI in a real headless Chromium: log in, create a person through the form, find her.

use crate::app::TestApp;
use crate::support::webdriver::Browser;
use klar_domain::role::Role;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// Logs in through the login form and waits until the browser has left it.
async fn log_in(b: &Browser, app: &TestApp, email: &str) {
    b.goto(&format!("{}/login", app.base)).await.unwrap();
    let field = b.wait_for("#email", None, WAIT).await.unwrap();
    b.type_into(&field, email).await.unwrap();
    let pw = b.find("#password").await.unwrap();
    b.type_into(&pw, "Correct-Horse-Battery-9").await.unwrap();
    b.click(&b.find("button[type=submit]").await.unwrap())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while b.current_url().await.unwrap().ends_with("/login") {
        assert!(
            std::time::Instant::now() < deadline,
            "login did not leave the login page"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_sales_user_logs_in_creates_a_person_and_finds_her_by_search() {
    let Some(b) = Browser::start().await.unwrap() else {
        eprintln!("skipped: no chromedriver (set KLAR_REQUIRE_BROWSER=1 to make this a failure)");
        return;
    };
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let t = Duration::from_secs(10);

    log_in(&b, &app, "sales@staff.example").await;
    b.goto(&format!("{}/persons", app.base)).await.unwrap();
    b.wait_for("form.logout", None, t).await.unwrap();

    b.goto(&format!("{}/persons/new", app.base)).await.unwrap();
    let first = b.wait_for("#first_name", None, t).await.unwrap();
    b.type_into(&first, "Henriette").await.unwrap();
    b.type_into(&b.find("#last_name").await.unwrap(), "Quandt-Özgür")
        .await
        .unwrap();
    b.type_into(&b.find("#email").await.unwrap(), "not-an-address")
        .await
        .unwrap();
    b.click(&b.find("form.grid button[type=submit]").await.unwrap())
        .await
        .unwrap();
    // Inline validation: the form comes back with the email field marked.
    b.wait_for("#email-error", None, t).await.unwrap();
    let email = b.find("#email").await.unwrap();
    b.clear(&email).await.unwrap();
    b.type_into(&email, "henriette@kunde.example")
        .await
        .unwrap();
    b.click(&b.find("form.grid button[type=submit]").await.unwrap())
        .await
        .unwrap();
    b.wait_for("h1", Some("Henriette Quandt-Özgür"), t)
        .await
        .unwrap();

    b.goto(&format!("{}/persons", app.base)).await.unwrap();
    let q = b.wait_for("#q", None, t).await.unwrap();
    b.type_into(&q, "quan").await.unwrap();
    // Search-as-you-type replaces the rows without a page load; an answer to an earlier
    // keystroke may still replace them after the row appeared, so a stale row is looked up again.
    let mut clicked = Err(String::new());
    for _ in 0..5 {
        let row = b
            .wait_for("#person-rows a", Some("Henriette Quandt-Özgür"), t)
            .await
            .unwrap();
        clicked = b.click(&row).await;
        match &clicked {
            Err(e) if e.contains("stale") => continue,
            _ => break,
        }
    }
    clicked.unwrap();
    b.wait_for("dd", Some("henriette@kunde.example"), t)
        .await
        .unwrap();
    b.quit().await.unwrap();
}

/// The inputs of a stage's row sit in the table cells and belong to the row's form by
/// their `form` attribute: a real browser sends them along, without any script.
#[tokio::test]
async fn an_admin_renames_a_stage_in_its_table_row_and_adds_one() {
    let Some(b) = Browser::start().await.unwrap() else {
        eprintln!("skipped: no chromedriver (set KLAR_REQUIRE_BROWSER=1 to make this a failure)");
        return;
    };
    let app = TestApp::spawn().await;
    app.user_with_role("admin@staff.example", Role::Admin);
    log_in(&b, &app, "admin@staff.example").await;

    b.goto(&format!("{}/settings", app.base)).await.unwrap();
    let link = b
        .wait_for("a[href='/settings/pipeline']", None, WAIT)
        .await
        .unwrap();
    b.click(&link).await.unwrap();
    let name = b.wait_for("#name_en-proposal", None, WAIT).await.unwrap();
    b.clear(&name).await.unwrap();
    b.type_into(&name, "Quote").await.unwrap();
    let position = b.find("#position-proposal").await.unwrap();
    b.clear(&position).await.unwrap();
    b.type_into(&position, "9").await.unwrap();
    b.click(&b.find("#stage-proposal button").await.unwrap())
        .await
        .unwrap();
    b.wait_for("p.notice", None, WAIT).await.unwrap();
    let last = app.store.stages("default").unwrap().pop().unwrap();
    assert_eq!(
        (last.key.as_str(), last.name_en.as_str(), last.position),
        ("proposal", "Quote", 9)
    );

    let key = b.wait_for("#new-key", None, WAIT).await.unwrap();
    b.type_into(&key, "demo").await.unwrap();
    b.type_into(&b.find("#new-name_de").await.unwrap(), "Vorführung")
        .await
        .unwrap();
    b.type_into(&b.find("#new-name_en").await.unwrap(), "Demo")
        .await
        .unwrap();
    b.click(&b.find("form.grid button[type=submit]").await.unwrap())
        .await
        .unwrap();
    b.wait_for("#stage-row-demo", None, WAIT).await.unwrap();
    let stages = app.store.stages("default").unwrap();
    assert_eq!(
        stages.last().unwrap().key,
        "demo",
        "placed after the last stage"
    );
    b.quit().await.unwrap();
}

/// The gate's answer for the newsletter by email, through the API.
async fn newsletter_decision(app: &TestApp, token: &str, id: &str) -> serde_json::Value {
    app.call(
        "GET",
        &format!("/api/v1/persons/{id}/decision?purpose=newsletter&channel=email"),
        Some(token),
        None,
    )
    .await
    .body
}

/// Waits for `css` and returns its text, which must be one of the German or English wording
/// (the browser picks the page language from its own settings).
async fn text_in_either_language(b: &Browser, css: &str, de: &str, en: &str) -> String {
    let el = b.wait_for(css, None, WAIT).await.unwrap();
    let text = b.text(&el).await.unwrap();
    assert!(
        text.contains(de) || text.contains(en),
        "{css}: {text:?} is neither {de:?} nor {en:?}"
    );
    text
}

/// The double opt-in as the person experiences it: the link from the mail opens a page with
/// a button; loading it confirms nothing, pressing the button does, and only once.
#[tokio::test]
async fn the_person_confirms_an_email_consent_by_the_button_on_the_linked_page_once() {
    let Some(b) = Browser::start().await.unwrap() else {
        eprintln!("skipped: no chromedriver (set KLAR_REQUIRE_BROWSER=1 to make this a failure)");
        return;
    };
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let t = app.sales_token();
    let p = app
        .create_person(
            &t,
            serde_json::json!({"last_name": "Klickt", "email": "klickt@kunde.example"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    let r = app
        .call(
            "POST",
            &format!("/api/v1/persons/{id}/consents"),
            Some(&t),
            Some(serde_json::json!({"purpose": "newsletter", "channel": "email", "action": "grant", "wording_version": "newsletter-de-1", "evidence": "Messeformular 17"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["state"].as_str()),
        (201, Some("pending")),
        "{}",
        r.body
    );

    let mails = smtp.all();
    assert_eq!(mails.len(), 1);
    let link = mails[0]
        .data
        .replace("=\r\n", "")
        .replace("=3D", "=")
        .split_whitespace()
        .find(|w| w.contains("/consent/confirm?token="))
        .expect("a confirmation link in the mail")
        .to_string();

    b.goto(&link).await.unwrap();
    let button = b
        .wait_for(
            "form[action='/consent/confirm'] button[type=submit]",
            None,
            WAIT,
        )
        .await
        .unwrap();
    let label = b.text(&button).await.unwrap();
    assert!(
        label.contains("Ja, ich bestätige") || label.contains("Yes, I confirm"),
        "{label:?}"
    );
    // A browser (or a mail scanner) loading the page confirms nothing.
    assert_eq!(
        newsletter_decision(&app, &t, id).await["reason_code"],
        "consent_pending"
    );

    b.click(&button).await.unwrap();
    text_in_either_language(
        &b,
        "p[role=status]",
        "Ihre Einwilligung ist bestätigt",
        "Your consent is confirmed",
    )
    .await;
    let d = newsletter_decision(&app, &t, id).await;
    assert_eq!(
        (d["allowed"].as_bool(), d["legal_basis"].as_str()),
        (Some(true), Some("consent")),
        "{d}"
    );

    // The link is used up: opening it again shows a refusal and no button.
    b.goto(&link).await.unwrap();
    text_in_either_language(&b, "p[role=status]", "bereits verwendet", "already used").await;
    assert!(
        b.find("form[action='/consent/confirm'] button")
            .await
            .is_err(),
        "a used link offers no button"
    );
    let events = app.store.consent_events(id.parse().unwrap()).unwrap();
    assert_eq!(events.len(), 2, "grant and one confirmation: {events:?}");
    b.quit().await.unwrap();
}

/// The public request page as a person uses it: choose the right, give the address, get the
/// neutral answer; the link from the mail opens a page whose button confirms the request.
#[tokio::test]
async fn a_person_asks_for_access_on_the_public_page_and_confirms_by_the_mailed_link() {
    let Some(b) = Browser::start().await.unwrap() else {
        eprintln!("skipped: no chromedriver (set KLAR_REQUIRE_BROWSER=1 to make this a failure)");
        return;
    };
    let (app, smtp) = TestApp::spawn_with_smtp().await;
    let po = app.user_with_role("dsb@staff.example", klar_domain::role::Role::PrivacyOfficer);
    let p = app
        .create_person(
            &po,
            serde_json::json!({"last_name": "Fragt", "email": "fragt@kunde.example"}),
        )
        .await;
    b.goto(&format!("{}/privacy/request?lang=de", app.base))
        .await
        .unwrap();
    b.click(&b.wait_for("#kind-portability", None, WAIT).await.unwrap())
        .await
        .unwrap();
    let email = b.find("#req-email").await.unwrap();
    b.type_into(&email, "fragt@kunde.example").await.unwrap();
    b.click(&b.find("form button[type=submit]").await.unwrap())
        .await
        .unwrap();
    text_in_either_language(
        &b,
        "p[role=status]",
        "Bestätigungslink",
        "confirmation link",
    )
    .await;

    let mut mails = smtp.all();
    for _ in 0..100 {
        if !mails.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        mails = smtp.all();
    }
    let link = mails[0]
        .data
        .replace("=\r\n", "")
        .replace("=3D", "=")
        .split_whitespace()
        .find(|w| w.contains("/privacy/request/confirm?token="))
        .expect("a confirmation link in the mail")
        .to_string();
    b.goto(&link).await.unwrap();
    let button = b
        .wait_for("form[action='/privacy/request/confirm'] button", None, WAIT)
        .await
        .unwrap();
    let list = app.call("GET", "/api/v1/dsr", Some(&po), None).await;
    assert_eq!(list.body["items"][0]["status"], "identity_pending");
    assert_eq!(list.body["items"][0]["kind"], "portability");
    assert_eq!(list.body["items"][0]["person_id"], p["id"]);
    b.click(&button).await.unwrap();
    text_in_either_language(
        &b,
        "p[role=status]",
        "Wir bearbeiten Ihre Anfrage",
        "We are working on your request",
    )
    .await;
    let list = app.call("GET", "/api/v1/dsr", Some(&po), None).await;
    assert_eq!(list.body["items"][0]["status"], "verified");
    b.quit().await.unwrap();
}

/// From a campaign mail to the preference page in a real browser: switching a purpose on
/// sends a double opt-in mail and stays pending until its button is pressed; the one-click
/// page unsubscribes by its button.
#[tokio::test]
async fn a_recipient_switches_a_purpose_on_by_double_opt_in_and_unsubscribes_in_the_browser() {
    let Some(b) = Browser::start().await.unwrap() else {
        eprintln!("skipped: no chromedriver (set KLAR_REQUIRE_BROWSER=1 to make this a failure)");
        return;
    };
    let s = crate::campaigns::setup().await;
    s.sender().await;
    s.mail_processor(&["newsletter"]).await;
    let pid = s.person("Browser", "browser@kunde.example", &["web"]).await;
    s.consent(pid, "newsletter");
    let id = s.campaign(serde_json::json!({"tag": "web"})).await;
    assert_eq!(s.send(&id).await.status, 202);
    s.finished(&id).await;
    let mail = s.smtp.to("browser@kunde.example").pop().unwrap();
    let prefs = crate::campaigns::link(&mail, &format!("{}/p/", s.app.base));

    b.goto(&prefs).await.unwrap();
    let row = "tr[data-purpose='email_tracking'][data-channel='email']";
    let button = b
        .wait_for(&format!("{row} button[type=submit]"), None, WAIT)
        .await
        .unwrap();
    assert!(
        b.find(&format!("{row} td.state-off")).await.is_ok(),
        "off by default"
    );
    b.click(&button).await.unwrap();
    b.wait_for(&format!("{row} td.state-pending"), None, WAIT)
        .await
        .unwrap();
    assert_eq!(
        s.decision(pid, "email_tracking").await["reason_code"],
        "consent_pending"
    );
    let doi = s.smtp.to("browser@kunde.example");
    assert_eq!(doi.len(), 2, "the campaign mail and the double opt-in mail");
    let confirm =
        crate::campaigns::link(&doi[1], &format!("{}/consent/confirm?token=", s.app.base));
    b.goto(&confirm).await.unwrap();
    let ok = b
        .wait_for(
            "form[action='/consent/confirm'] button[type=submit]",
            None,
            WAIT,
        )
        .await
        .unwrap();
    b.click(&ok).await.unwrap();
    b.wait_for("p[role=status]", None, WAIT).await.unwrap();
    assert_eq!(s.decision(pid, "email_tracking").await["allowed"], true);
    b.goto(&prefs).await.unwrap();
    b.wait_for(&format!("{row} td.state-on"), None, WAIT)
        .await
        .unwrap();

    // The unsubscribe link of the mail: a page with a button; the button withdraws.
    let unsub = crate::campaigns::unsubscribe_url(&mail);
    b.goto(&unsub).await.unwrap();
    let button = b
        .wait_for("form button[type=submit]", None, WAIT)
        .await
        .unwrap();
    assert_eq!(
        s.decision(pid, "newsletter").await["allowed"],
        true,
        "opening changes nothing"
    );
    b.click(&button).await.unwrap();
    text_in_either_language(
        &b,
        "p[role=status]",
        "keine solchen E-Mails",
        "no longer receive",
    )
    .await;
    assert_eq!(
        s.decision(pid, "newsletter").await["reason_code"],
        "consent_withdrawn"
    );
    b.quit().await.unwrap();
}
