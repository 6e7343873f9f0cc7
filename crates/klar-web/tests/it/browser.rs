//! The UI in a real headless Chromium: log in, create a person through the form, find her.

use crate::app::TestApp;
use crate::support::webdriver::Browser;
use klar_domain::role::Role;
use std::time::Duration;

#[tokio::test]
async fn a_sales_user_logs_in_creates_a_person_and_finds_her_by_search() {
    let Some(b) = Browser::start().await.unwrap() else {
        eprintln!("skipped: no chromedriver (set KLAR_REQUIRE_BROWSER=1 to make this a failure)");
        return;
    };
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let t = Duration::from_secs(10);

    b.goto(&format!("{}/login", app.base)).await.unwrap();
    let email = b.wait_for("#email", None, t).await.unwrap();
    b.type_into(&email, "sales@staff.example").await.unwrap();
    let pw = b.find("#password").await.unwrap();
    b.type_into(&pw, "Correct-Horse-Battery-9").await.unwrap();
    b.click(&b.find("button[type=submit]").await.unwrap())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + t;
    while b.current_url().await.unwrap().ends_with("/login") {
        assert!(
            std::time::Instant::now() < deadline,
            "login did not leave the login page"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    // Search-as-you-type replaces the rows without a page load.
    let row = b
        .wait_for("#person-rows a", Some("Henriette Quandt-Özgür"), t)
        .await
        .unwrap();
    b.click(&row).await.unwrap();
    b.wait_for("dd", Some("henriette@kunde.example"), t)
        .await
        .unwrap();
    b.quit().await.unwrap();
}
