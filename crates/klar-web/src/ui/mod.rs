//! The server-rendered UI. Pages work without JavaScript (plain forms and links); the
//! small script in `assets/app.js` adds search-as-you-type. No third-party assets, no CDN.

pub mod access_grants;
pub mod account;
pub mod activities;
pub mod assets;
pub mod audit;
pub mod campaigns;
pub mod consent;
pub mod dashboard;
pub mod deals;
pub mod export;
pub mod forms;
pub mod installation;
pub mod layout;
pub mod organizations;
pub mod persons;
pub mod pipeline;
pub mod preferences;
pub mod privacy;
pub mod purposes;
pub mod request;
pub mod requests;
pub mod ropa;
pub mod session;
pub mod settings;
pub mod users;

use crate::AppState;
use crate::error::AppError;
use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
pub use layout::Layout;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(session::home))
        .route(
            "/login",
            get(session::login_page).post(session::login_submit),
        )
        .route(
            "/login/code",
            get(session::code_page).post(session::code_submit),
        )
        .route("/logout", axum::routing::post(session::logout))
        .route(
            "/account/totp",
            get(account::totp_page).post(account::totp_submit),
        )
        .route(
            "/account/totp/recovery-codes",
            axum::routing::post(account::recovery_codes_submit),
        )
        .route("/account/sessions", get(account::sessions_page))
        .route(
            "/account/sessions/revoke-all",
            axum::routing::post(account::sessions_revoke_all_submit),
        )
        .route(
            "/account/sessions/{id}/revoke",
            axum::routing::post(account::session_revoke_submit),
        )
        .route("/assets/{file}", get(assets::asset))
        .route(
            "/persons/{id}/consents",
            axum::routing::post(privacy::persons_consent_submit),
        )
        .route(
            "/persons/{id}/objections",
            axum::routing::post(privacy::persons_objection_submit),
        )
        .route(
            "/persons/{id}/restriction",
            axum::routing::post(privacy::persons_restriction_submit),
        )
        .route(
            "/persons/{id}/legal-hold",
            axum::routing::post(privacy::persons_legal_hold_submit),
        )
        .route(
            "/persons/{id}/art14-notice",
            axum::routing::post(privacy::persons_art14_notice_submit),
        )
        .route(
            "/persons/{id}/grounds",
            axum::routing::post(privacy::persons_grounds_submit),
        )
        .route(
            "/privacy/requests",
            get(requests::requests_list_page).post(requests::requests_create_submit),
        )
        .route("/privacy/requests/{id}", get(requests::requests_show_page))
        .route(
            "/privacy/requests/{id}/steps",
            axum::routing::post(requests::requests_step_submit),
        )
        .route(
            "/privacy/requests/{id}/extension",
            axum::routing::post(requests::requests_extend_submit),
        )
        .route(
            "/privacy/requests/{id}/person",
            axum::routing::post(requests::requests_link_submit),
        )
        .route(
            "/privacy/request",
            get(request::request_page).post(request::request_submit),
        )
        .route(
            "/privacy/request/confirm",
            get(request::request_confirm_page).post(request::request_confirm_submit),
        )
        .route("/campaigns", get(campaigns::campaigns_list_page))
        .route(
            "/campaigns/new",
            get(campaigns::campaigns_new_page).post(campaigns::campaigns_create_submit),
        )
        .route(
            "/campaigns/segment-count",
            get(campaigns::campaigns_segment_count),
        )
        .route("/campaigns/{id}", get(campaigns::campaigns_show_page))
        .route(
            "/campaigns/{id}/edit",
            get(campaigns::campaigns_edit_page).post(campaigns::campaigns_edit_submit),
        )
        .route(
            "/campaigns/{id}/send",
            axum::routing::post(campaigns::campaigns_send_submit),
        )
        .route(
            "/campaigns/{id}/test",
            axum::routing::post(campaigns::campaigns_test_submit),
        )
        .route(
            "/u/{token}",
            get(preferences::unsubscribe_page).post(preferences::unsubscribe_submit),
        )
        .route(
            "/p/{token}",
            get(preferences::preference_page).post(preferences::preference_submit),
        )
        .route(
            "/privacy/preferences",
            get(preferences::ask_page).post(preferences::ask_submit),
        )
        .route("/t/{token}/o.gif", get(preferences::tracking_open))
        .route("/t/{token}/c/{n}", get(preferences::tracking_click))
        .route(
            "/consent/confirm",
            get(consent::consent_confirm_page).post(consent::consent_confirm_submit),
        )
        .route(
            "/admin/users",
            get(users::users_list_page).post(users::users_create_submit),
        )
        .route(
            "/admin/users/{id}",
            axum::routing::post(users::users_update_submit),
        )
        .route(
            "/account/password",
            get(users::password_page).post(users::password_submit),
        )
        .route(
            "/persons",
            get(persons::persons_list_page).post(persons::persons_create_submit),
        )
        .route("/persons/rows", get(persons::persons_rows_partial))
        .route("/persons/new", get(persons::persons_new_page))
        .route(
            "/persons/{id}",
            get(persons::persons_show_page).post(persons::persons_update_submit),
        )
        .route("/persons/{id}/edit", get(persons::persons_edit_page))
        .route(
            "/persons/{id}/activities",
            axum::routing::post(persons::persons_activity_submit),
        )
        .route(
            "/activities/{id}/done",
            axum::routing::post(activities::activity_done_submit),
        )
        .route(
            "/organizations",
            get(organizations::orgs_list_page).post(organizations::orgs_create_submit),
        )
        .route("/organizations/new", get(organizations::orgs_new_page))
        .route(
            "/organizations/{id}",
            get(organizations::orgs_show_page).post(organizations::orgs_update_submit),
        )
        .route(
            "/organizations/{id}/edit",
            get(organizations::orgs_edit_page),
        )
        .route(
            "/deals",
            get(deals::deals_board_page).post(deals::deals_create_submit),
        )
        .route("/deals/new", get(deals::deals_new_page))
        .route(
            "/deals/{id}",
            get(deals::deals_show_page).post(deals::deals_update_submit),
        )
        .route(
            "/deals/{id}/stage",
            axum::routing::post(deals::deals_move_submit),
        )
        .route("/dashboard", get(dashboard::dashboard_page))
        .route(
            "/access-grants",
            get(access_grants::grants_page).post(access_grants::grants_request_submit),
        )
        .route(
            "/access-grants/{id}/approve",
            axum::routing::post(access_grants::grants_approve_submit),
        )
        .route(
            "/access-grants/{id}/refuse",
            axum::routing::post(access_grants::grants_refuse_submit),
        )
        .route(
            "/settings",
            get(settings::settings_page).post(settings::settings_submit),
        )
        .route(
            "/settings/custom-fields",
            axum::routing::post(settings::custom_field_submit),
        )
        .route(
            "/settings/pipeline",
            get(pipeline::pipeline_settings_page).post(pipeline::stage_create_submit),
        )
        .route(
            "/settings/pipeline/{key}",
            axum::routing::post(pipeline::stage_update_submit),
        )
        .route(
            "/settings/pipeline/{key}/delete",
            axum::routing::post(pipeline::stage_delete_submit),
        )
        .route(
            "/settings/installation",
            get(installation::installation_page).post(installation::installation_submit),
        )
        .route("/privacy", get(ropa::privacy_hub_page))
        .route("/privacy/ropa", get(ropa::ropa_page))
        .route("/privacy/audit", get(audit::audit_list_page))
        .route(
            "/privacy/purposes",
            get(purposes::purposes_list_page).post(purposes::purposes_create_submit),
        )
        .route(
            "/privacy/purposes/{key}",
            get(purposes::purposes_edit_page).post(purposes::purposes_update_submit),
        )
}

/// Renders a template into a response with the given status.
pub fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => AppError::Internal(format!("template: {e}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub p: Layout,
    pub status: u16,
    pub message: String,
}

/// Whether the client wants HTML (a browser) rather than JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

pub async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    if wants_html(&headers) && !uri.path().starts_with("/api/") {
        let p = Layout::anonymous(&headers);
        let message = p.t.get("error-not-found").to_string();
        return render(
            StatusCode::NOT_FOUND,
            &ErrorPage {
                p,
                status: 404,
                message,
            },
        );
    }
    AppError::NotFound(format!("there is nothing at {}", uri.path())).into_response()
}

pub async fn method_not_allowed() -> Response {
    AppError::MethodNotAllowed("this method is not allowed here".into()).into_response()
}

/// `1234567` cents in EUR → `12.345,67 EUR`.
pub fn layout_money(cents: i64, currency: &str) -> String {
    let neg = cents < 0;
    let c = cents.unsigned_abs();
    let units = (c / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(ch);
    }
    format!(
        "{}{grouped},{:02} {currency}",
        if neg { "-" } else { "" },
        c % 100
    )
}

/// Records that these persons were shown in a list (names and addresses were read).
pub(crate) fn audit_listed(
    state: &crate::AppState,
    p: &layout::Layout,
    ids: impl Iterator<Item = klar_domain::ids::PersonId>,
) {
    let actor = p.actor();
    state.store.audit_all(ids.map(|pid| {
        klar_store::audit::AuditEntry::new(actor, klar_store::audit::AuditAction::PersonList)
            .person(pid)
    }));
}
