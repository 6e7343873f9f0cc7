//! Actions on single activities from the pages that list them: marking a task done
//! (from the person timeline and the dashboard's open tasks).

use super::forms::{actor, not_found_page, page_error};
use super::session::UiSession;
use crate::AppState;
use crate::extract::{ApiPath, UiForm};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::ids::ActivityId;
use klar_domain::role::Permission;
use serde::Deserialize;

/// Where the task forms send the browser when nothing else fits.
const DEFAULT_BACK: &str = "/dashboard";

#[derive(Debug, Deserialize)]
pub struct DoneForm {
    #[serde(default)]
    csrf: String,
    /// The page the form was on, to return to.
    #[serde(default)]
    back: String,
}

/// The page to return to: only a person page or the dashboard, as a plain local path.
/// Anything else (another site, `//host`, odd characters) goes to the dashboard.
pub fn safe_back(back: &str) -> &str {
    let local = back.len() <= 200
        && !back.contains("//")
        && !back.contains("..")
        && back
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/.?=&#".contains(c));
    let allowed = back.starts_with("/persons/")
        || back == "/dashboard"
        || back.starts_with("/dashboard?")
        || back.starts_with("/dashboard#");
    if local && allowed { back } else { DEFAULT_BACK }
}

/// Marks a task done and returns to the page the form was on.
pub async fn activity_done_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<DoneForm>,
) -> Response {
    if let Err(r) = s.require(Permission::WriteCrm) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let Ok(aid) = id.parse::<ActivityId>() else {
        return not_found_page(&s, "");
    };
    let actor = actor(&s);
    match state
        .blocking(move |store| Ok(store.set_activity_done(actor, aid, true)?))
        .await
    {
        Ok(_) => Redirect::to(safe_back(&f.back)).into_response(),
        Err(e) => page_error(&s, "", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_person_pages_and_the_dashboard_are_returned_to() {
        for ok in [
            "/persons/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "/persons/abc#timeline",
            "/dashboard",
            "/dashboard?x=1",
        ] {
            assert_eq!(safe_back(ok), ok);
        }
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example",
            "/persons//evil.example",
            "/persons/../settings",
            "/deals/1",
            "/dashboardx",
            "/persons",
            "/persons/x\r\nSet-Cookie: a=b",
            "/persons/ä",
            "/persons/x\\y",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_back(bad), "/dashboard", "{bad:?}");
        }
    }
}
