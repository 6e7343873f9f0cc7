//! The route-by-role test (issue 7 item 6): every API route (from the OpenAPI document) and
//! every UI route (read from the router's source, `src/ui/mod.rs`) is called by every role and
//! without a login, and the answer is checked against the permission matrix. A route missing
//! from [`TABLE`] fails the test, so a new route cannot be forgotten. The table is also the
//! "routes" section of `docs/permissions.md` (checked here).
//!
//! Expected: no login → 401 (API) or a redirect to `/login` (UI); a role without the
//! permission → 403; a role with it → neither 401 nor 403 (bad input, 404 and so on are
//! fine: the permission let it through). Routes whose code hides existence (404 instead of
//! 403) would be listed in `HIDES`; none does today.

use crate::app::{TestApp, csrf_of, login};
use klar_domain::role::{Permission, Role};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Nobody needs to log in (login, public pages for data subjects, assets, the API
    /// description).
    Public,
    /// Any logged-in staff member (his own account, settings page).
    LoggedIn,
    /// One permission of the matrix.
    P(Permission),
    /// Either of two permissions.
    Either(Permission, Permission),
}

use Need::*;
use Permission::*;

impl Need {
    fn allows(self, r: Role) -> bool {
        match self {
            Public | LoggedIn => true,
            P(p) => r.allows(p),
            Either(a, b) => r.allows(a) || r.allows(b),
        }
    }

    fn describe(self) -> String {
        match self {
            Public => "public".into(),
            LoggedIn => "any staff login".into(),
            P(p) => format!("`{}`", p.as_str()),
            Either(a, b) => format!("`{}` or `{}`", a.as_str(), b.as_str()),
        }
    }
}

/// Every route: (method, path as routed, what it needs). API paths are as in the OpenAPI
/// document.
const TABLE: &[(&str, &str, Need)] = &[
    // ---- API ----
    ("GET", "/api/v1/openapi.json", Public),
    ("GET", "/api/v1/persons", P(ReadCrm)),
    ("POST", "/api/v1/persons", P(WriteCrm)),
    // read_crm, or a break-glass grant in force for this person (Auth::can_read_person).
    ("GET", "/api/v1/persons/{id}", P(ReadCrm)),
    ("PATCH", "/api/v1/persons/{id}", P(WriteCrm)),
    ("DELETE", "/api/v1/persons/{id}", P(WriteCrm)),
    ("GET", "/api/v1/organizations", P(ReadCrm)),
    ("POST", "/api/v1/organizations", P(WriteCrm)),
    ("GET", "/api/v1/organizations/{id}", P(ReadCrm)),
    ("PATCH", "/api/v1/organizations/{id}", P(WriteCrm)),
    ("GET", "/api/v1/deals", P(ReadCrm)),
    ("POST", "/api/v1/deals", P(WriteCrm)),
    ("GET", "/api/v1/deals/{id}", P(ReadCrm)),
    ("PATCH", "/api/v1/deals/{id}", P(WriteCrm)),
    ("GET", "/api/v1/activities", P(ReadCrm)),
    ("POST", "/api/v1/activities", P(WriteCrm)),
    ("GET", "/api/v1/activities/{id}", P(ReadCrm)),
    ("PATCH", "/api/v1/activities/{id}", P(WriteCrm)),
    ("GET", "/api/v1/custom-fields", P(ReadPipelineConfig)),
    ("POST", "/api/v1/custom-fields", P(ManageSettings)),
    (
        "GET",
        "/api/v1/pipelines/{key}/stages",
        P(ReadPipelineConfig),
    ),
    ("POST", "/api/v1/pipelines/{key}/stages", P(ManageSettings)),
    (
        "PATCH",
        "/api/v1/pipelines/{key}/stages/{stage}",
        P(ManageSettings),
    ),
    (
        "DELETE",
        "/api/v1/pipelines/{key}/stages/{stage}",
        P(ManageSettings),
    ),
    ("GET", "/api/v1/tags", P(ReadCrm)),
    ("GET", "/api/v1/users", P(ManageUsers)),
    ("POST", "/api/v1/users", P(ManageUsers)),
    ("PATCH", "/api/v1/users/{id}", P(ManageUsers)),
    ("GET", "/api/v1/purposes", P(ReadPipelineConfig)),
    ("POST", "/api/v1/purposes", P(ManagePrivacy)),
    ("PATCH", "/api/v1/purposes/{key}", P(ManagePrivacy)),
    ("GET", "/api/v1/persons/{id}/decision", P(ReadCrm)),
    ("GET", "/api/v1/persons/{id}/objections", P(ReadCrm)),
    ("POST", "/api/v1/persons/{id}/objections", P(WriteCrm)),
    ("GET", "/api/v1/persons/{id}/restriction", P(ReadCrm)),
    ("POST", "/api/v1/persons/{id}/restriction", P(ManagePrivacy)),
    (
        "DELETE",
        "/api/v1/persons/{id}/restriction",
        P(ManagePrivacy),
    ),
    ("GET", "/api/v1/persons/{id}/consents", P(ReadCrm)),
    ("POST", "/api/v1/persons/{id}/consents", P(WriteCrm)),
    ("GET", "/api/v1/audit", P(ManagePrivacy)),
    ("POST", "/api/v1/dsr", P(ReadCrm)),
    ("GET", "/api/v1/dsr", P(ManagePrivacy)),
    ("GET", "/api/v1/dsr/{id}", P(ManagePrivacy)),
    ("POST", "/api/v1/dsr/{id}/steps", P(ManagePrivacy)),
    ("POST", "/api/v1/dsr/{id}/extension", P(ManagePrivacy)),
    ("PUT", "/api/v1/dsr/{id}/person", P(ManagePrivacy)),
    (
        "GET",
        "/api/v1/purposes/{key}/assessment",
        P(ReadPipelineConfig),
    ),
    ("PUT", "/api/v1/purposes/{key}/assessment", P(ManagePrivacy)),
    (
        "DELETE",
        "/api/v1/purposes/{key}/assessment",
        P(ManagePrivacy),
    ),
    (
        "GET",
        "/api/v1/purposes/{key}/wordings",
        P(ReadPipelineConfig),
    ),
    ("POST", "/api/v1/purposes/{key}/wordings", P(ManagePrivacy)),
    ("GET", "/api/v1/persons/{id}/grounds", P(ReadCrm)),
    ("GET", "/api/v1/persons/{id}/retention", P(ReadCrm)),
    ("POST", "/api/v1/persons/{id}/legal-hold", P(ManagePrivacy)),
    (
        "DELETE",
        "/api/v1/persons/{id}/legal-hold",
        P(ManagePrivacy),
    ),
    ("GET", "/api/v1/retention/upcoming", P(ManagePrivacy)),
    ("GET", "/api/v1/privacy/art14-due", P(ManagePrivacy)),
    (
        "POST",
        "/api/v1/persons/{id}/art14-notice",
        P(ManagePrivacy),
    ),
    ("PUT", "/api/v1/persons/{id}/presumed-consent", P(WriteCrm)),
    (
        "DELETE",
        "/api/v1/persons/{id}/presumed-consent",
        P(WriteCrm),
    ),
    (
        "PUT",
        "/api/v1/persons/{id}/advertising-marker",
        P(WriteCrm),
    ),
    (
        "DELETE",
        "/api/v1/persons/{id}/advertising-marker",
        P(WriteCrm),
    ),
    ("PUT", "/api/v1/persons/{id}/existing-customer", P(WriteCrm)),
    (
        "DELETE",
        "/api/v1/persons/{id}/existing-customer",
        P(WriteCrm),
    ),
    ("GET", "/api/v1/ropa", P(ManageSettings)),
    ("GET", "/api/v1/settings/installation", P(ManageSettings)),
    ("PUT", "/api/v1/settings/installation", P(ManageSettings)),
    ("GET", "/api/v1/persons/{id}/export", P(ManagePrivacy)),
    ("GET", "/api/v1/persons/{id}/portability", P(ManagePrivacy)),
    ("GET", "/api/v1/processors", P(ManageSettings)),
    ("POST", "/api/v1/processors", P(ManagePrivacy)),
    ("POST", "/api/v1/campaigns", P(ManageCampaigns)),
    ("GET", "/api/v1/campaigns", P(ManageCampaigns)),
    ("GET", "/api/v1/campaigns/{id}", P(ManageCampaigns)),
    ("PATCH", "/api/v1/campaigns/{id}", P(ManageCampaigns)),
    ("POST", "/api/v1/campaigns/{id}/preview", P(ManageCampaigns)),
    ("POST", "/api/v1/campaigns/{id}/test", P(ManageCampaigns)),
    ("POST", "/api/v1/campaigns/{id}/send", P(ManageCampaigns)),
    ("GET", "/api/v1/campaigns/{id}/report", P(ManageCampaigns)),
    ("GET", "/api/v1/segments/count", P(ManageCampaigns)),
    // The privacy officer sees every grant, an administrator his own.
    (
        "GET",
        "/api/v1/access-grants",
        Either(ManagePrivacy, RequestAccess),
    ),
    ("POST", "/api/v1/access-grants", P(RequestAccess)),
    (
        "POST",
        "/api/v1/access-grants/{id}/approve",
        P(ManagePrivacy),
    ),
    (
        "POST",
        "/api/v1/access-grants/{id}/refuse",
        P(ManagePrivacy),
    ),
    // ---- UI ----
    ("GET", "/", Public),
    ("GET", "/login", Public),
    ("POST", "/login", Public),
    ("GET", "/login/code", Public),
    ("POST", "/login/code", Public),
    ("GET", "/assets/{file}", Public),
    ("GET", "/u/{token}", Public),
    ("POST", "/u/{token}", Public),
    ("GET", "/p/{token}", Public),
    ("POST", "/p/{token}", Public),
    ("GET", "/privacy/preferences", Public),
    ("POST", "/privacy/preferences", Public),
    ("GET", "/t/{token}/o.gif", Public),
    ("GET", "/t/{token}/c/{n}", Public),
    ("GET", "/consent/confirm", Public),
    ("POST", "/consent/confirm", Public),
    ("GET", "/privacy/request", Public),
    ("POST", "/privacy/request", Public),
    ("GET", "/privacy/request/confirm", Public),
    ("POST", "/privacy/request/confirm", Public),
    ("GET", "/account/totp", LoggedIn),
    ("POST", "/account/totp", LoggedIn),
    ("POST", "/account/totp/recovery-codes", LoggedIn),
    ("GET", "/account/sessions", LoggedIn),
    ("POST", "/account/sessions/{id}/revoke", LoggedIn),
    ("GET", "/account/password", LoggedIn),
    ("POST", "/account/password", LoggedIn),
    ("GET", "/settings", LoggedIn),
    ("POST", "/settings", LoggedIn),
    ("POST", "/persons/{id}/consents", P(WriteCrm)),
    ("POST", "/persons/{id}/objections", P(WriteCrm)),
    ("POST", "/persons/{id}/restriction", P(ManagePrivacy)),
    ("POST", "/persons/{id}/legal-hold", P(ManagePrivacy)),
    ("POST", "/persons/{id}/art14-notice", P(ManagePrivacy)),
    ("POST", "/persons/{id}/grounds", P(WriteCrm)),
    ("GET", "/privacy/requests", P(ManagePrivacy)),
    ("POST", "/privacy/requests", P(ManagePrivacy)),
    ("GET", "/privacy/requests/{id}", P(ManagePrivacy)),
    ("POST", "/privacy/requests/{id}/steps", P(ManagePrivacy)),
    ("POST", "/privacy/requests/{id}/extension", P(ManagePrivacy)),
    ("POST", "/privacy/requests/{id}/person", P(ManagePrivacy)),
    ("GET", "/campaigns", P(ManageCampaigns)),
    ("GET", "/campaigns/new", P(ManageCampaigns)),
    ("POST", "/campaigns/new", P(ManageCampaigns)),
    ("GET", "/campaigns/segment-count", P(ManageCampaigns)),
    ("GET", "/campaigns/{id}", P(ManageCampaigns)),
    ("GET", "/campaigns/{id}/edit", P(ManageCampaigns)),
    ("POST", "/campaigns/{id}/edit", P(ManageCampaigns)),
    ("POST", "/campaigns/{id}/send", P(ManageCampaigns)),
    ("POST", "/campaigns/{id}/test", P(ManageCampaigns)),
    ("GET", "/admin/users", P(ManageUsers)),
    ("POST", "/admin/users", P(ManageUsers)),
    ("POST", "/admin/users/{id}", P(ManageUsers)),
    ("GET", "/persons", P(ReadCrm)),
    ("POST", "/persons", P(WriteCrm)),
    ("GET", "/persons/rows", P(ReadCrm)),
    ("GET", "/persons/new", P(WriteCrm)),
    // read_crm, or a break-glass grant in force for this person (Auth::can_read_person).
    ("GET", "/persons/{id}", P(ReadCrm)),
    ("POST", "/persons/{id}", P(WriteCrm)),
    ("GET", "/persons/{id}/edit", P(WriteCrm)),
    ("POST", "/persons/{id}/activities", P(WriteCrm)),
    ("POST", "/activities/{id}/done", P(WriteCrm)),
    ("GET", "/organizations", P(ReadCrm)),
    ("POST", "/organizations", P(WriteCrm)),
    ("GET", "/organizations/new", P(WriteCrm)),
    ("GET", "/organizations/{id}", P(ReadCrm)),
    ("POST", "/organizations/{id}", P(WriteCrm)),
    ("GET", "/organizations/{id}/edit", P(WriteCrm)),
    ("GET", "/deals", P(ReadCrm)),
    ("POST", "/deals", P(WriteCrm)),
    ("GET", "/deals/new", P(WriteCrm)),
    ("GET", "/deals/{id}", P(ReadCrm)),
    ("POST", "/deals/{id}", P(WriteCrm)),
    ("POST", "/deals/{id}/stage", P(WriteCrm)),
    ("GET", "/dashboard", P(ReadCrm)),
    (
        "GET",
        "/access-grants",
        Either(ManagePrivacy, RequestAccess),
    ),
    ("POST", "/access-grants", P(RequestAccess)),
    ("POST", "/access-grants/{id}/approve", P(ManagePrivacy)),
    ("POST", "/access-grants/{id}/refuse", P(ManagePrivacy)),
    ("POST", "/settings/custom-fields", P(ManageSettings)),
    ("GET", "/settings/pipeline", P(ManageSettings)),
    ("POST", "/settings/pipeline", P(ManageSettings)),
    ("POST", "/settings/pipeline/{key}", P(ManageSettings)),
    ("POST", "/settings/pipeline/{key}/delete", P(ManageSettings)),
    ("GET", "/settings/installation", P(ManageSettings)),
    ("POST", "/settings/installation", P(ManageSettings)),
    ("GET", "/privacy", Either(ManageSettings, ManagePrivacy)),
    ("GET", "/privacy/ropa", P(ManageSettings)),
    ("GET", "/privacy/audit", P(ManagePrivacy)),
    ("GET", "/privacy/purposes", P(ManageSettings)),
    ("POST", "/privacy/purposes", P(ManagePrivacy)),
    ("GET", "/privacy/purposes/{key}", P(ManagePrivacy)),
    ("POST", "/privacy/purposes/{key}", P(ManagePrivacy)),
    // They end the session, so they are called last.
    ("POST", "/account/sessions/revoke-all", LoggedIn),
    ("POST", "/logout", LoggedIn),
];

/// Routes that answer 404 instead of 403 to hide that a record exists. None today.
const HIDES: &[(&str, &str)] = &[];

/// The `(method, path)` pairs a router declares in `src`: each `.route("path", …)` with the
/// methods named in it.
fn routes_in(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in src.split(".route(").skip(1) {
        // The call ends at the parenthesis that closes `.route(`.
        let mut depth = 1;
        let mut end = chunk.len();
        for (i, c) in chunk.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let call = &chunk[..end];
        let path = call.split('"').nth(1).unwrap().to_string();
        for m in ["get", "post", "put", "patch", "delete"] {
            let pat = format!("{m}(");
            let named = call.match_indices(&pat).any(|(i, _)| {
                i == 0
                    || !call[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if named {
                out.push((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn every_route() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(&klar_web::api::openapi_document()).unwrap();
    let mut api: BTreeSet<(String, String)> = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in item.as_object().unwrap().keys() {
            api.insert((m.to_uppercase(), path.clone()));
        }
    }
    // The API router itself must not have routes the document lacks (but openapi.json).
    let api_src = include_str!("../../src/api/mod.rs");
    let router_src = api_src.split("pub fn router").nth(1).unwrap();
    let router_src = router_src.split("#[derive(OpenApi)]").next().unwrap();
    for (m, p) in routes_in(router_src) {
        let full = (m, format!("/api/v1{p}"));
        if full.1 != "/api/v1/openapi.json" {
            assert!(
                api.contains(&full),
                "{full:?} is routed but not in the OpenAPI document"
            );
        }
        api.insert(full);
    }
    let ui_src = include_str!("../../src/ui/mod.rs");
    let ui_router = ui_src.split("pub fn router").nth(1).unwrap();
    let ui_router = ui_router.split("/// Renders a template").next().unwrap();
    let mut all: Vec<_> = api.into_iter().collect();
    all.extend(routes_in(ui_router));
    all
}

/// The "routes" section of `docs/permissions.md`, generated from [`TABLE`].
fn routes_markdown() -> String {
    let mut s = String::from("| method | path | needs |\n|---|---|---|\n");
    for (m, p, need) in TABLE {
        s.push_str(&format!("| {m} | `{p}` | {} |\n", need.describe()));
    }
    s
}

#[test]
fn every_route_is_in_the_table_and_the_table_is_documented() {
    let routes = every_route();
    let table: BTreeSet<(String, String)> = TABLE
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = routes.iter().filter(|r| !table.contains(r)).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the table in tests/it/routes.rs: {missing:?}"
    );
    let routed: BTreeSet<_> = routes.into_iter().collect();
    let stale: Vec<_> = table.iter().filter(|r| !routed.contains(r)).collect();
    assert!(
        stale.is_empty(),
        "the table names routes that do not exist: {stale:?}"
    );
    let doc = include_str!("../../../../docs/permissions.md");
    let md = routes_markdown();
    assert!(
        doc.contains(&md),
        "docs/permissions.md is out of date; put this table in it:\n{md}"
    );
}

struct Ids {
    person: String,
    organization: String,
    deal: String,
    activity: String,
    dsr: String,
    campaign: String,
    user: String,
    grant: String,
    sales: String,
}

fn concrete(path: &str, ids: &Ids) -> String {
    let id = if path.contains("/persons/") {
        &ids.person
    } else if path.contains("/organizations/") {
        &ids.organization
    } else if path.contains("/deals/") {
        &ids.deal
    } else if path.contains("/activities/") {
        &ids.activity
    } else if path.contains("/dsr/") || path.contains("/privacy/requests/") {
        &ids.dsr
    } else if path.contains("/campaigns/") {
        &ids.campaign
    } else if path.contains("/users/") {
        &ids.user
    } else if path.contains("/access-grants/") {
        &ids.grant
    } else {
        // A session of nobody: revoking it changes nothing.
        "019a0000-0000-7000-8000-000000000000"
    };
    let key = if path.contains("/purposes/") {
        "newsletter"
    } else {
        "default"
    };
    let path = if path == "/api/v1/persons/{id}/decision" {
        "/api/v1/persons/{id}/decision?purpose=newsletter&channel=email"
    } else {
        path
    };
    path.replace("{id}", id)
        .replace("{key}/stages/{stage}", "default/stages/lead")
        .replace("/settings/pipeline/{key}", "/settings/pipeline/lead")
        .replace("{key}", key)
        .replace("{file}", "app.css")
        .replace("{token}", "x")
        .replace("{n}", "0")
}

/// A body of the right shape for the API's writes (the field names are public in the
/// OpenAPI document): the shape is checked when the body is read, before the handler asks
/// for the permission, so a shapeless body would be refused with 400 before the check.
/// The values are deliberately invalid where a write would get in the way of later calls.
fn body_for(m: &str, path: &str) -> Value {
    match (m, path) {
        ("POST", "/api/v1/activities") => json!({"kind": "x", "subject": ""}),
        ("PATCH", "/api/v1/activities/{id}") => json!({"done": false}),
        ("POST", "/api/v1/purposes") => json!({"key": "", "name_de": "", "name_en": "",
            "description_de": "", "description_en": "", "legal_basis": "x", "retention": ""}),
        ("POST", "/api/v1/persons/{id}/objections") => json!({"scope": "x"}),
        ("POST", "/api/v1/persons/{id}/restriction") => json!({"reason": ""}),
        ("POST" | "DELETE", "/api/v1/persons/{id}/legal-hold") => json!({"reason": ""}),
        ("POST", "/api/v1/persons/{id}/consents") => {
            json!({"purpose": "x", "channel": "x", "action": "x"})
        }
        ("POST", "/api/v1/dsr") => json!({"kind": "x"}),
        ("POST", "/api/v1/dsr/{id}/steps") => json!({"action": "x"}),
        ("POST", "/api/v1/dsr/{id}/extension") => json!({"reason": "", "notified_at": "x"}),
        ("PUT", "/api/v1/dsr/{id}/person") => json!({"person_id": "x"}),
        ("PUT", "/api/v1/purposes/{key}/assessment") => json!({"text": ""}),
        ("POST", "/api/v1/purposes/{key}/wordings") => {
            json!({"version": "", "locale": "x", "text": ""})
        }
        ("PUT", "/api/v1/persons/{id}/presumed-consent") => json!({"reason": ""}),
        ("PUT", "/api/v1/persons/{id}/existing-customer") => {
            json!({"deal_id": "x", "email": "x", "goods_class": "", "notice_wording": ""})
        }
        ("POST", "/api/v1/campaigns") | ("PATCH", "/api/v1/campaigns/{id}") => {
            json!({"name": "", "purpose": "x", "subject": "", "body": ""})
        }
        ("POST", "/api/v1/users") => json!({"email": "x", "role": "x"}),
        ("POST", "/api/v1/custom-fields") => {
            json!({"record_type": "x", "key": "", "label": "", "field_type": "x"})
        }
        ("POST", "/api/v1/pipelines/{key}/stages") => {
            json!({"key": "", "name_de": "", "name_en": "", "position": 0, "kind": "x"})
        }
        _ => json!({}),
    }
}

async fn setup(app: &TestApp) -> (Vec<(Role, String, String)>, Ids) {
    let mut who = Vec::new();
    for r in Role::ALL {
        let email = format!("{}@staff.example", r.as_str());
        let token = app.user_with_role(&email, r);
        let cookie = login(app, &email, "Correct-Horse-Battery-9").await;
        who.push((r, token, cookie));
    }
    let token = |r: Role| who.iter().find(|w| w.0 == r).unwrap().1.clone();
    let sales = token(Role::Sales);
    let person = app
        .create_person(&sales, json!({"first_name": "Rita", "last_name": "Route"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let post = |path: &'static str, t: String, body: Value| async move {
        let r = app.call("POST", path, Some(&t), Some(body)).await;
        assert_eq!(r.status, 201, "{path}: {}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    };
    let organization = post(
        "/api/v1/organizations",
        sales.clone(),
        json!({"name": "Route GmbH"}),
    )
    .await;
    let deal = post(
        "/api/v1/deals",
        sales.clone(),
        json!({"title": "Route", "value_cents": 100, "currency": "EUR", "stage": "lead", "person_id": person}),
    )
    .await;
    let activity = post(
        "/api/v1/activities",
        sales.clone(),
        json!({"kind": "note", "person_id": person, "subject": "Route"}),
    )
    .await;
    let dsr = post(
        "/api/v1/dsr",
        token(Role::PrivacyOfficer),
        json!({"kind": "access", "person_id": person, "received_at": "2026-01-31T09:00:00Z"}),
    )
    .await;
    let campaign = post(
        "/api/v1/campaigns",
        token(Role::Marketing),
        json!({"name": "Route", "purpose": "newsletter", "channel": "email",
               "subject": "Hallo", "body": "Hallo {{full_name}}", "segment": {"all": true}}),
    )
    .await;
    let grant = post(
        "/api/v1/access-grants",
        token(Role::Admin),
        json!({"person_id": person, "reason": "route test", "minutes": 5}),
    )
    .await;
    // An account of its own for the user routes: a form without its checkbox may disable it.
    app.user_with_role("target@staff.example", Role::Viewer);
    let user = app
        .store
        .user_by_email("target@staff.example")
        .unwrap()
        .id
        .to_string();
    (
        who,
        Ids {
            person,
            organization,
            deal,
            activity,
            dsr,
            campaign,
            user,
            grant,
            sales,
        },
    )
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_matrix_says() {
    let app = TestApp::spawn().await;
    let (who, ids) = setup(&app).await;
    let mut wrong = Vec::new();
    // Without a login.
    for (m, path, need) in TABLE {
        if *need == Public {
            continue;
        }
        let url = format!("{}{}", app.base, concrete(path, &ids));
        let r = app
            .http
            .request(m.parse().unwrap(), &url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let ok = if path.starts_with("/api/") {
            status == 401
        } else {
            (300..400).contains(&status) && loc.starts_with("/login")
        };
        if !ok {
            wrong.push(format!("{m} {path} without login: {status} {loc}"));
        }
    }
    // Each role: the API with its token, the UI with its session (and CSRF token).
    for (role, token, cookie) in &who {
        let csrf = csrf_of(&app, cookie, "/account/password").await;
        for (m, path, need) in TABLE {
            if *need == Public {
                continue;
            }
            let mut url = format!("{}{}", app.base, concrete(path, &ids));
            if *m == "DELETE" && *path == "/api/v1/persons/{id}" {
                // Erasure: of a person of its own, so the others stay for the later calls.
                let victim = app
                    .create_person(&ids.sales, json!({"last_name": "Opfer"}))
                    .await;
                url = format!(
                    "{}/api/v1/persons/{}",
                    app.base,
                    victim["id"].as_str().unwrap()
                );
            }
            let req = app.http.request(m.parse().unwrap(), &url);
            let req = if path.starts_with("/api/") {
                req.bearer_auth(token).json(&body_for(m, path))
            } else {
                req.header("cookie", cookie)
                    .header("x-csrf-token", &csrf)
                    .form(&[("csrf", csrf.as_str())])
            };
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let allowed = need.allows(*role);
            let hides = HIDES.contains(&(*m, *path));
            let ok = if allowed {
                status != 401 && status != 403
            } else if hides {
                status == 404
            } else {
                status == 403
            };
            if !ok {
                let body = r.text().await.unwrap_or_default();
                let body: String = body.chars().take(160).collect();
                wrong.push(format!(
                    "{m} {path} as {}: {status} (expected {}) {body}",
                    role.as_str(),
                    if allowed { "allowed" } else { "403" }
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
