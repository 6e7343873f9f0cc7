//! The privacy pages through plain HTTP, logged in through `/login`: the audit trail, the
//! record of processing activities, the installation settings and the purposes, each for
//! the roles that may use it and refused to the others.

use crate::app::Browser;
use crate::app::TestApp;
use klar_domain::role::Role;
use klar_store::audit::{AuditAction, AuditFilter};
use serde_json::json;

/// The rows of the page's (first) table body.
fn tbody(html: &str) -> &str {
    html.split("<tbody>")
        .nth(1)
        .and_then(|s| s.split("</tbody>").next())
        .unwrap_or("")
}

fn installation_form<'a>(
    controller: &'a str,
    dpo_email: &'a str,
    representative: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("controller_name", controller),
        ("controller_address", "Hafenstraße 1\r\n20457 Hamburg"),
        ("controller_email", "info@muster.example"),
        ("controller_phone", "+49 40 123456"),
        ("representative_name", representative),
        ("representative_address", ""),
        ("representative_email", ""),
        ("representative_phone", ""),
        ("dpo_name", "Dr. Jana Schutz"),
        ("dpo_address", ""),
        ("dpo_email", dpo_email),
        ("dpo_phone", ""),
        ("imprint", "Amtsgericht Hamburg HRB 12345"),
        ("measures_text", "Serverraum mit Zutrittskontrolle."),
    ]
}

#[tokio::test]
async fn the_officer_sees_a_read_of_a_person_in_the_trail_without_her_name_or_email() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(
            &sales,
            json!({"first_name": "Wilhelmine", "last_name": "Quast",
                   "email": "w.quast@kunde.example", "kind": "consumer"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    let r = app
        .call("GET", &format!("/api/v1/persons/{id}"), Some(&sales), None)
        .await;
    assert_eq!(r.status, 200);

    let officer = Browser::login(&app, "dsb@staff.example", "de").await;
    let page = officer.get("/privacy/audit").await;
    assert_eq!(page.status, 200, "{}", page.html);
    let rows = tbody(&page.html);
    assert!(rows.contains(&format!("href=\"/persons/{id}\"")), "{rows}");
    assert!(rows.contains("Person gelesen"));
    assert!(rows.contains("Person angelegt"));
    assert!(
        rows.contains("sales@staff.example"),
        "the staff member is named"
    );
    for personal in ["Wilhelmine", "Quast", "w.quast@kunde.example"] {
        assert!(!page.html.contains(personal), "{personal} on the page");
    }
    // The read of the trail is itself recorded.
    let reads = app
        .store
        .audit_entries(&AuditFilter {
            action: Some(AuditAction::AuditRead),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(reads.items.len(), 1);

    // The nav leads there, the hub offers every page to the officer.
    assert!(
        page.html
            .contains("href=\"/privacy\" aria-current=\"page\"")
    );
    let hub = officer.get("/privacy").await;
    assert_eq!(hub.status, 200);
    for link in [
        "/privacy/audit",
        "/privacy/ropa",
        "/privacy/purposes",
        "/settings/installation",
    ] {
        assert!(hub.html.contains(&format!("href=\"{link}\"")), "{link}");
    }
}

#[tokio::test]
async fn the_trail_filters_by_action_and_person_and_explains_bad_filters() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let a = app
        .create_person(&sales, json!({"first_name": "Anna", "kind": "consumer"}))
        .await;
    let b = app
        .create_person(&sales, json!({"first_name": "Bert", "kind": "consumer"}))
        .await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    app.call("GET", &format!("/api/v1/persons/{a}"), Some(&sales), None)
        .await;
    let officer = Browser::login(&app, "dsb@staff.example", "en").await;

    let page = officer.get("/privacy/audit?action=person.create").await;
    assert_eq!(page.status, 200);
    let rows = tbody(&page.html);
    assert_eq!(rows.matches("<tr>").count(), 2, "{rows}");
    assert!(rows.contains("Person created") && !rows.contains("Person read"));
    assert!(
        page.html
            .contains("<option value=\"person.create\" selected>")
    );

    let page = officer.get(&format!("/privacy/audit?person_id={b}")).await;
    let rows = tbody(&page.html);
    assert!(rows.contains(b) && !rows.contains(a), "{rows}");

    let page = officer
        .get("/privacy/audit?person_id=Wilhelmine&action=person.steal&since=30.11.2026")
        .await;
    assert_eq!(page.status, 422);
    assert!(page.html.contains("role=\"alert\""));
    assert!(page.html.contains("This is not a valid person id"));
    assert!(page.html.contains("There is no such action"));
    assert!(page.html.contains("Please give a date as YYYY-MM-DD"));
    assert_eq!(page.html.matches("aria-invalid=\"true\"").count(), 3);

    // Days are whole days; today's entries are within today.
    let today = app
        .store
        .now()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
        .date();
    let page = officer
        .get(&format!(
            "/privacy/audit?action=person.create&since={today}&until={today}"
        ))
        .await;
    assert_eq!(tbody(&page.html).matches("<tr>").count(), 2);
    let page = officer.get("/privacy/audit?until=2000-01-01").await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("No entries for this filter."));
}

#[tokio::test]
async fn the_trail_pages_through_older_entries_fifty_at_a_time() {
    let app = TestApp::spawn().await;
    let sales = app.sales_token();
    app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let p = app
        .create_person(&sales, json!({"first_name": "Anna", "kind": "consumer"}))
        .await;
    let id = p["id"].as_str().unwrap();
    for _ in 0..55 {
        app.call("GET", &format!("/api/v1/persons/{id}"), Some(&sales), None)
            .await;
    }
    let officer = Browser::login(&app, "dsb@staff.example", "de").await;
    let first = officer
        .get(&format!("/privacy/audit?person_id={id}&action=person.read"))
        .await;
    assert_eq!(tbody(&first.html).matches("<tr>").count(), 50);
    let href = first
        .html
        .split("rel=\"next\"")
        .next()
        .unwrap()
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(
        href.contains("cursor=") && href.contains("action=person.read"),
        "{href}"
    );
    let second = officer.get(&href).await;
    assert_eq!(second.status, 200);
    assert_eq!(tbody(&second.html).matches("<tr>").count(), 5);
    assert!(!second.html.contains("rel=\"next\""));
    let bad = officer.get("/privacy/audit?cursor=nonsense").await;
    assert_eq!(bad.status, 422);
}

#[tokio::test]
async fn sales_is_refused_every_privacy_page_and_sees_no_privacy_nav() {
    let app = TestApp::spawn().await;
    app.sales_token();
    let sales = Browser::login(&app, "sales@staff.example", "de").await;
    for path in [
        "/privacy",
        "/privacy/audit",
        "/privacy/ropa",
        "/privacy/purposes",
        "/privacy/purposes/newsletter",
        "/settings/installation",
    ] {
        let page = sales.get(path).await;
        assert_eq!(page.status, 403, "{path}");
    }
    let page = sales
        .post(
            "/settings/installation",
            &installation_form("Fremd GmbH", "", ""),
        )
        .await;
    assert_eq!(page.status, 403);
    let page = sales
        .post("/privacy/purposes/newsletter", &[("name_de", "Gekapert")])
        .await;
    assert_eq!(page.status, 403);
    assert!(app.store.installation().unwrap().controller.name.is_empty());
    let dash = sales.get("/dashboard").await;
    assert!(!dash.html.contains("href=\"/privacy\""));
}

#[tokio::test]
async fn the_admin_sees_the_record_and_the_settings_but_not_the_trail_nor_purpose_forms() {
    let app = TestApp::spawn().await;
    app.user_with_role("admin@staff.example", Role::Admin);
    let admin = Browser::login(&app, "admin@staff.example", "de").await;
    let hub = admin.get("/privacy").await;
    assert_eq!(hub.status, 200);
    assert!(hub.html.contains("href=\"/privacy/ropa\""));
    assert!(!hub.html.contains("href=\"/privacy/audit\""));

    let ropa = admin.get("/privacy/ropa").await;
    assert_eq!(ropa.status, 200);
    assert!(
        ropa.html
            .contains("Verzeichnis von Verarbeitungstätigkeiten")
    );
    assert!(
        ropa.html.contains("Name des Verantwortlichen"),
        "missing notice"
    );
    assert!(ropa.html.contains("href=\"/settings/installation\""));
    assert!(ropa.html.contains("href=\"/api/v1/ropa?format=md\""));
    assert!(ropa.html.contains("href=\"/api/v1/ropa?format=json\""));
    assert_eq!(admin.get("/settings/installation").await.status, 200);
    assert_eq!(admin.get("/privacy/audit").await.status, 403);

    let list = admin.get("/privacy/purposes").await;
    assert_eq!(list.status, 200);
    assert!(list.html.contains("<code>newsletter</code>"));
    assert!(list.html.contains("Art. 6(1)(a) GDPR"));
    assert!(!list.html.contains("action=\"/privacy/purposes\""));
    assert!(!list.html.contains("href=\"/privacy/purposes/newsletter\""));
    assert_eq!(admin.get("/privacy/purposes/newsletter").await.status, 403);
    let before = app.store.purposes().unwrap();
    let page = admin
        .post("/privacy/purposes/newsletter", &[("name_de", "Admin-Name")])
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(app.store.purposes().unwrap(), before);

    // The session cookie reads the API's download links too.
    let md = admin.get("/api/v1/ropa?format=md").await;
    assert_eq!(md.status, 200);
    let reads = app
        .store
        .audit_entries(&AuditFilter {
            action: Some(AuditAction::RopaRead),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(reads.items.len(), 2, "the page and the download");
}

#[tokio::test]
async fn saving_the_installation_settings_through_the_form_changes_the_record() {
    let app = TestApp::spawn().await;
    app.user_with_role("admin@staff.example", Role::Admin);
    let admin = Browser::login(&app, "admin@staff.example", "en").await;
    let page = admin
        .post(
            "/settings/installation",
            &installation_form("Muster Maschinenbau GmbH", "datenschutz@muster.example", ""),
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    assert_eq!(page.location, "/settings/installation?saved=1");
    let saved = admin.get(&page.location).await;
    assert!(saved.html.contains("The settings were saved."));
    assert!(saved.html.contains("value=\"Muster Maschinenbau GmbH\""));
    let i = app.store.installation().unwrap();
    assert_eq!(i.controller.address, "Hafenstraße 1\n20457 Hamburg");

    let ropa = admin.get("/privacy/ropa").await;
    assert_eq!(ropa.status, 200);
    assert!(ropa.html.contains("Muster Maschinenbau GmbH"));
    assert!(ropa.html.contains("Hafenstraße 1<br>20457 Hamburg"));
    assert!(ropa.html.contains("Dr. Jana Schutz"));
    assert!(ropa.html.contains("Serverraum mit Zutrittskontrolle."));
    assert!(!ropa.html.contains("A complete record still needs"));
}

#[tokio::test]
async fn editing_a_purpose_through_the_form_makes_a_new_version_named_in_the_record() {
    let app = TestApp::spawn().await;
    app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let officer = Browser::login(&app, "dsb@staff.example", "de").await;
    let before = app
        .store
        .purposes()
        .unwrap()
        .into_iter()
        .find(|p| p.key == "newsletter")
        .unwrap();
    let edit = officer.get("/privacy/purposes/newsletter").await;
    assert_eq!(edit.status, 200);
    assert!(edit.html.contains("lässt sich nie ändern"));
    assert!(!edit.html.contains("name=\"legal_basis\""));

    let page = officer
        .post(
            "/privacy/purposes/newsletter",
            &[
                ("name_de", "Monatlicher Newsletter"),
                ("name_en", &before.name_en),
                ("description_de", &before.description_de),
                ("description_en", &before.description_en),
                ("ch_email", "on"),
                ("data_categories", "contact, interaction"),
                ("retention", &before.retention),
                ("direct_marketing", "on"),
                ("active", "on"),
                // A basis smuggled into the form is ignored.
                ("legal_basis", "legitimate_interest"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    assert_eq!(page.location, "/privacy/purposes/newsletter?saved=1");
    let after = app
        .store
        .purposes()
        .unwrap()
        .into_iter()
        .find(|p| p.key == "newsletter")
        .unwrap();
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.legal_basis, before.legal_basis);
    assert_eq!(after.data_categories, ["contact", "interaction"]);
    let shown = officer.get(&page.location).await;
    assert!(shown.html.contains(&format!(
        "Gespeichert. Der Zweck hat jetzt die Version {}.",
        after.version
    )));

    let ropa = officer.get("/privacy/ropa").await;
    assert!(ropa.html.contains("Monatlicher Newsletter"));
    let list = officer.get("/privacy/purposes").await;
    assert!(list.html.contains("Monatlicher Newsletter"));
}

#[tokio::test]
async fn a_purpose_defined_through_the_form_is_listed_with_its_basis() {
    let app = TestApp::spawn().await;
    let token = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let officer = Browser::login(&app, "dsb@staff.example", "en").await;
    let page = officer
        .post(
            "/privacy/purposes",
            &[
                ("key", "trade_fair"),
                ("legal_basis", "legitimate_interest"),
                ("name_de", "Messeeinladungen"),
                ("name_en", "Trade fair invitations"),
                ("description_de", "Einladungen zu unseren Messen."),
                ("description_en", "Invitations to our trade fairs."),
                ("ch_post", "on"),
                ("data_categories", "contact, postal_address"),
                ("retention", "marketing"),
                ("direct_marketing", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    let list = officer.get(&page.location).await;
    assert!(list.html.contains("<code>trade_fair</code>"));
    assert!(
        list.html
            .contains("Legitimate interest<br><small>Art. 6(1)(f) GDPR")
    );
    let p = app
        .store
        .purposes()
        .unwrap()
        .into_iter()
        .find(|p| p.key == "trade_fair")
        .unwrap();
    assert_eq!(p.version, 1);
    assert!(p.direct_marketing && p.active);
    // The API changes what the edit form changes, direct marketing included.
    let r = app
        .call(
            "PATCH",
            "/api/v1/purposes/trade_fair",
            Some(&token),
            Some(json!({"direct_marketing": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["direct_marketing"], false);
    assert_eq!(r.body["version"], 2);
    let page = officer
        .post(
            "/privacy/purposes",
            &[
                ("key", "vital"),
                ("legal_basis", "vital_interests"),
                ("name_de", "x"),
                ("name_en", "x"),
                ("description_de", "x"),
                ("description_en", "x"),
                ("retention", "contract"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.html.contains("vital interests and public task cannot"));
}

#[tokio::test]
async fn invalid_input_is_shown_at_its_field_with_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let officer = Browser::login(&app, "dsb@staff.example", "de").await;

    let page = officer
        .post(
            "/settings/installation",
            &installation_form("Muster GmbH", "kein-at-zeichen", "Zeile eins\nZeile zwei"),
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.html.contains("role=\"alert\""));
    assert!(page.html.contains("id=\"dpo_email\""));
    assert!(page.html.contains("aria-describedby=\"dpo_email-error\""));
    assert!(
        page.html.contains("ist keine E-Mail-Adresse"),
        "German message"
    );
    assert!(
        page.html
            .contains("aria-describedby=\"representative_name-error\"")
    );
    assert!(
        page.html.contains("value=\"kein-at-zeichen\""),
        "the form keeps what was typed"
    );
    assert_eq!(
        app.store.installation().unwrap(),
        klar_domain::installation::Installation::default()
    );

    let before = app.store.purposes().unwrap();
    let page = officer
        .post(
            "/privacy/purposes/newsletter",
            &[
                ("name_de", ""),
                ("name_en", "Newsletter\nwith a second line"),
                ("description_de", "d"),
                ("description_en", "e"),
                ("ch_email", "on"),
                ("retention", "consent"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.html);
    assert!(
        page.html
            .contains("aria-describedby=\"edit-name_de-error\"")
    );
    assert!(
        page.html
            .contains("aria-describedby=\"edit-name_en-error\"")
    );
    assert!(!page.html.contains("??"));
    let page = officer
        .post(
            "/privacy/purposes",
            &[
                ("key", "Kein Schlüssel"),
                ("legal_basis", "consent"),
                ("name_de", ""),
                ("name_en", "x"),
                ("description_de", "x"),
                ("description_en", "x"),
                ("retention", "consent"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.html
            .contains("aria-describedby=\"new-key-hint new-key-error\"")
    );
    assert!(page.html.contains("aria-describedby=\"new-name_de-error\""));
    assert_eq!(app.store.purposes().unwrap(), before);
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    let officer = Browser::login(&app, "dsb@staff.example", "de").await;
    let before = app.store.purposes().unwrap();
    for (path, form) in [
        (
            "/settings/installation",
            installation_form("Muster GmbH", "", ""),
        ),
        (
            "/privacy/purposes/newsletter",
            vec![("name_de", "Ohne Token"), ("name_en", "No token")],
        ),
        (
            "/privacy/purposes",
            vec![("key", "no_token"), ("legal_basis", "consent")],
        ),
    ] {
        let page = officer.post_raw(path, &form).await;
        assert_eq!(page.status, 403, "{path}");
        let mut wrong = vec![("csrf", "wrong")];
        wrong.extend_from_slice(&form);
        let page = officer.post_raw(path, &wrong).await;
        assert_eq!(page.status, 403, "{path}");
    }
    assert!(app.store.installation().unwrap().controller.name.is_empty());
    assert_eq!(app.store.purposes().unwrap(), before);
}
