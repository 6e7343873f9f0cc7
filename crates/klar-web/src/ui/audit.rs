//! The audit trail for the privacy officer (`/privacy/audit`): newest first, 50 entries a
//! page, filtered by person, action and days. Entries carry ids and codes only; the page
//! resolves staff ids to their email (one query for the page) and shows a person only by
//! her id. Reading the trail is itself recorded.

use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::extract::ApiQuery;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use klar_domain::ids::PersonId;
use klar_domain::role::Permission;
use klar_store::audit::{AuditAction, AuditEntry, AuditFilter, AuditRecord};
use serde::Deserialize;
use std::collections::HashMap;

/// Entries on one page.
pub const PAGE_SIZE: usize = 50;

/// The time zone the trail is shown in. The POSIX rule is the fallback for systems
/// without a time zone database.
pub fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin")
        .or_else(|_| TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3"))
        .unwrap_or(TimeZone::UTC)
}

/// The filter as typed (a GET form); everything is text so that a bad value becomes a
/// message at its field rather than a rejected request.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuditParams {
    #[serde(default)]
    pub person_id: String,
    #[serde(default)]
    pub action: String,
    /// `YYYY-MM-DD`: entries from the start of this day (Europe/Berlin).
    #[serde(default)]
    pub since: String,
    /// `YYYY-MM-DD`: entries up to the end of this day (Europe/Berlin).
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub cursor: String,
}

/// One entry as shown.
pub struct Row {
    /// RFC 3339, for `<time datetime>`.
    pub at_iso: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub person_id: String,
    pub purpose: String,
    pub channel: String,
    pub rule: String,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "privacy/audit.html")]
pub struct AuditPage {
    pub p: Layout,
    pub f: AuditParams,
    /// `(value, label)` of every action, for the select.
    pub actions: Vec<(&'static str, &'static str)>,
    pub errors: HashMap<&'static str, String>,
    pub rows: Vec<Row>,
    /// The link to the next (older) page, with the filter.
    pub older: Option<String>,
    /// Whether this is a later page (a cursor was given).
    pub paged: bool,
}

impl AuditPage {
    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }
}

/// The translation key of an action's label: `doi.mail_sent` → `audit-action-doi-mail-sent`.
pub fn action_key(a: AuditAction) -> String {
    format!("audit-action-{}", a.as_str().replace(['.', '_'], "-"))
}

fn action_label(p: &Layout, s: &str) -> String {
    match AuditAction::parse(s) {
        Some(a) => p.t.get(&action_key(a)).to_string(),
        None => s.to_string(),
    }
}

fn actor_label(p: &Layout, actor: &str, emails: &HashMap<String, String>) -> String {
    if let Some(uid) = actor.strip_prefix("user:") {
        return emails
            .get(uid)
            .cloned()
            .unwrap_or_else(|| format!("{} {uid}", p.t.get("audit-actor-user")));
    }
    match actor {
        "system" => p.t.get("audit-actor-system").to_string(),
        "data_subject" => p.t.get("audit-actor-data-subject").to_string(),
        "anonymous" => p.t.get("audit-actor-anonymous").to_string(),
        other => other.to_string(),
    }
}

/// A time in Europe/Berlin, formatted for the UI language.
pub fn local_time(p: &Layout, at: jiff::Timestamp, tz: &TimeZone) -> String {
    let z = at.to_zoned(tz.clone());
    let fmt = if p.t.lang() == "en" {
        "%Y-%m-%d %H:%M:%S %Z"
    } else {
        "%d.%m.%Y, %H:%M:%S %Z"
    };
    z.strftime(fmt).to_string()
}

fn row(p: &Layout, r: AuditRecord, emails: &HashMap<String, String>, tz: &TimeZone) -> Row {
    let channel = match r.channel.as_deref() {
        Some(c) => {
            let l = p.t.get(&format!("channel-{c}"));
            if l == "??" { c.to_string() } else { l.into() }
        }
        None => String::new(),
    };
    Row {
        at_iso: r.at.to_string(),
        at: local_time(p, r.at, tz),
        actor: actor_label(p, &r.actor, emails),
        action: action_label(p, &r.action),
        person_id: r.person_id.unwrap_or_default(),
        purpose: r.purpose.unwrap_or_default(),
        channel,
        rule: r.rule.unwrap_or_default(),
        outcome: r.outcome.unwrap_or_default(),
    }
}

/// The start of a day in `tz`.
fn day_start(d: Date, tz: &TimeZone) -> Option<jiff::Timestamp> {
    d.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

/// Reads the typed filter; errors are keyed by field and already in the UI language.
fn parse(
    f: &AuditParams,
    p: &Layout,
    tz: &TimeZone,
) -> Result<AuditFilter, HashMap<&'static str, String>> {
    let mut errors = HashMap::new();
    let mut filter = AuditFilter {
        limit: PAGE_SIZE,
        ..Default::default()
    };
    let person = f.person_id.trim();
    if !person.is_empty() {
        match person.parse::<PersonId>() {
            Ok(pid) => filter.person_id = Some(pid),
            Err(_) => {
                errors.insert("person_id", p.t.get("audit-filter-person-invalid").into());
            }
        }
    }
    let action = f.action.trim();
    if !action.is_empty() {
        match AuditAction::parse(action) {
            Some(a) => filter.action = Some(a),
            None => {
                errors.insert("action", p.t.get("audit-filter-action-invalid").into());
            }
        }
    }
    let date = |s: &str| -> Result<Option<Date>, ()> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<Date>().map(Some).map_err(|_| ())
    };
    let since = date(&f.since);
    let until = date(&f.until);
    match since {
        Ok(d) => filter.since = d.and_then(|d| day_start(d, tz)),
        Err(()) => {
            errors.insert("since", p.t.get("audit-filter-date-invalid").into());
        }
    }
    match until {
        Ok(d) => {
            filter.until = d
                .and_then(|d| d.tomorrow().ok())
                .and_then(|d| day_start(d, tz))
        }
        Err(()) => {
            errors.insert("until", p.t.get("audit-filter-date-invalid").into());
        }
    }
    if let (Ok(Some(a)), Ok(Some(b))) = (since, until)
        && b < a
    {
        errors.insert("until", p.t.get("audit-filter-until-before-since").into());
    }
    let cursor = f.cursor.trim();
    if !cursor.is_empty() {
        match klar_store::cursor::decode::<i64>(cursor) {
            Some(seq) => filter.before_seq = Some(seq),
            None => {
                errors.insert("cursor", p.t.get("audit-filter-cursor-invalid").into());
            }
        }
    }
    if errors.is_empty() {
        Ok(filter)
    } else {
        Err(errors)
    }
}

/// The link to the next page: the filter as typed (checked values only) and the cursor.
fn older_link(f: &AuditParams, cursor: &str) -> String {
    let mut q = String::from("/privacy/audit?");
    for (k, v) in [
        ("person_id", f.person_id.trim()),
        ("action", f.action.trim()),
        ("since", f.since.trim()),
        ("until", f.until.trim()),
    ] {
        if !v.is_empty() {
            q.push_str(k);
            q.push('=');
            q.push_str(&url_escape(v));
            q.push('&');
        }
    }
    q.push_str("cursor=");
    q.push_str(&url_escape(cursor));
    q
}

/// Percent-encodes everything but unreserved characters.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn action_options(p: &Layout) -> Vec<(&'static str, &'static str)> {
    AuditAction::ALL
        .into_iter()
        .map(|a| (a.as_str(), p.t.get(&action_key(a))))
        .collect()
}

pub async fn audit_list_page(
    State(state): State<AppState>,
    s: UiSession,
    ApiQuery(f): ApiQuery<AuditParams>,
) -> Response {
    if let Err(r) = s.require(Permission::ManagePrivacy) {
        return r;
    }
    let p = s.layout("privacy");
    let tz = berlin();
    let filter = match parse(&f, &p, &tz) {
        Ok(filter) => filter,
        Err(errors) => {
            let page = AuditPage {
                actions: action_options(&p),
                paged: false,
                p,
                f,
                errors,
                rows: Vec::new(),
                older: None,
            };
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let mut read = AuditEntry::new(p.actor(), AuditAction::AuditRead);
    read.person_id = filter.person_id;
    let result = state
        .blocking(move |store| {
            let page = store.audit_entries(&filter)?;
            let users = store.list_users()?;
            store.audit(read);
            Ok((page, users))
        })
        .await;
    let (page, users) = match result {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let emails: HashMap<String, String> = users
        .into_iter()
        .map(|u| (u.id.to_string(), u.email))
        .collect();
    let rows = page
        .items
        .into_iter()
        .map(|r| row(&p, r, &emails, &tz))
        .collect();
    let older = page.next_cursor.map(|c| older_link(&f, &c));
    render(
        StatusCode::OK,
        &AuditPage {
            actions: action_options(&p),
            paged: !f.cursor.trim().is_empty(),
            p,
            f,
            errors: HashMap::new(),
            rows,
            older,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Locale, Tr};

    fn layout(locale: Locale) -> Layout {
        Layout {
            t: Tr { locale },
            user_email: None,
            role: None,
            csrf: String::new(),
            active: "",
            user_id: None,
        }
    }

    #[test]
    fn every_action_has_a_label_in_both_languages() {
        for l in [Locale::De, Locale::En] {
            let t = Tr { locale: l };
            for a in AuditAction::ALL {
                assert_ne!(t.get(&action_key(a)), "??", "{}", a.as_str());
            }
        }
    }

    #[test]
    fn times_are_shown_in_berlin_in_the_users_format() {
        let tz = berlin();
        let at: jiff::Timestamp = "2026-07-01T10:00:00Z".parse().unwrap();
        let de = local_time(&layout(Locale::De), at, &tz);
        assert!(de.starts_with("01.07.2026, 12:00:00"), "{de}");
        let en = local_time(&layout(Locale::En), at, &tz);
        assert!(en.starts_with("2026-07-01 12:00:00"), "{en}");
    }

    #[test]
    fn days_are_berlin_days_and_bad_values_are_named() {
        let tz = berlin();
        let p = layout(Locale::De);
        let f = AuditParams {
            since: "2026-01-10".into(),
            until: "2026-01-10".into(),
            ..Default::default()
        };
        let filter = parse(&f, &p, &tz).unwrap();
        assert_eq!(
            filter.since.unwrap().to_string(),
            "2026-01-09T23:00:00Z",
            "midnight in Berlin"
        );
        assert_eq!(filter.until.unwrap().to_string(), "2026-01-10T23:00:00Z");
        assert_eq!(filter.limit, PAGE_SIZE);
        let bad = AuditParams {
            person_id: "Erika".into(),
            action: "person.steal".into(),
            since: "10.01.2026".into(),
            cursor: "!!".into(),
            ..Default::default()
        };
        let errs = parse(&bad, &p, &tz).unwrap_err();
        let mut keys: Vec<_> = errs.keys().copied().collect();
        keys.sort_unstable();
        assert_eq!(keys, ["action", "cursor", "person_id", "since"]);
        assert!(errs.values().all(|m| m != "??"));
    }

    #[test]
    fn the_older_link_keeps_the_filter_and_escapes_it() {
        let f = AuditParams {
            action: "person.read".into(),
            since: "2026-01-01".into(),
            ..Default::default()
        };
        assert_eq!(
            older_link(&f, "MTIz"),
            "/privacy/audit?action=person.read&since=2026-01-01&cursor=MTIz"
        );
        assert_eq!(url_escape("a b&c"), "a%20b%26c");
    }
}
