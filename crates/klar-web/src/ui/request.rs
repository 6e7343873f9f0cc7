//! The public request page (`/privacy/request`): a person asks for access, rectification,
//! erasure, restriction, portability or objects, in German or English. The answer on the
//! page is the same whether the address is known or not (no account enumeration); only an
//! address of record gets a confirmation link, and nothing is disclosed before the person
//! has confirmed through it. Opening the link shows a button; only the button confirms.

use super::{Layout, render};
use crate::AppState;
use crate::auth::check_same_origin;
use crate::extract::{ApiQuery, UiForm};
use crate::i18n::{Locale, Tr};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use klar_domain::dsr::{DsrAction, DsrKind};
use klar_domain::email::Email;
use klar_store::audit::AuditActor;
use klar_store::dsr::{DsrTokenRefusal, NewDsr};
use serde::Deserialize;

/// How long a confirmation link of a public request stays valid.
const LINK_DAYS: i64 = 7;

#[derive(Template)]
#[template(path = "request/form.html")]
pub struct RequestPage {
    pub p: Layout,
    pub kinds: Vec<(&'static str, &'static str)>,
    pub kind: String,
    pub email: String,
    pub email_error: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "request/confirm.html")]
pub struct ConfirmPage {
    pub p: Layout,
    pub token: String,
    pub kind: &'static str,
}

fn layout(headers: &HeaderMap, lang: Option<&str>) -> Layout {
    let mut p = Layout::anonymous(headers);
    if let Some(l) = lang.and_then(Locale::parse) {
        p.t = Tr { locale: l };
    }
    p
}

fn kind_label(t: &Tr, k: DsrKind) -> &'static str {
    t.get(&format!("req-kind-{}", k.as_str()))
}

fn form(
    p: Layout,
    kind: String,
    email: String,
    email_error: String,
    error: String,
    status: StatusCode,
) -> Response {
    let kinds = DsrKind::ALL
        .iter()
        .map(|k| (k.as_str(), kind_label(&p.t, *k)))
        .collect();
    render(
        status,
        &RequestPage {
            p,
            kinds,
            kind,
            email,
            email_error,
            error,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct LangParams {
    #[serde(default)]
    lang: Option<String>,
}

pub async fn request_page(headers: HeaderMap, ApiQuery(q): ApiQuery<LangParams>) -> Response {
    let p = layout(&headers, q.lang.as_deref());
    form(
        p,
        "access".into(),
        String::new(),
        String::new(),
        String::new(),
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    lang: Option<String>,
}

pub async fn request_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    UiForm(f): UiForm<RequestForm>,
) -> Response {
    if let Err(e) = check_same_origin(&headers, &state.config.public_url) {
        return e.into_response();
    }
    let p = layout(&headers, f.lang.as_deref());
    let kind = DsrKind::parse(&f.kind);
    let email = Email::parse(&f.email);
    let (kind, email) = match (kind, email) {
        (Ok(k), Ok(e)) => (k, e),
        (k, e) => {
            let email_error = match &e {
                Err(err) => super::forms::localize_message(&err.0, &p.t),
                Ok(_) => String::new(),
            };
            let error = if k.is_err() {
                p.t.get("req-invalid-kind").to_string()
            } else {
                String::new()
            };
            // The address is shown back only to the person who typed it, in the form.
            return form(
                p,
                f.kind,
                f.email,
                email_error,
                error,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let en = p.t.lang() == "en";
    let now = state.store.now();
    let matches = match state.store.find_persons_by_email(&email) {
        Ok(m) => m,
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    let new = NewDsr {
        kind,
        person_id: match matches.as_slice() {
            [one] => Some(*one),
            _ => None,
        },
        requester_email: Some(email.clone()),
        channel: "web".into(),
        scope: (kind == DsrKind::Objection).then(|| "direct_marketing".to_string()),
        received_at: now,
    };
    let known = !matches.is_empty();
    let link_valid = jiff::SignedDuration::from_hours(24 * LINK_DAYS);
    let created = state
        .blocking(move |s| {
            let d = s.create_dsr(AuditActor::DataSubject, &new)?;
            if !known {
                return Ok((d, None));
            }
            let token = s.create_dsr_token(&d.id, link_valid)?;
            let d = s.step_dsr(AuditActor::System, &d.id, DsrAction::RequestIdentity, None)?;
            Ok((d, Some(token)))
        })
        .await;
    let (d, token) = match created {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    // Mail only to an address of record, and in the background, so that the answer takes
    // the same time whether the address is known or not.
    if let (Some(token), Some(mailer)) = (token, state.mailer.clone()) {
        let link = format!(
            "{}/privacy/request/confirm?token={token}",
            state.config.public_url
        );
        let controller = state
            .store
            .installation()
            .map(|i| i.controller.name)
            .unwrap_or_default();
        let (subject, body) = confirmation_mail(en, kind, &controller, &link);
        let to = email.as_str().to_string();
        let id = d.id.clone();
        tokio::spawn(async move {
            if mailer.send_text(&to, &subject, body).await.is_err() {
                tracing::warn!(dsr = id.as_str(), "confirmation mail of a request not sent");
            }
        });
    }
    let (title, message) = (p.t.get("req-sent-title"), p.t.get("req-sent-text"));
    render(
        StatusCode::OK,
        &super::consent::ResultPage { p, title, message },
    )
}

/// A neutral confirmation mail: who asks, what for, the link and its validity; nothing else.
fn confirmation_mail(en: bool, kind: DsrKind, controller: &str, link: &str) -> (String, String) {
    let who = if controller.trim().is_empty() {
        if en { "us" } else { "uns" }.to_string()
    } else {
        controller.trim().to_string()
    };
    if en {
        (
            "Please confirm your data protection request".into(),
            format!(
                "Someone asked {who}, using this email address, for the following ({}):\n\n\
                 {}\n\nIf it was you, please confirm the request here (the link is valid for {LINK_DAYS} days):\n{link}\n\n\
                 If it was not you, ignore this email; nothing will happen.\n",
                kind.article(),
                kind_label(&Tr { locale: Locale::En }, kind)
            ),
        )
    } else {
        (
            "Bitte bestätigen Sie Ihre Datenschutzanfrage".into(),
            format!(
                "Unter dieser E-Mail-Adresse wurde bei {who} Folgendes angefragt ({} DSGVO):\n\n\
                 {}\n\nWenn Sie das waren, bestätigen Sie die Anfrage bitte hier (der Link ist {LINK_DAYS} Tage gültig):\n{link}\n\n\
                 Wenn Sie das nicht waren, ignorieren Sie diese E-Mail; es geschieht nichts.\n",
                kind.article(),
                kind_label(&Tr { locale: Locale::De }, kind)
            ),
        )
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenParams {
    #[serde(default)]
    token: String,
}

fn refusal(p: Layout, r: DsrTokenRefusal) -> Response {
    let (status, key) = match r {
        DsrTokenRefusal::Unknown => (StatusCode::NOT_FOUND, "req-link-unknown"),
        DsrTokenRefusal::Used => (StatusCode::GONE, "req-link-used"),
        DsrTokenRefusal::Expired => (StatusCode::GONE, "req-link-expired"),
    };
    let (title, message) = (p.t.get("req-not-confirmed"), p.t.get(key));
    render(status, &super::consent::ResultPage { p, title, message })
}

/// Opening the link shows what would be confirmed; it confirms nothing.
pub async fn request_confirm_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<TokenParams>,
) -> Response {
    let p = Layout::anonymous(&headers);
    match state.store.peek_dsr_token(&q.token) {
        Ok(Ok(d)) => {
            let kind = kind_label(&p.t, d.kind);
            render(
                StatusCode::OK,
                &ConfirmPage {
                    p,
                    token: q.token,
                    kind,
                },
            )
        }
        Ok(Err(r)) => refusal(p, r),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}

pub async fn request_confirm_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    UiForm(f): UiForm<TokenParams>,
) -> Response {
    if let Err(e) = check_same_origin(&headers, &state.config.public_url) {
        return e.into_response();
    }
    let p = Layout::anonymous(&headers);
    let token = f.token;
    match state
        .blocking(move |s| Ok(s.confirm_dsr_token(&token)?))
        .await
    {
        Ok(Ok(_)) => {
            let (title, message) = (p.t.get("req-confirmed"), p.t.get("req-confirmed-text"));
            render(
                StatusCode::OK,
                &super::consent::ResultPage { p, title, message },
            )
        }
        Ok(Err(r)) => refusal(p, r),
        Err(e) => e.into_response(),
    }
}
