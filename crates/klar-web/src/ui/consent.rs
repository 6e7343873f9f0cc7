//! The public double opt-in page. Opening the link only shows what would be confirmed and a
//! button; only pressing the button (a POST) confirms, because mail scanners open links.

use super::{Layout, render};
use crate::AppState;
use crate::auth::check_same_origin;
use crate::extract::{ApiQuery, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use klar_store::consents::DoiRefusal;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct TokenParams {
    #[serde(default)]
    token: String,
}

#[derive(Template)]
#[template(path = "consent/confirm.html")]
pub struct ConfirmPage {
    pub p: Layout,
    pub token: String,
    pub purpose: String,
}

#[derive(Template)]
#[template(path = "consent/result.html")]
pub struct ResultPage {
    pub p: Layout,
    pub title: &'static str,
    pub message: &'static str,
}

fn refusal_page(p: Layout, r: DoiRefusal) -> Response {
    let (status, key) = match r {
        DoiRefusal::Unknown => (StatusCode::NOT_FOUND, "doi-unknown"),
        DoiRefusal::Used => (StatusCode::GONE, "doi-used"),
        DoiRefusal::Expired => (StatusCode::GONE, "doi-expired"),
    };
    let (title, message) = (p.t.get("doi-not-confirmed"), p.t.get(key));
    render(status, &ResultPage { p, title, message })
}

fn purpose_name(state: &AppState, p: &Layout, key: &str) -> String {
    let en = p.t.lang() == "en";
    state
        .store
        .purposes()
        .ok()
        .and_then(|ps| ps.into_iter().find(|x| x.key == key))
        .map_or_else(
            || key.to_string(),
            |x| if en { x.name_en } else { x.name_de },
        )
}

pub async fn consent_confirm_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<TokenParams>,
) -> Response {
    let p = Layout::anonymous(&headers);
    match state.store.peek_doi(&q.token) {
        Ok(Ok(req)) => {
            let purpose = purpose_name(&state, &p, &req.purpose);
            render(
                StatusCode::OK,
                &ConfirmPage {
                    p,
                    token: q.token,
                    purpose,
                },
            )
        }
        Ok(Err(r)) => refusal_page(p, r),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    token: String,
}

pub async fn consent_confirm_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: crate::extract::ClientInfo,
    UiForm(f): UiForm<ConfirmForm>,
) -> Response {
    if let Err(e) = check_same_origin(&headers, &state.config.public_url) {
        return e.into_response();
    }
    let p = Layout::anonymous(&headers);
    let token = f.token;
    let evidence = client.evidence("double opt-in link");
    match state
        .blocking(move |s| Ok(s.confirm_doi(&token, &evidence)?))
        .await
    {
        Ok(Ok(req)) => {
            tracing::info!(person_id = %req.person_id, purpose = req.purpose.as_str(), "double opt-in confirmed");
            let (title, message) = (p.t.get("doi-confirmed"), p.t.get("doi-confirmed-text"));
            render(StatusCode::OK, &ResultPage { p, title, message })
        }
        Ok(Err(r)) => refusal_page(p, r),
        Err(e) => e.into_response(),
    }
}
