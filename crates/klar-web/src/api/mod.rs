//! The JSON API under `/api/v1`. Routes and their OpenAPI description are declared side
//! by side; `GET /api/v1/openapi.json` serves the generated document.

pub mod access_grants;
pub mod activities;
pub mod audit;
pub mod campaigns;
pub mod common;
pub mod config;
pub mod deals;
pub mod dsr;
pub mod export;
pub mod grounds;
pub mod organizations;
pub mod persons;
pub mod privacy;
pub mod processors;
pub mod retention;
pub mod settings;
pub mod users;

use crate::AppState;
use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route(
            "/persons",
            get(persons::list_persons).post(persons::create_person),
        )
        .route(
            "/persons/{id}",
            get(persons::get_person)
                .patch(persons::update_person)
                .delete(persons::delete_person),
        )
        .route(
            "/organizations",
            get(organizations::list_organizations).post(organizations::create_organization),
        )
        .route(
            "/organizations/{id}",
            get(organizations::get_organization).patch(organizations::update_organization),
        )
        .route("/deals", get(deals::list_deals).post(deals::create_deal))
        .route(
            "/deals/{id}",
            get(deals::get_deal).patch(deals::update_deal),
        )
        .route(
            "/activities",
            get(activities::list_activities).post(activities::create_activity),
        )
        .route(
            "/activities/{id}",
            get(activities::get_activity).patch(activities::update_activity),
        )
        .route(
            "/custom-fields",
            get(config::list_custom_fields).post(config::create_custom_field),
        )
        .route(
            "/pipelines/{key}/stages",
            get(config::list_stages).post(config::create_stage),
        )
        .route(
            "/pipelines/{key}/stages/{stage}",
            axum::routing::patch(config::update_stage).delete(config::delete_stage),
        )
        .route("/tags", get(config::list_tags))
        .route(
            "/purposes",
            get(privacy::list_purposes).post(privacy::create_purpose),
        )
        .route(
            "/purposes/{key}",
            axum::routing::patch(privacy::update_purpose),
        )
        .route("/persons/{id}/decision", get(privacy::person_decision))
        .route(
            "/persons/{id}/consents",
            get(privacy::list_consents).post(privacy::record_consent),
        )
        .route(
            "/persons/{id}/objections",
            get(privacy::list_objections).post(privacy::create_objection),
        )
        .route(
            "/persons/{id}/restriction",
            get(privacy::get_restriction)
                .post(privacy::restrict_person)
                .delete(privacy::lift_restriction),
        )
        .route(
            "/purposes/{key}/assessment",
            get(grounds::get_assessment)
                .put(grounds::put_assessment)
                .delete(grounds::delete_assessment),
        )
        .route(
            "/purposes/{key}/wordings",
            get(grounds::list_wordings).post(grounds::create_wording),
        )
        .route("/persons/{id}/grounds", get(grounds::get_grounds))
        .route("/persons/{id}/retention", get(retention::get_retention))
        .route(
            "/persons/{id}/legal-hold",
            axum::routing::post(retention::place_legal_hold).delete(retention::release_legal_hold),
        )
        .route("/retention/upcoming", get(retention::list_upcoming))
        .route("/privacy/art14-due", get(retention::list_art14_due))
        .route(
            "/persons/{id}/art14-notice",
            axum::routing::post(retention::record_art14_notice),
        )
        .route(
            "/persons/{id}/presumed-consent",
            axum::routing::put(grounds::put_presumed_consent)
                .delete(grounds::delete_presumed_consent),
        )
        .route(
            "/persons/{id}/advertising-marker",
            axum::routing::put(grounds::put_advertising_marker)
                .delete(grounds::delete_advertising_marker),
        )
        .route(
            "/persons/{id}/existing-customer",
            axum::routing::put(grounds::put_existing_customer)
                .delete(grounds::delete_existing_customer),
        )
        .route("/dsr", get(dsr::list_dsr).post(dsr::create_dsr))
        .route("/dsr/{id}", get(dsr::get_dsr))
        .route("/dsr/{id}/steps", axum::routing::post(dsr::step_dsr))
        .route("/dsr/{id}/extension", axum::routing::post(dsr::extend_dsr))
        .route("/dsr/{id}/person", axum::routing::put(dsr::link_dsr))
        .route("/persons/{id}/export", get(export::export_person))
        .route("/persons/{id}/portability", get(export::person_portability))
        .route(
            "/processors",
            get(processors::list_processors).post(processors::create_processor),
        )
        .route("/audit", get(audit::list_audit))
        .route("/ropa", get(settings::get_ropa))
        .route(
            "/settings/installation",
            get(settings::get_installation).put(settings::put_installation),
        )
        .route(
            "/campaigns",
            get(campaigns::list_campaigns).post(campaigns::create_campaign),
        )
        .route(
            "/campaigns/{id}",
            get(campaigns::get_campaign).patch(campaigns::update_campaign),
        )
        .route(
            "/campaigns/{id}/preview",
            axum::routing::post(campaigns::preview_campaign),
        )
        .route(
            "/campaigns/{id}/test",
            axum::routing::post(campaigns::test_campaign),
        )
        .route(
            "/campaigns/{id}/send",
            axum::routing::post(campaigns::send_campaign),
        )
        .route("/campaigns/{id}/report", get(campaigns::campaign_report))
        .route("/segments/count", get(campaigns::segment_count))
        .route("/users", get(users::list_users).post(users::create_user))
        .route("/users/{id}", axum::routing::patch(users::update_user))
        .route(
            "/access-grants",
            get(access_grants::list_grants).post(access_grants::create_grant),
        )
        .route(
            "/access-grants/{id}/approve",
            axum::routing::post(access_grants::approve_grant),
        )
        .route(
            "/access-grants/{id}/refuse",
            axum::routing::post(access_grants::refuse_grant),
        )
        .fallback(common::api_not_found)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Klar API", description = "The JSON API of Klar, the privacy-first CRM. Errors are RFC 9457 problem documents."),
    paths(
        persons::list_persons, persons::create_person, persons::get_person, persons::update_person, persons::delete_person,
        organizations::list_organizations, organizations::create_organization, organizations::get_organization,
        organizations::update_organization,
        deals::list_deals, deals::create_deal, deals::get_deal, deals::update_deal,
        activities::list_activities, activities::create_activity, activities::get_activity, activities::update_activity,
        config::list_custom_fields, config::create_custom_field, config::list_stages, config::create_stage,
        config::update_stage, config::delete_stage, config::list_tags,
        users::list_users, users::create_user, users::update_user,
        privacy::list_purposes, privacy::create_purpose, privacy::update_purpose, privacy::person_decision, privacy::create_objection, privacy::list_objections,
        privacy::get_restriction, privacy::restrict_person, privacy::lift_restriction,
        privacy::record_consent, privacy::list_consents,
        audit::list_audit,
        dsr::create_dsr, dsr::list_dsr, dsr::get_dsr, dsr::step_dsr, dsr::extend_dsr, dsr::link_dsr,
        grounds::get_assessment, grounds::put_assessment, grounds::delete_assessment,
        grounds::list_wordings, grounds::create_wording, grounds::get_grounds,
        grounds::put_presumed_consent, grounds::delete_presumed_consent,
        grounds::put_advertising_marker, grounds::delete_advertising_marker,
        grounds::put_existing_customer, grounds::delete_existing_customer, settings::get_ropa, settings::get_installation, settings::put_installation,
        export::export_person, export::person_portability,
        processors::list_processors, processors::create_processor,
        campaigns::create_campaign, campaigns::list_campaigns, campaigns::get_campaign, campaigns::update_campaign,
        campaigns::preview_campaign, campaigns::test_campaign, campaigns::send_campaign, campaigns::campaign_report,
        campaigns::segment_count,
        access_grants::list_grants, access_grants::create_grant, access_grants::approve_grant,
        access_grants::refuse_grant,
        retention::get_retention, retention::place_legal_hold, retention::release_legal_hold,
        retention::list_upcoming, retention::list_art14_due, retention::record_art14_notice,
    ),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "persons", description = "People: contacts and leads. Personal fields are encrypted at rest."),
        (name = "organizations", description = "Companies and other organizations."),
        (name = "deals", description = "Deals in the sales pipeline."),
        (name = "activities", description = "Notes, calls, meetings, emails and tasks on the timeline."),
        (name = "configuration", description = "Custom fields, pipeline stages and tags."),
        (name = "users", description = "Personal staff accounts and their roles."),
        (name = "privacy", description = "Purposes and legal bases; the policy gate's decisions."),
        (name = "campaigns", description = "Segments and email campaigns, filtered by the policy gate at preview and at send time."),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::new(crate::auth::SESSION_COOKIE),
            )),
        );
    }
}

/// The OpenAPI 3.1 document, generated from the handlers.
pub fn openapi_document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into())
}

async fn openapi_json() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi_document(),
    )
}
