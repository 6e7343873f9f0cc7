//! The record forms of the UI through plain HTTP, logged in through `/login`: several
//! emails per person, custom fields, marking tasks done, German validation messages.

use crate::app::TestApp;
use klar_domain::ids::{ActivityId, OrganizationId, PersonId};
use klar_domain::role::Role;
use serde_json::json;

const PASSWORD: &str = "Correct-Horse-Battery-9";

/// A logged-in browser session: its cookie and the language it asks for.
struct Ui<'a> {
    app: &'a TestApp,
    cookie: String,
    lang: &'static str,
}

struct Page {
    status: u16,
    location: String,
    html: String,
}

async fn login<'a>(app: &'a TestApp, email: &str) -> Ui<'a> {
    let cookie = crate::app::login(app, email, PASSWORD).await;
    Ui {
        app,
        cookie,
        lang: "en",
    }
}

impl Ui<'_> {
    async fn read(r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Page {
            status,
            location,
            html: r.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        let r = self
            .app
            .http
            .get(format!("{}{path}", self.app.base))
            .header("cookie", &self.cookie)
            .header("accept-language", self.lang)
            .send()
            .await
            .unwrap();
        Self::read(r).await
    }

    /// The CSRF token of the session, as every page's logout form carries it.
    async fn csrf(&self) -> String {
        let page = self.get("/settings").await;
        page.html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    }

    /// Submits a form with the session's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf().await;
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .app
            .http
            .post(format!("{}{path}", self.app.base))
            .header("cookie", &self.cookie)
            .header("accept-language", self.lang)
            .form(form)
            .send()
            .await
            .unwrap();
        Self::read(r).await
    }
}

fn person_fields<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        ("first_name", "Erika"),
        ("last_name", "Mustermann"),
        ("kind", "consumer"),
        ("email_label_0", "work"),
        ("email_0", "erika@firma.example"),
        ("phone_label_0", "mobile"),
        ("phone_0", ""),
    ];
    for (k, val) in extra {
        v.retain(|(x, _)| x != k);
        v.push((k, val));
    }
    v
}

#[tokio::test]
async fn a_person_with_two_emails_is_created_through_the_form_and_both_are_shown() {
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let ui = login(&app, "sales@staff.example").await;

    let new = ui.get("/persons/new").await;
    assert_eq!(new.status, 200);
    assert!(new.html.contains(r#"id="email" name="email_0""#));
    assert!(new.html.contains(r#"<label class="sr-only" for="email">"#));
    assert!(
        !new.html.contains("email_1"),
        "one empty row for a new person"
    );

    let fields = person_fields(&[
        ("email_label_1", "private"),
        ("email_1", "erika@privat.example"),
        ("phone_0", "030 1234567"),
    ]);
    let r = ui.post("/persons", &fields).await;
    assert_eq!(r.status, 303, "{}", r.html);
    let pid: PersonId = r.location.trim_start_matches("/persons/").parse().unwrap();
    let p = app.store.get_person(pid).unwrap();
    let emails: Vec<_> = p
        .personal
        .emails
        .iter()
        .map(|e| (e.label.as_str(), e.value.as_str()))
        .collect();
    assert_eq!(
        emails,
        [
            ("work", "erika@firma.example"),
            ("private", "erika@privat.example")
        ]
    );
    assert_eq!(p.personal.phones[0].label, "mobile");
    assert_eq!(p.personal.phones[0].value.as_str(), "+49301234567");

    let show = ui.get(&r.location).await;
    assert!(show.html.contains("erika@firma.example"));
    assert!(show.html.contains("erika@privat.example"));
    assert!(show.html.contains("(private)"));

    // The edit form shows both and one empty row for a third.
    let edit = ui.get(&format!("/persons/{pid}/edit")).await;
    assert!(edit.html.contains(r#"value="erika@privat.example""#));
    assert!(
        edit.html
            .contains(r#"id="email_2" name="email_2" type="email" value="""#)
    );
    assert!(!edit.html.contains("email_3"));

    // Emptying the first row makes the second the primary address.
    let fields = person_fields(&[
        ("email_0", ""),
        ("email_label_1", "private"),
        ("email_1", "erika@privat.example"),
    ]);
    let r = ui.post(&format!("/persons/{pid}"), &fields).await;
    assert_eq!(r.status, 303, "{}", r.html);
    let p = app.store.get_person(pid).unwrap();
    assert_eq!(p.personal.emails.len(), 1);
    assert_eq!(
        p.personal.primary_email().unwrap().as_str(),
        "erika@privat.example"
    );
}

#[tokio::test]
async fn a_bad_second_email_is_shown_at_its_row() {
    let app = TestApp::spawn().await;
    app.user_with_role("sales@staff.example", Role::Sales);
    let ui = login(&app, "sales@staff.example").await;

    let fields = person_fields(&[("email_label_1", "private"), ("email_1", "kein-at")]);
    let r = ui.post("/persons", &fields).await;
    assert_eq!(r.status, 422);
    assert!(
        r.html.contains(r#"<p class="error" id="email_1-error">"#),
        "{}",
        r.html
    );
    assert!(
        r.html
            .contains(r#"value="kein-at" aria-invalid="true" aria-describedby="email_1-error""#)
    );
    assert!(
        !r.html.contains(r#"id="email-error""#),
        "the first row is fine"
    );
    assert!(
        r.html.contains(r#"value="erika@firma.example""#),
        "kept as typed"
    );
    assert!(r.html.contains("is not an email address (no @)"));

    // An empty row in between: the error still lands at the row it belongs to.
    let fields = person_fields(&[
        ("email_0", ""),
        ("email_1", "ok@x.example"),
        ("email_2", "@"),
    ]);
    let r = ui.post("/persons", &fields).await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains(r#"id="email_2-error""#), "{}", r.html);
    assert!(!r.html.contains(r#"id="email_1-error""#));
    assert_eq!(app.store.count_persons().unwrap(), 0);
}

#[tokio::test]
async fn custom_fields_are_defined_in_the_settings_and_round_trip_through_the_org_form() {
    let app = TestApp::spawn().await;
    app.user_with_role("admin@staff.example", Role::Admin);
    app.user_with_role("sales@staff.example", Role::Sales);
    let admin = login(&app, "admin@staff.example").await;
    let sales = login(&app, "sales@staff.example").await;

    // Only roles that manage settings see and use the section.
    assert!(
        admin
            .get("/settings")
            .await
            .html
            .contains("custom-fields-h")
    );
    assert!(
        !sales
            .get("/settings")
            .await
            .html
            .contains("custom-fields-h")
    );
    let def = [
        ("record_type", "organization"),
        ("key", "employees"),
        ("label", "Mitarbeitende"),
        ("field_type", "number"),
        ("options", ""),
    ];
    assert_eq!(
        sales.post("/settings/custom-fields", &def).await.status,
        403
    );

    for d in [
        def,
        [
            ("record_type", "organization"),
            ("key", "size"),
            ("label", "Größe"),
            ("field_type", "select"),
            ("options", "S, M , L"),
        ],
        [
            ("record_type", "organization"),
            ("key", "vip"),
            ("label", "Wichtig"),
            ("field_type", "bool"),
            ("options", ""),
        ],
    ] {
        let r = admin.post("/settings/custom-fields", &d).await;
        assert_eq!(r.status, 303, "{}", r.html);
        assert!(r.location.starts_with("/settings?field_saved=1"));
    }
    // The same checks as the API: the errors are shown at their fields.
    let r = admin
        .post(
            "/settings/custom-fields",
            &[
                ("record_type", "organization"),
                ("key", "employees"),
                ("label", "Nochmal"),
                ("field_type", "number"),
                ("options", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains(r#"id="def-key-error""#));
    let r = admin
        .post(
            "/settings/custom-fields",
            &[
                ("record_type", "organization"),
                ("key", "Bad Key"),
                ("label", "X"),
                ("field_type", "select"),
                ("options", " , "),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains(r#"id="def-key-error""#));
    assert!(r.html.contains(r#"id="def-options-error""#));
    assert!(r.html.contains(r#"value="Bad Key""#), "kept as typed");
    let listed = admin.get("/settings").await.html;
    assert!(listed.contains("Mitarbeitende") && listed.contains("S, M, L"));

    // The org form has an input per field, by type.
    let new = sales.get("/organizations/new").await;
    assert!(
        new.html
            .contains(r#"<label for="cf_employees">Mitarbeitende</label>"#)
    );
    assert!(new.html.contains(r#"name="cf_employees" type="number""#));
    assert!(new.html.contains(r#"<select id="cf_size" name="cf_size">"#));
    assert!(
        new.html
            .contains(r#"type="checkbox" id="cf_vip" name="cf_vip" value="true""#)
    );

    let r = sales
        .post(
            "/organizations",
            &[
                ("name", "Muster GmbH"),
                ("cf_employees", "42"),
                ("cf_size", "M"),
                ("cf_vip", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let oid: OrganizationId = r
        .location
        .trim_start_matches("/organizations/")
        .parse()
        .unwrap();
    let o = app.store.get_organization(oid).unwrap();
    assert_eq!(o.custom["employees"], json!(42));
    assert_eq!(o.custom["size"], json!("M"));
    assert_eq!(o.custom["vip"], json!(true));

    let show = sales.get(&r.location).await.html;
    assert!(show.contains("<dt>Mitarbeitende</dt><dd>42</dd>"), "{show}");
    assert!(show.contains("<dt>Wichtig</dt><dd>Yes</dd>"));
    let edit = sales.get(&format!("/organizations/{oid}/edit")).await.html;
    assert!(edit.contains(r#"name="cf_employees" type="number" value="42""#));
    assert!(edit.contains(r#"<option value="M" selected>"#));
    assert!(edit.contains(r#"value="true" checked"#));

    // An emptied input removes the value, an unticked box is false.
    let r = sales
        .post(
            &format!("/organizations/{oid}"),
            &[
                ("name", "Muster GmbH"),
                ("cf_employees", ""),
                ("cf_size", "L"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let o = app.store.get_organization(oid).unwrap();
    assert!(!o.custom.contains_key("employees"));
    assert_eq!(o.custom["size"], json!("L"));
    assert_eq!(o.custom["vip"], json!(false));

    // A value the field does not allow comes back at its input.
    let r = sales
        .post(
            &format!("/organizations/{oid}"),
            &[
                ("name", "Muster GmbH"),
                ("cf_size", "XL"),
                ("cf_employees", "viele"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains(r#"id="cf_size-error""#), "{}", r.html);
    assert!(r.html.contains(r#"id="cf_employees-error""#));
    assert_eq!(
        app.store.get_organization(oid).unwrap().custom["size"],
        json!("L")
    );
}

#[tokio::test]
async fn marking_a_task_done_returns_to_its_page_and_ignores_a_foreign_back() {
    let app = TestApp::spawn().await;
    let token = app.sales_token();
    app.user_with_role("viewer@staff.example", Role::Viewer);
    let ui = login(&app, "sales@staff.example").await;
    let p = app
        .create_person(&token, json!({"last_name": "Aufgabe"}))
        .await;
    let pid = p["id"].as_str().unwrap();
    let mut tasks = Vec::new();
    for subject in ["Anrufen", "Angebot schicken"] {
        let r = app
            .call(
                "POST",
                "/api/v1/activities",
                Some(&token),
                Some(json!({"kind": "task", "person_id": pid, "subject": subject, "due_date": "2030-01-01"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        tasks.push(r.body["id"].as_str().unwrap().to_string());
    }
    let done = |id: &str| {
        app.store
            .get_activity(id.parse::<ActivityId>().unwrap())
            .unwrap()
            .done
    };

    let person_page = ui.get(&format!("/persons/{pid}")).await.html;
    let dashboard = ui.get("/dashboard").await.html;
    for t in &tasks {
        let action = format!(r#"action="/activities/{t}/done""#);
        assert!(person_page.contains(&action));
        assert!(dashboard.contains(&action));
    }

    // Back to the person page.
    let back = format!("/persons/{pid}");
    let r = ui
        .post(
            &format!("/activities/{}/done", tasks[0]),
            &[("back", &back)],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, back);
    assert!(done(&tasks[0]));
    let person_page = ui.get(&back).await.html;
    assert!(!person_page.contains(&format!("/activities/{}/done", tasks[0])));

    // A foreign target is ignored.
    let r = ui
        .post(
            &format!("/activities/{}/done", tasks[1]),
            &[("back", "https://evil.example/persons/")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, "/dashboard");
    assert!(done(&tasks[1]));

    // Without the CSRF token, for a reading role or for an unknown task: refused.
    let r = ui
        .post_raw(
            &format!("/activities/{}/done", tasks[0]),
            &[("back", "/dashboard")],
        )
        .await;
    assert_eq!(r.status, 403);
    let viewer = login(&app, "viewer@staff.example").await;
    assert!(!viewer.get(&back).await.html.contains("/done"));
    let r = viewer
        .post(&format!("/activities/{}/done", tasks[0]), &[])
        .await;
    assert_eq!(r.status, 403);
    let r = ui
        .post(
            "/activities/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/done",
            &[("back", "/dashboard")],
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn validation_messages_are_german_for_german_browsers_and_english_in_the_api() {
    let app = TestApp::spawn().await;
    let token = app.sales_token();
    let mut ui = login(&app, "sales@staff.example").await;
    let bad = person_fields(&[
        ("first_name", ""),
        ("last_name", ""),
        ("email_0", "kein-at"),
    ]);

    ui.lang = "de-DE,de;q=0.9,en;q=0.5";
    let r = ui.post("/persons", &bad).await;
    assert_eq!(r.status, 422);
    assert!(
        r.html.contains("ist keine E-Mail-Adresse (es fehlt das @)"),
        "{}",
        r.html
    );
    assert!(
        r.html
            .contains("eine Person braucht einen Vor- oder Nachnamen")
    );
    assert!(!r.html.contains("no @"));
    let r = ui
        .post("/organizations", &[("name", &"x".repeat(201))])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("ist länger als 200 Zeichen"), "{}", r.html);

    ui.lang = "en";
    let r = ui.post("/persons", &bad).await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("is not an email address (no @)"));

    // The JSON API speaks English whatever the browser prefers.
    let r = app
        .http
        .post(format!("{}/api/v1/persons", app.base))
        .bearer_auth(&token)
        .header("accept-language", "de")
        .json(&json!({"last_name": "X", "email": "kein-at"}))
        .send()
        .await
        .unwrap();
    let r = TestApp::read(r).await;
    assert_eq!(r.problem(422), ["email"]);
    assert_eq!(
        r.body["errors"][0]["message"],
        "is not an email address (no @)"
    );
}
