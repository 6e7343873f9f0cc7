//! Installation settings and the record of processing activities (Art. 30(1)).

use crate::app::TestApp;
use klar_domain::role::Role;
use serde_json::json;

#[tokio::test]
async fn the_record_reflects_settings_and_a_purpose_edited_a_moment_before() {
    let app = TestApp::spawn().await;
    let po = app.user_with_role("dsb@staff.example", Role::PrivacyOfficer);
    app.sales_token();

    let r = app.call("GET", "/api/v1/ropa", Some(&po), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["missing"]
            .as_array()
            .unwrap()
            .contains(&json!("controller.name"))
    );

    let settings = json!({
        "controller": {"name": "Muster Maschinenbau GmbH", "address": "Hafenstraße 1\n20457 Hamburg",
                       "email": "info@muster.example", "phone": "+49 40 123456"},
        "dpo": {"name": "Dr. Jana Schutz", "email": "datenschutz@muster.example"},
        "imprint": "Amtsgericht Hamburg HRB 12345; Geschäftsführer: Max Muster",
        "measures_text": "Serverraum mit Zutrittskontrolle."
    });
    let r = app
        .call(
            "PUT",
            "/api/v1/settings/installation",
            Some(&po),
            Some(settings),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["missing"], json!([]));

    let r = app
        .call(
            "PATCH",
            "/api/v1/purposes/newsletter",
            Some(&po),
            Some(json!({"name_de": "Monatlicher Newsletter", "data_categories": ["contact", "interaction"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = app.call("GET", "/api/v1/ropa", Some(&po), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["controller"]["name"], "Muster Maschinenbau GmbH");
    assert_eq!(r.body["dpo"]["name"], "Dr. Jana Schutz");
    let nl = r.body["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["purpose"] == "newsletter")
        .unwrap()
        .clone();
    assert_eq!(nl["version"], 2);
    assert_eq!(nl["name"]["de"], "Monatlicher Newsletter");
    assert_eq!(nl["legal_basis"], "consent");
    assert_eq!(nl["data_categories"].as_array().unwrap().len(), 2);
    assert!(nl["retention"]["de"].as_str().unwrap().contains("Widerruf"));
    // Sales and the privacy officer read customer data; the administrator does not.
    let recipients = nl["recipients"].to_string();
    assert!(recipients.contains("Vertrieb (1 Konten)"), "{recipients}");
    assert!(!recipients.contains("Administration"));

    let r = app
        .http
        .get(format!("{}/api/v1/ropa?format=md", app.base))
        .bearer_auth(&po)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let md = r.text().await.unwrap();
    assert!(md.contains("Monatlicher Newsletter"));
    assert!(md.contains("Muster Maschinenbau GmbH, Hafenstraße 1, 20457 Hamburg"));
    assert!(md.contains("Serverraum mit Zutrittskontrolle."));
}

#[tokio::test]
async fn settings_are_validated_and_only_settings_roles_see_the_record() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    let r = app
        .call(
            "PUT",
            "/api/v1/settings/installation",
            Some(&admin),
            Some(json!({"controller": {"name": "A\nB", "email": "kein-at"}})),
        )
        .await;
    let mut f = r.problem(422);
    f.sort();
    assert_eq!(f, ["controller.email", "controller.name"]);
    let r = app
        .call("GET", "/api/v1/settings/installation", Some(&admin), None)
        .await;
    assert_eq!(r.body["controller"]["name"], "", "nothing was saved");
    let r = app
        .call(
            "PUT",
            "/api/v1/settings/installation",
            Some(&admin),
            Some(json!({"controler": {}})),
        )
        .await;
    r.problem(r.status);
    assert!(r.status == 400 || r.status == 422);
    app.call("GET", "/api/v1/ropa?format=pdf", Some(&admin), None)
        .await
        .problem(422);
    assert_eq!(
        app.call("GET", "/api/v1/ropa", Some(&admin), None)
            .await
            .status,
        200
    );
    for role in [Role::Sales, Role::Marketing, Role::Viewer] {
        let t = app.user_with_role(&format!("{}@staff.example", role.as_str()), role);
        app.call("GET", "/api/v1/ropa", Some(&t), None)
            .await
            .problem(403);
        app.call(
            "PUT",
            "/api/v1/settings/installation",
            Some(&t),
            Some(json!({})),
        )
        .await
        .problem(403);
    }
}

#[tokio::test]
async fn scheduled_backups_keep_the_newest_and_report_to_the_admin_and_the_metrics() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@staff.example", Role::Admin);
    let sales = app.sales_token();
    let r = app
        .http
        .get(format!("{}/metrics", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("klar_backup_last_run_ok 0")
    );
    let dir = app.dir.path().join("backups");
    for _ in 0..3 {
        let run = app.store.scheduled_backup(&dir, 2).unwrap();
        assert!(run.ok, "{run:?}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        2,
        "the newest two are kept"
    );
    let r = app
        .http
        .get(format!("{}/metrics", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("klar_backup_last_run_ok 1"), "{text}");
    assert!(text.contains("klar_backups_kept 2"), "{text}");
    assert!(text.contains("klar_dsr_open 0"), "{text}");
    let r = app
        .http
        .get(format!("{}/metrics", app.base))
        .bearer_auth(&sales)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let s = crate::app::login(&app, "admin@staff.example", "Correct-Horse-Battery-9").await;
    let html = app
        .http
        .get(format!("{}/settings", app.base))
        .header("cookie", s)
        .header("accept-language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Letzte geplante Sicherung") && html.contains("geschrieben"),
        "the admin sees the last backup"
    );
}
