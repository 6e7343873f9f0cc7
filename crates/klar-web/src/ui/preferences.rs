//! The person's own pages, reached from every campaign mail without a login:
//!
//! - `/u/{token}`: the one-click unsubscribe (RFC 8058). `GET` shows a button (mail scanners
//!   open links); `POST` (the button, or the mail client's `List-Unsubscribe=One-Click`)
//!   withdraws at once with source `one_click`. A used link changes nothing again.
//! - `/p/{token}`: the preference page. Every optional purpose with its description and
//!   channel, off until the person switches it on; switching an email purpose on goes
//!   through double opt-in; every change is a consent event with source
//!   `preference_center`; one button objects to all direct marketing.
//! - `/privacy/preferences`: asks for a new link by email (same answer for every address).
//! - `/t/{token}/o.gif`, `/t/{token}/c/{n}`: opens and clicks, only in mails of persons whose
//!   `email_tracking` consent was confirmed when the mail was sent.

use super::consent::ResultPage;
use super::{Layout, render};
use crate::AppState;
use crate::auth::check_same_origin;
use crate::campaigns::PREFERENCE_LINK_DAYS;
use crate::extract::{ApiQuery, ClientInfo, UiForm};
use crate::i18n::{Locale, Tr};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::email::Email;
use klar_domain::ids::PersonId;
use klar_domain::policy::{
    Channel, ConsentEvent, ConsentEventKind, ConsentSource, ConsentState, LegalBasis,
    ObjectionScope, consent_state,
};
use klar_store::Actor;
use klar_store::campaigns::Unsubscribed;
use serde::Deserialize;

fn layout(headers: &HeaderMap, lang: Option<&str>) -> Layout {
    let mut p = Layout::anonymous(headers);
    if let Some(l) = lang.and_then(Locale::parse) {
        p.t = Tr { locale: l };
    }
    p
}

fn result(p: Layout, status: StatusCode, title: &str, message: &str) -> Response {
    let (title, message) = (p.t.get(title), p.t.get(message));
    render(status, &ResultPage { p, title, message })
}

fn invalid_link(p: Layout) -> Response {
    result(
        p,
        StatusCode::NOT_FOUND,
        "pref-invalid-title",
        "pref-invalid-text",
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct LangParams {
    #[serde(default)]
    lang: Option<String>,
}

// ----------------------------------------------------------------------------------------
// One-click unsubscribe

#[derive(Template)]
#[template(path = "preferences/unsubscribe.html")]
pub struct UnsubscribePage {
    pub p: Layout,
    pub token: String,
}

pub async fn unsubscribe_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    ApiQuery(q): ApiQuery<LangParams>,
) -> Response {
    let p = layout(&headers, q.lang.as_deref());
    match state.store.unsubscribe_token_valid(&token) {
        Ok(true) => render(StatusCode::OK, &UnsubscribePage { p, token }),
        Ok(false) => invalid_link(p),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}

/// RFC 8058: a `POST` with `List-Unsubscribe=One-Click` from the mail client, or the
/// page's button. No origin check: mail providers post from their own servers, and the
/// only effect is less processing of the token holder's data.
pub async fn unsubscribe_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let p = layout(&headers, None);
    match state.blocking(move |s| Ok(s.unsubscribe(&token)?)).await {
        Ok(Some(Unsubscribed::Withdrawn | Unsubscribed::Objected)) => {
            result(p, StatusCode::OK, "unsub-done-title", "unsub-done-text")
        }
        Ok(Some(Unsubscribed::AlreadyDone)) => {
            result(p, StatusCode::OK, "unsub-done-title", "unsub-already-text")
        }
        Ok(None) => invalid_link(p),
        Err(e) => e.into_response(),
    }
}

// ----------------------------------------------------------------------------------------
// The preference page

pub struct PurposeRow {
    pub key: String,
    pub name: String,
    pub description: String,
    pub channel: &'static str,
    pub channel_label: &'static str,
    /// `on`, `pending` or `off`.
    pub state: &'static str,
    /// The consent text the person agrees to by switching on (its version is recorded).
    pub wording: String,
    pub can_switch_on: bool,
}

#[derive(Template)]
#[template(path = "preferences/page.html")]
pub struct PreferencePage {
    pub p: Layout,
    pub token: String,
    pub controller: String,
    pub rows: Vec<PurposeRow>,
    pub objected: bool,
    pub notice: String,
}

fn channel_label(t: &Tr, c: Channel) -> &'static str {
    t.get(&format!("pref-channel-{}", c.as_str()))
}

fn page(state: &AppState, p: Layout, token: String, pid: PersonId, notice: &str) -> Response {
    let en = p.t.lang() == "en";
    let lang = p.t.lang();
    let built = (|| -> crate::error::AppResult<PreferencePage> {
        let s = &state.store;
        let purposes = s.purposes()?;
        let events = s.consent_events(pid)?;
        let wordings = s.all_wordings()?;
        let now = s.now();
        let config = state.config.consent_config();
        let objected = s
            .objections(pid)?
            .iter()
            .any(|o| o.scope == ObjectionScope::DirectMarketing.as_str());
        let mut rows = Vec::new();
        for pu in purposes
            .iter()
            .filter(|x| x.active && x.legal_basis == LegalBasis::Consent)
        {
            let wording = wordings
                .iter()
                .find(|w| w.purpose == pu.key && w.locale == lang)
                .or_else(|| wordings.iter().find(|w| w.purpose == pu.key));
            for ch in &pu.channels {
                let st = match consent_state(&events, &pu.key, *ch, now, &config) {
                    ConsentState::Given { .. } => "on",
                    ConsentState::Pending { .. } => "pending",
                    _ => "off",
                };
                rows.push(PurposeRow {
                    key: pu.key.clone(),
                    name: if en {
                        pu.name_en.clone()
                    } else {
                        pu.name_de.clone()
                    },
                    description: if en {
                        pu.description_en.clone()
                    } else {
                        pu.description_de.clone()
                    },
                    channel: ch.as_str(),
                    channel_label: channel_label(&p.t, *ch),
                    state: st,
                    wording: wording.map(|w| w.text.clone()).unwrap_or_default(),
                    can_switch_on: wording.is_some(),
                });
            }
        }
        Ok(PreferencePage {
            controller: s.installation()?.controller.name,
            notice: if notice.is_empty() {
                String::new()
            } else {
                p.t.get(notice).to_string()
            },
            p,
            token,
            rows,
            objected,
        })
    })();
    match built {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => e.into_response(),
    }
}

pub async fn preference_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    ApiQuery(q): ApiQuery<LangParams>,
) -> Response {
    let p = layout(&headers, q.lang.as_deref());
    match state.store.preference_person(&token) {
        Ok(Some(pid)) => page(&state, p, token, pid, ""),
        Ok(None) => invalid_link(p),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct PreferenceForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    lang: Option<String>,
}

pub async fn preference_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    Path(token): Path<String>,
    UiForm(f): UiForm<PreferenceForm>,
) -> Response {
    if let Err(e) = check_same_origin(&headers, &state.config.public_url) {
        return e.into_response();
    }
    let p = layout(&headers, f.lang.as_deref());
    let pid = match state.store.preference_person(&token) {
        Ok(Some(pid)) => pid,
        Ok(None) => return invalid_link(p),
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    let notice = match change(&state, pid, &f, &client, p.t.lang()).await {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    page(&state, p, token, pid, notice)
}

/// Applies one change of the preference page; returns the key of the notice to show.
async fn change(
    state: &AppState,
    pid: PersonId,
    f: &PreferenceForm,
    client: &ClientInfo,
    lang: &str,
) -> crate::error::AppResult<&'static str> {
    if f.action == "object" {
        state
            .blocking(move |s| {
                s.record_objection(
                    Actor::system(),
                    pid,
                    &ObjectionScope::DirectMarketing,
                    ConsentSource::PreferenceCenter.as_str(),
                )?;
                Ok(())
            })
            .await?;
        return Ok("pref-objected");
    }
    let purposes = state.store.purposes()?;
    let (Some(purpose), Ok(channel)) = (
        purposes
            .iter()
            .find(|x| x.key == f.purpose && x.active && x.legal_basis == LegalBasis::Consent),
        Channel::parse(&f.channel),
    ) else {
        return Ok("pref-unknown");
    };
    if !purpose.allows(channel) {
        return Ok("pref-unknown");
    }
    let now = state.store.now();
    let events = state.store.consent_events(pid)?;
    let config = state.config.consent_config();
    let current = consent_state(&events, &purpose.key, channel, now, &config);
    match f.action.as_str() {
        "off" => {
            if matches!(
                current,
                ConsentState::Given { .. } | ConsentState::Pending { .. }
            ) {
                let wording = events
                    .iter()
                    .rev()
                    .find(|e| e.purpose == purpose.key && e.kind == ConsentEventKind::Grant)
                    .map(|e| e.wording_version.clone())
                    .unwrap_or_default();
                let e = ConsentEvent {
                    at: now,
                    purpose: purpose.key.clone(),
                    channel,
                    kind: ConsentEventKind::Withdraw,
                    source: ConsentSource::PreferenceCenter,
                    wording_version: wording,
                    evidence: None,
                };
                state
                    .blocking(move |s| Ok(s.preference_event(pid, &e)?))
                    .await?;
            }
            Ok("pref-saved")
        }
        "on" => {
            if matches!(current, ConsentState::Given { .. }) {
                return Ok("pref-saved");
            }
            let wordings = state.store.wordings(&purpose.key)?;
            let Some(w) = wordings
                .iter()
                .find(|w| w.locale == lang)
                .or_else(|| wordings.first())
            else {
                return Ok("pref-unknown");
            };
            let doi = channel == Channel::Email;
            let to = if doi {
                let Some(mailer) = state.mailer.clone() else {
                    return Ok("pref-no-mail");
                };
                let Some(to) = state
                    .store
                    .get_person(pid)?
                    .personal
                    .primary_email()
                    .map(|e| e.as_str().to_owned())
                else {
                    return Ok("pref-no-address");
                };
                Some((mailer, to))
            } else {
                None
            };
            let e = ConsentEvent {
                at: now,
                purpose: purpose.key.clone(),
                channel,
                kind: ConsentEventKind::Grant,
                source: ConsentSource::PreferenceCenter,
                wording_version: w.version.clone(),
                // The page's own record proves the grant (§7a UWG for phone): when, from
                // which network, with which browser.
                evidence: Some(client.evidence("preference page")),
            };
            let key = purpose.key.clone();
            let version = w.version.clone();
            let window = state.config.doi_window();
            let token = state
                .blocking(move |s| {
                    s.preference_event(pid, &e)?;
                    Ok(if doi {
                        Some(s.create_doi(pid, &key, &version, window)?)
                    } else {
                        None
                    })
                })
                .await?;
            if let (Some((mailer, to)), Some(token)) = (to, token) {
                let link = format!("{}/consent/confirm?token={token}", state.config.public_url);
                let (subject, body) = crate::api::privacy::confirmation_mail(
                    purpose,
                    &link,
                    state.config.doi_expiry_days,
                );
                state.store.audit(
                    klar_store::audit::AuditEntry::new(
                        klar_store::audit::AuditActor::DataSubject,
                        klar_store::audit::AuditAction::DoiMailSent,
                    )
                    .person(pid)
                    .purpose(&purpose.key)
                    .channel(channel),
                );
                if mailer.send_text(&to, &subject, body).await.is_err() {
                    return Ok("pref-mail-failed");
                }
                return Ok("pref-doi-sent");
            }
            Ok("pref-saved")
        }
        _ => Ok("pref-unknown"),
    }
}

// ----------------------------------------------------------------------------------------
// A new link by email

#[derive(Template)]
#[template(path = "preferences/ask.html")]
pub struct AskPage {
    pub p: Layout,
    pub email: String,
    pub email_error: String,
}

pub async fn ask_page(headers: HeaderMap, ApiQuery(q): ApiQuery<LangParams>) -> Response {
    let p = layout(&headers, q.lang.as_deref());
    render(
        StatusCode::OK,
        &AskPage {
            p,
            email: String::new(),
            email_error: String::new(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct AskForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    lang: Option<String>,
}

/// The same answer for every address; a link goes only to an address of record.
pub async fn ask_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    UiForm(f): UiForm<AskForm>,
) -> Response {
    if let Err(e) = check_same_origin(&headers, &state.config.public_url) {
        return e.into_response();
    }
    let p = layout(&headers, f.lang.as_deref());
    let email = match Email::parse(&f.email) {
        Ok(e) => e,
        Err(err) => {
            let email_error = super::forms::localize_message(&err.0, &p.t);
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &AskPage {
                    p,
                    email: f.email,
                    email_error,
                },
            );
        }
    };
    let matches = match state.store.find_persons_by_email(&email) {
        Ok(m) => m,
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    if let ([pid], Some(mailer)) = (matches.as_slice(), state.mailer.clone()) {
        let pid = *pid;
        let ttl = jiff::SignedDuration::from_hours(24 * PREFERENCE_LINK_DAYS);
        match state
            .blocking(move |s| Ok(s.issue_preference_token(pid, ttl)?))
            .await
        {
            Ok(token) => {
                let en = p.t.lang() == "en";
                let link = format!("{}/p/{token}", state.config.public_url);
                let (subject, body) = if en {
                    (
                        "Your privacy settings".to_string(),
                        format!(
                            "Here you can see and change what we may contact you for (the link is valid for {PREFERENCE_LINK_DAYS} days):\n{link}\n\nIf you did not ask for this, ignore this email.\n"
                        ),
                    )
                } else {
                    (
                        "Ihre Datenschutz-Einstellungen".to_string(),
                        format!(
                            "Hier sehen und ändern Sie, wofür wir Sie kontaktieren dürfen (der Link ist {PREFERENCE_LINK_DAYS} Tage gültig):\n{link}\n\nWenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail.\n"
                        ),
                    )
                };
                let to = email.as_str().to_string();
                tokio::spawn(async move {
                    if mailer.send_text(&to, &subject, body).await.is_err() {
                        tracing::warn!("preference link mail not sent");
                    }
                });
            }
            Err(e) => return e.into_response(),
        }
    }
    result(
        p,
        StatusCode::OK,
        "pref-ask-sent-title",
        "pref-ask-sent-text",
    )
}

// ----------------------------------------------------------------------------------------
// Consented tracking

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

pub async fn tracking_open(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let _ = state
        .blocking(move |s| Ok(s.record_tracking(&token, "open", None)?))
        .await;
    let mut r = PIXEL.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"));
    r
}

pub async fn tracking_click(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((token, n)): Path<(String, usize)>,
) -> Response {
    let target = state.blocking(move |s| {
        let Some(cid) = s.tracking_campaign(&token)? else {
            return Ok(None);
        };
        let Some(c) = s.campaign(&cid)? else {
            return Ok(None);
        };
        let links = klar_domain::campaign::Template::parse(&c.spec.body)
            .map(|t| t.links())
            .unwrap_or_default();
        let Some(url) = links.get(n).cloned() else {
            return Ok(None);
        };
        s.record_tracking(&token, "click", Some(n as i64))?;
        Ok(Some(url))
    });
    match target.await {
        Ok(Some(url)) => Redirect::to(&url).into_response(),
        Ok(None) => invalid_link(layout(&headers, None)),
        Err(e) => e.into_response(),
    }
}
