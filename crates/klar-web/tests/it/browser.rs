//! The UI in a real headless Chromium: log in, create a person through the form, find her.

use crate::app::TestApp;
use crate::support::webdriver::Browser;
use klar_domain::role::Role;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// Waits until the browser's URL no longer ends with `path`.
async fn wait_to_leave(b: &Browser, path: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    while b.current_url().await.unwrap().ends_with(path) {
        assert!(
            std::time::Instant::now() < deadline,
            "the browser did not leave {path}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types email and password into the login form and submits it.
async fn submit_password(b: &Browser, app: &TestApp, email: &str) {
    b.goto(&format!("{}/login", app.base)).await.unwrap();
    let field = b.wait_for("#email", None, WAIT).await.unwrap();
    b.type_into(&field, email).await.unwrap();
    let pw = b.find("#password").await.unwrap();
    b.type_into(&pw, "Correct-Horse-Battery-9").await.unwrap();
    b.click(&b.find("button[type=submit]").await.unwrap())
        .await
        .unwrap();
    wait_to_leave(b, "/login").await;
}

/// Types a code into the code field of the page and submits its form.
async fn submit_code(b: &Browser, code: &str) {
    let field = b.wait_for("#code", None, WAIT).await.unwrap();
    b.clear(&field).await.unwrap();
    b.type_into(&field, code).await.unwrap();
    b.click(&b.find("form[method=post] button.primary").await.unwrap())
        .await
        .unwrap();
}

/// Enrols the authenticator on the enrolment page the browser is on, reading the key from
/// the page as a person types it into an app; returns the recovery codes shown.
async fn enrol_in_browser(b: &Browser, app: &TestApp, email: &str) -> Vec<String> {
    let secret_el = b.wait_for("#totp-secret", None, WAIT).await.unwrap();
    let b32 = b.text(&secret_el).await.unwrap();
    let secret = klar_crypto::totp::base32_decode(&b32).unwrap();
    let step = crate::app::step_now(app);
    submit_code(b, &klar_crypto::totp::code_string(&secret, step)).await;
    let list = b.wait_for("#recovery-codes", None, WAIT).await.unwrap();
    let recovery: Vec<String> = b
        .text(&list)
        .await
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    app.totp.lock().unwrap().insert(
        email.to_string(),
        crate::app::Authenticator {
            secret,
            last_step: step,
            recovery: recovery.clone(),
        },
    );
    b.click(&b.find("#recovery-done").await.unwrap())
        .await
        .unwrap();
    wait_to_leave(b, "/account/totp").await;
    recovery
}

/// Logs in through the login form and waits until the browser has left it; an account
/// whose role needs TOTP enrols on its first login and gives a code on later ones.
async fn log_in(b: &Browser, app: &TestApp, email: &str) {
    submit_password(b, app, email).await;
    let url = b.current_url().await.unwrap();
    if url.ends_with("/account/totp") {
        enrol_in_browser(b, app, email).await;
    } else if url.ends_with("/login/code") {
        submit_code(b, &crate::app::next_code(app, email)).await;
        wait_to_leave(b, "/login/code").await;
    }
}

/// Logs out with the header's button.
async fn log_out(b: &Browser) {
    b.click(&b.wait_for("form.logout button", None, WAIT).await.unwrap())
        .await
        .unwrap();
    b.wait_for("#email", None, WAIT).await.unwrap();
}

/// Issue 7 item 4 in a real browser: an administrator is sent from the password to the
/// enrolment page and can open nothing else; she enrols by typing the key shown on the page
/// into an authenticator (computed here), gets ten recovery codes, and from then on logs in
/// with a code: a wrong one is refused in plain words, the right one lets her in, a recovery
/// code works once.
#[tokio::test]
async fn an_admin_enrols_totp_in_the_browser_and_logs_in_with_codes_after_that() {
    let Some(b) = Browser::start().await.unwrap() else {
        eprintln!("skipped: no chromedriver (set KLAR_REQUIRE_BROWSER=1 to make this a failure)");
        return;
    };
    let app = TestApp::spawn().await;
    let email = "admin@staff.example";
    app.user_with_role(email, Role::Admin);

    submit_password(&b, &app, email).await;
    assert!(b.current_url().await.unwrap().ends_with("/account/totp"));
    b.wait_for("#totp-required", None, WAIT).await.unwrap();
    b.find("img.qr").await.expect("a QR code of the key");
    let uri = b.text(&b.find("#totp-uri").await.unwrap()).await.unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Klar:admin@staff.example?secret="),
        "{uri}"
    );
    // Before enrolling, every other page leads back here.
    b.goto(&format!("{}/admin/users", app.base)).await.unwrap();
    b.wait_for("#totp-secret", None, WAIT).await.unwrap();
    assert!(b.current_url().await.unwrap().ends_with("/account/totp"));
    // A wrong code does not switch it on.
    submit_code(&b, "000000").await;
    let secret = klar_crypto::totp::base32_decode(
        &b.text(&b.wait_for("#totp-secret", None, WAIT).await.unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    let now = crate::app::step_now(&app);
    if ((now - 1)..=(now + 1)).all(|s| klar_crypto::totp::code_string(&secret, s) != "000000") {
        b.wait_for("#totp-error", None, WAIT).await.unwrap();
    }
    let recovery = enrol_in_browser(&b, &app, email).await;
    assert_eq!(recovery.len(), 10);
    b.goto(&format!("{}/admin/users", app.base)).await.unwrap();
    b.wait_for("h1", None, WAIT).await.unwrap();
    assert!(b.current_url().await.unwrap().ends_with("/admin/users"));
    log_out(&b).await;

    // The second login asks for a code; a wrong one is refused, the right one lets her in.
    submit_password(&b, &app, email).await;
    assert!(b.current_url().await.unwrap().ends_with("/login/code"));
    let now = crate::app::step_now(&app);
    let wrong = (0..10)
        .map(|d| format!("{:06}", 123_456 + d))
        .find(|c| ((now - 1)..=(now + 1)).all(|s| klar_crypto::totp::code_string(&secret, s) != *c))
        .unwrap();
    submit_code(&b, &wrong).await;
    let error = b.wait_for("#code-error", None, WAIT).await.unwrap();
    let text = b.text(&error).await.unwrap();
    assert!(
        text.contains("Code ist falsch") || text.contains("code is wrong"),
        "{text}"
    );
    submit_code(&b, &crate::app::next_code(&app, email)).await;
    wait_to_leave(&b, "/login/code").await;
    b.goto(&format!("{}/admin/users", app.base)).await.unwrap();
    b.wait_for("form.logout", None, WAIT).await.unwrap();
    assert!(b.current_url().await.unwrap().ends_with("/admin/users"));
    log_out(&b).await;

    // A recovery code works once.
    submit_password(&b, &app, email).await;
    submit_code(&b, &recovery[0]).await;
    wait_to_leave(&b, "/login/code").await;
    log_out(&b).await;
    submit_password(&b, &app, email).await;
    submit_code(&b, &recovery[0]).await;
    let error = b.wait_for("#code-error", None, WAIT).await.unwrap();
    let text = b.text(&error).await.unwrap();
    assert!(
        text.contains("bereits verwendet") || text.contains("used already"),
        "{text}"
    );
    assert!(b.current_url().await.unwrap().ends_with("/login/code"));
    b.quit().await.unwrap();
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
