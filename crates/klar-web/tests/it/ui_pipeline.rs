//! The pipeline settings page through plain HTTP, logged in through `/login`: stages are
//! added, renamed, moved and removed by the roles that manage settings, and the deals
//! board of a sales user shows the result.

use crate::app::Browser;
use crate::app::TestApp;
use klar_domain::role::Role;
use serde_json::json;

const PAGE: &str = "/settings/pipeline";

fn stage_keys(app: &TestApp) -> Vec<String> {
    app.store
        .stages("default")
        .unwrap()
        .into_iter()
        .map(|s| s.key)
        .collect()
}

/// Where a board column (`<h2 id="col-KEY">`) comes in the page, if it is there.
fn column_at(html: &str, key: &str) -> Option<usize> {
    html.find(&format!("id=\"col-{key}\""))
}

#[tokio::test]
async fn an_admin_adds_a_stage_and_it_appears_on_the_deals_board_of_a_sales_user() {
    let app = TestApp::spawn().await;
    app.user_with_role("admin@staff.example", Role::Admin);
    app.user_with_role("sales@staff.example", Role::Sales);
    let admin = Browser::login(&app, "admin@staff.example", "de").await;

    let settings = admin.get("/settings").await;
    assert!(
        settings.html.contains("href=\"/settings/pipeline\""),
        "the settings link to the pipeline page"
    );
    let page = admin.get(PAGE).await;
    assert_eq!(page.status, 200);
    for text in [
        "Phasen der Pipeline",
        "negotiation",
        "Verhandlung",
        "Gewonnen",
    ] {
        assert!(page.html.contains(text), "{text} missing");
    }
    // Every input of the page has a label, and there is no inline script or style.
    for id in page
        .html
        .split(" id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
    {
        let is_input = page.html.contains(&format!("<input id=\"{id}\""))
            || page.html.contains(&format!("<select id=\"{id}\""));
        if is_input {
            assert!(
                page.html.contains(&format!("for=\"{id}\"")),
                "{id} unlabelled"
            );
        }
    }
    assert!(!page.html.contains("<script>") && !page.html.contains("style="));

    let r = admin
        .post(
            PAGE,
            &[
                ("key", "demo"),
                ("name_de", "Vorführung"),
                ("name_en", "Product demo"),
                ("position", "0"),
                ("kind", "open"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert_eq!(r.location, "/settings/pipeline?done=added");
    let page = admin.get(&r.location).await;
    assert!(page.html.contains("Die Phase wurde hinzugefügt."));
    assert!(page.html.contains("value=\"Vorführung\""));
    assert_eq!(stage_keys(&app)[0], "demo");

    let sales = Browser::login(&app, "sales@staff.example", "de").await;
    let board = sales.get("/deals").await;
    assert_eq!(board.status, 200);
    assert!(board.html.contains("Vorführung"));
    let (demo, lead) = (
        column_at(&board.html, "demo"),
        column_at(&board.html, "lead"),
    );
    assert!(demo.is_some() && demo < lead, "the new stage comes first");
    let english = Browser {
        lang: "en",
        ..sales
    };
    assert!(english.get("/deals").await.html.contains("Product demo"));
    // The deal form offers the new stage too.
    assert!(
        english
            .get("/deals/new")
            .await
            .html
            .contains("value=\"demo\"")
    );
}

#[tokio::test]
async fn a_stage_is_renamed_and_moved_and_a_bad_change_is_shown_at_its_row() {
    let app = TestApp::spawn().await;
    app.user_with_role("dpo@staff.example", Role::PrivacyOfficer);
    let dpo = Browser::login(&app, "dpo@staff.example", "de").await;

    let r = dpo
        .post(
            "/settings/pipeline/proposal",
            &[
                ("name_de", " Angebot erstellt "),
                ("name_en", "Quote"),
                ("position", "9"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert_eq!(r.location, "/settings/pipeline?done=saved");
    let stages = app.store.stages("default").unwrap();
    let last = stages.last().unwrap();
    assert_eq!(
        (
            last.key.as_str(),
            last.name_de.as_str(),
            last.name_en.as_str(),
            last.position
        ),
        ("proposal", "Angebot erstellt", "Quote", 9)
    );
    let board = dpo.get("/deals").await;
    assert!(board.html.contains("Angebot erstellt"));
    assert!(column_at(&board.html, "lost") < column_at(&board.html, "proposal"));

    let r = dpo
        .post(
            "/settings/pipeline/lead",
            &[("name_de", "  "), ("name_en", "Lead"), ("position", "eins")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("id=\"name_de-lead-error\""), "{}", r.html);
    assert!(r.html.contains("darf nicht leer sein"));
    assert!(r.html.contains("id=\"position-lead-error\""));
    assert!(r.html.contains("Bitte eine ganze Zahl eingeben."));
    assert!(
        r.html.contains("value=\"eins\""),
        "the row keeps what was typed"
    );
    assert!(r.html.contains("aria-invalid=\"true\""));
    assert_eq!(app.store.stages("default").unwrap()[0].name_de, "Lead");

    let r = dpo
        .post(
            "/settings/pipeline/nosuch",
            &[("name_de", "X"), ("name_en", "X"), ("position", "1")],
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_sales_user_may_not_configure_the_pipeline() {
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let sales = Browser::login(&app, "sales@staff.example", "en").await;
    assert!(
        !sales
            .get("/settings")
            .await
            .html
            .contains("/settings/pipeline")
    );
    assert_eq!(sales.get(PAGE).await.status, 403);
    let before = stage_keys(&app);
    let add = sales
        .post(
            PAGE,
            &[
                ("key", "demo"),
                ("name_de", "Demo"),
                ("name_en", "Demo"),
                ("position", "3"),
                ("kind", "open"),
            ],
        )
        .await;
    assert_eq!(add.status, 403);
    let rename = sales
        .post(
            "/settings/pipeline/lead",
            &[("name_de", "X"), ("name_en", "X"), ("position", "1")],
        )
        .await;
    assert_eq!(rename.status, 403);
    assert_eq!(
        sales
            .post("/settings/pipeline/lead/delete", &[])
            .await
            .status,
        403
    );
    assert_eq!(stage_keys(&app), before);
    assert_eq!(app.store.stages("default").unwrap()[0].name_de, "Lead");
}

#[tokio::test]
async fn a_stage_holding_a_deal_and_the_last_open_stage_are_kept_with_a_notice() {
    let app = TestApp::spawn().await;
    app.user_with_role("admin@staff.example", Role::Admin);
    let t = app.user_with_role("sales@staff.example", Role::Sales);
    let deal = app
        .call(
            "POST",
            "/api/v1/deals",
            Some(&t),
            Some(json!({"title": "Rahmenvertrag", "stage": "qualified"})),
        )
        .await;
    assert_eq!(deal.status, 201, "{}", deal.body);
    let admin = Browser::login(&app, "admin@staff.example", "de").await;

    let r = admin.post("/settings/pipeline/qualified/delete", &[]).await;
    assert_eq!(r.status, 409);
    assert!(
        r.html.contains(
            "Die Phase wurde nicht gelöscht: die Phase enthält noch Deals; \
             verschieben Sie diese zuerst in eine andere Phase."
        ),
        "{}",
        r.html
    );
    assert!(r.html.contains("role=\"alert\""));
    assert!(stage_keys(&app).contains(&"qualified".to_string()));

    // A stage without deals goes.
    for key in ["lead", "proposal", "negotiation"] {
        let r = admin
            .post(&format!("/settings/pipeline/{key}/delete"), &[])
            .await;
        assert_eq!(r.status, 303, "{key}: {}", r.html);
        assert_eq!(r.location, "/settings/pipeline?done=deleted");
    }
    assert_eq!(stage_keys(&app), ["qualified", "won", "lost"]);

    // Once the deal is won, its stage is empty but the last open one.
    let id = deal.body["id"].as_str().unwrap();
    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/deals/{id}"),
            Some(&t),
            Some(json!({"stage": "won"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let english = Browser {
        lang: "en",
        ..admin
    };
    // The admin chose no language, so the browser's counts.
    let r = english
        .post("/settings/pipeline/qualified/delete", &[])
        .await;
    assert_eq!(r.status, 409);
    assert!(
        r.html
            .contains("The stage was not deleted: a pipeline keeps at least one open stage."),
        "{}",
        r.html
    );
    assert_eq!(stage_keys(&app), ["qualified", "won", "lost"]);
}

#[tokio::test]
async fn an_invalid_or_taken_key_is_shown_at_the_add_form() {
    let app = TestApp::spawn().await;
    app.user_with_role("admin@staff.example", Role::Admin);
    let admin = Browser::login(&app, "admin@staff.example", "de").await;
    let form = |key: &'static str| {
        [
            ("key", key),
            ("name_de", "Vorführung"),
            ("name_en", ""),
            ("position", "3"),
            ("kind", "open"),
        ]
    };

    let r = admin.post(PAGE, &form("Vorführung!")).await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("id=\"new-key-error\""), "{}", r.html);
    assert!(r.html.contains("muss aus 1 bis 40 Kleinbuchstaben"));
    assert!(r.html.contains("id=\"new-name_en-error\""));
    assert!(
        r.html
            .contains("Bitte korrigieren Sie die markierten Felder.")
    );
    assert!(
        r.html.contains("value=\"Vorführung!\""),
        "the form keeps what was typed"
    );

    let r = admin.post(PAGE, &form("lead")).await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("id=\"new-name_en-error\""));
    let r = admin
        .post(
            PAGE,
            &[
                ("key", "lead"),
                ("name_de", "Noch ein Lead"),
                ("name_en", "Another lead"),
                ("position", "3"),
                ("kind", "open"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.html.contains("ist bereits eine Phase dieser Pipeline"),
        "{}",
        r.html
    );

    let r = admin
        .post(
            PAGE,
            &[
                ("key", "demo"),
                ("name_de", "Vorführung"),
                ("name_en", "Demo"),
                ("position", "3"),
                ("kind", "maybe"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("id=\"new-kind-error\""));
    assert_eq!(stage_keys(&app).len(), 6, "nothing was added");

    // A form without the session's token is refused.
    let r = app
        .http
        .post(format!("{}{PAGE}", app.base))
        .header("cookie", &admin.cookie)
        .form(&[
            ("csrf", "wrong"),
            ("key", "demo"),
            ("name_de", "D"),
            ("name_en", "D"),
            ("position", "1"),
            ("kind", "open"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(stage_keys(&app).len(), 6);
}
