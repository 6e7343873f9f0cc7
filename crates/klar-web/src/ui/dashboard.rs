//! The dashboard: record counts, open tasks and the pipeline value per stage as a
//! server-rendered SVG bar chart (no script, no external assets).

use super::forms::stage_name;
use super::session::UiSession;
use super::{Layout, layout_money, render};
use crate::AppState;
use crate::error::AppError;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use klar_domain::ids::PersonId;
use klar_domain::records::StageKind;
use klar_domain::role::Permission;
use klar_store::deals::StageTotal;
use klar_store::pipelines::DEFAULT_PIPELINE;
use std::collections::HashMap;

/// How many open tasks the dashboard lists.
const TASKS_SHOWN: usize = 15;

// ---- the chart ----

/// Geometry of the chart, in SVG user units.
pub const CHART_WIDTH: u32 = 560;
/// Right edge of the stage names; bars start a little after it.
pub const LABEL_X: u32 = 104;
pub const BAR_X: u32 = 112;
/// The longest bar; room is left on its right for the value.
pub const BAR_MAX: u32 = 260;
pub const ROW: u32 = 36;
pub const BAR_HEIGHT: u32 = 22;
pub const PAD: u32 = 8;
/// How many characters of a stage name fit left of the bars.
pub const LABEL_CHARS: usize = 14;

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// A stage as the chart needs it: key, name in the UI language, kind.
pub struct ChartStage {
    pub key: String,
    pub name: String,
    pub kind: StageKind,
}

/// One horizontal bar with its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    /// The label as drawn: long stage names are shortened to fit left of the bars.
    pub short_label: String,
    /// The formatted value and the number of deals, e.g. `12.000,00 EUR (3)`.
    pub value: String,
    pub value_cents: i64,
    pub count: i64,
    /// `open`, `won` or `lost`: the bar's colour.
    pub kind: &'static str,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// Baseline of the stage name and of the value.
    pub text_y: u32,
    /// Where the value starts, right of the bar.
    pub value_x: u32,
}

/// The chart of one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    pub currency: String,
    pub width: u32,
    pub height: u32,
    pub bars: Vec<Bar>,
}

impl Chart {
    /// A text alternative: every stage with its value.
    pub fn summary(&self) -> String {
        self.bars
            .iter()
            .map(|b| format!("{}: {}", b.label, b.value))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Lays out one chart per currency (EUR first, then alphabetical; EUR alone when there are
/// no deals), with one bar per stage in board order. Bar lengths are proportional to the
/// value; the largest value of a currency gets [`BAR_MAX`], a tiny nonzero value at least
/// one unit.
pub fn charts(stages: &[ChartStage], totals: &[StageTotal]) -> Vec<Chart> {
    let mut currencies: Vec<&str> = totals.iter().map(|t| t.currency.as_str()).collect();
    if currencies.is_empty() {
        currencies.push("EUR");
    }
    currencies.sort_by_key(|c| (*c != "EUR", *c));
    currencies.dedup();
    currencies
        .into_iter()
        .map(|cur| {
            let per_stage: Vec<(i64, i64)> = stages
                .iter()
                .map(|s| {
                    totals
                        .iter()
                        .filter(|t| t.currency == cur && t.stage == s.key)
                        .fold((0i64, 0i64), |(v, n), t| {
                            (v.saturating_add(t.value_cents), n + t.count)
                        })
                })
                .collect();
            let max = per_stage.iter().map(|(v, _)| *v).max().unwrap_or(0).max(0);
            let bars = stages
                .iter()
                .zip(per_stage)
                .enumerate()
                .map(|(i, (s, (value, count)))| {
                    let width = if max == 0 || value <= 0 {
                        0
                    } else {
                        let w = (i128::from(value) * i128::from(BAR_MAX) + i128::from(max) / 2)
                            / i128::from(max);
                        u32::try_from(w).unwrap_or(BAR_MAX).clamp(1, BAR_MAX)
                    };
                    let y = PAD + i as u32 * ROW + (ROW - BAR_HEIGHT) / 2;
                    Bar {
                        label: s.name.clone(),
                        short_label: shorten(&s.name, LABEL_CHARS),
                        value: format!("{} ({count})", layout_money(value, cur)),
                        value_cents: value,
                        count,
                        kind: s.kind.as_str(),
                        x: BAR_X,
                        y,
                        width,
                        height: BAR_HEIGHT,
                        text_y: y + BAR_HEIGHT / 2 + 5,
                        value_x: BAR_X + width + 8,
                    }
                })
                .collect::<Vec<_>>();
            Chart {
                currency: cur.to_string(),
                width: CHART_WIDTH,
                height: PAD * 2 + bars.len() as u32 * ROW,
                bars,
            }
        })
        .collect()
}

// ---- the page ----

pub struct Count {
    pub label: &'static str,
    pub value: i64,
    pub href: &'static str,
}

pub struct TaskRow {
    pub id: String,
    pub subject: String,
    pub due: String,
    pub overdue: bool,
    pub person_id: String,
    pub person_name: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub p: Layout,
    pub counts: Vec<Count>,
    pub tasks: Vec<TaskRow>,
    pub more_tasks: bool,
    pub charts: Vec<Chart>,
    pub label_x: u32,
    pub bar_x: u32,
    /// For the privacy officer: open data-subject requests by deadline.
    pub requests: Option<Vec<RequestRow>>,
    /// For the privacy officer: every break-glass grant (decision 0016).
    pub grants: Option<Vec<super::access_grants::GrantRow>>,
    /// For the privacy officer: persons to be given the Art. 14 information, soonest first.
    pub art14: Option<Vec<Art14Row>>,
}

/// A person whose data came from elsewhere and who has not been informed yet (Art. 14).
pub struct Art14Row {
    pub person_id: String,
    pub name: String,
    pub due: String,
    pub overdue: bool,
}

/// An open data-subject request on the privacy officer's dashboard.
pub struct RequestRow {
    pub id: String,
    pub kind: &'static str,
    pub due: String,
    /// `overdue`, `due-soon` or `on-track`.
    pub class: &'static str,
    pub label: &'static str,
}

impl DashboardPage {
    pub fn chart_label(&self, c: &Chart) -> String {
        format!(
            "{} ({}): {}",
            self.p.t.get("dashboard-pipeline"),
            c.currency,
            c.summary()
        )
    }
}

fn load(state: &AppState, p: Layout) -> Result<DashboardPage, AppError> {
    let store = &state.store;
    let counts = vec![
        Count {
            label: p.t.get("dashboard-persons"),
            value: store.count_persons()?,
            href: "/persons",
        },
        Count {
            label: p.t.get("dashboard-organizations"),
            value: store.count_organizations()?,
            href: "/organizations",
        },
        Count {
            label: p.t.get("dashboard-deals"),
            value: store.count_deals()?,
            href: "/deals",
        },
        Count {
            label: p.t.get("dashboard-activities"),
            value: store.count_activities()?,
            href: "",
        },
    ];

    let today = store.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut open = store.open_tasks(TASKS_SHOWN + 1)?;
    let more_tasks = open.len() > TASKS_SHOWN;
    open.truncate(TASKS_SHOWN);
    let mut pids: Vec<PersonId> = open.iter().filter_map(|a| a.person_id).collect();
    pids.sort();
    pids.dedup();
    let names: HashMap<PersonId, String> = store
        .persons_by_ids(&pids)?
        .into_iter()
        .map(|x| (x.id, x.personal.display_name()))
        .collect();
    let tasks = open
        .iter()
        .map(|a| TaskRow {
            id: a.id.to_string(),
            subject: a.text.subject.clone(),
            due: a.due_date.map(|d| d.to_string()).unwrap_or_default(),
            overdue: a.due_date.is_some_and(|d| d < today),
            person_id: a
                .person_id
                .filter(|x| names.contains_key(x))
                .map(|x| x.to_string())
                .unwrap_or_default(),
            person_name: a
                .person_id
                .and_then(|x| names.get(&x).cloned())
                .unwrap_or_default(),
        })
        .collect();

    let stages: Vec<ChartStage> = store
        .stages(DEFAULT_PIPELINE)?
        .iter()
        .map(|s| ChartStage {
            key: s.key.clone(),
            name: stage_name(s, &p),
            kind: s.kind,
        })
        .collect();
    let charts = charts(&stages, &store.pipeline_totals()?);
    let requests = if p.can_manage_privacy() {
        let now = store.now();
        let tz = super::audit::berlin();
        let open = store.list_dsr(klar_store::dsr::DsrListFilter::Open, None, 10)?;
        Some(
            open.items
                .iter()
                .map(|d| {
                    let (class, label) = match klar_domain::dsr::urgency(d.effective_due(), now) {
                        klar_domain::dsr::Urgency::Overdue => ("overdue", p.t.get("dsr-overdue")),
                        klar_domain::dsr::Urgency::DueSoon => ("due-soon", p.t.get("dsr-due-soon")),
                        klar_domain::dsr::Urgency::OnTrack => ("on-track", ""),
                    };
                    let due = d.effective_due().to_zoned(tz.clone());
                    let due = if p.t.lang() == "en" {
                        due.strftime("%Y-%m-%d").to_string()
                    } else {
                        due.strftime("%d.%m.%Y").to_string()
                    };
                    RequestRow {
                        id: d.id.clone(),
                        kind: p.t.get(&format!("dsr-kind-{}", d.kind.as_str())),
                        due,
                        class,
                        label,
                    }
                })
                .collect(),
        )
    } else {
        None
    };
    let art14 = if p.can_manage_privacy() {
        let tz = super::audit::berlin();
        let due = store.art14_due(store.now())?;
        let mut rows = Vec::new();
        for d in due.iter().take(20) {
            let name = store
                .get_person(d.person_id)
                .map(|x| format!("{} {}", x.personal.first_name, x.personal.last_name))
                .unwrap_or_default();
            let at = d.due_at.to_zoned(tz.clone());
            rows.push(Art14Row {
                person_id: d.person_id.to_string(),
                name: name.trim().to_string(),
                due: if p.t.lang() == "en" {
                    at.strftime("%Y-%m-%d").to_string()
                } else {
                    at.strftime("%d.%m.%Y").to_string()
                },
                overdue: d.overdue,
            });
        }
        Some(rows)
    } else {
        None
    };
    Ok(DashboardPage {
        requests,
        grants: None,
        art14,
        p,
        counts,
        tasks,
        more_tasks,
        charts,
        label_x: LABEL_X,
        bar_x: BAR_X,
    })
}

pub async fn dashboard_page(State(state): State<AppState>, s: UiSession) -> Response {
    if let Err(r) = s.require(Permission::ReadCrm) {
        return r;
    }
    let page = load(&state, s.layout("dashboard")).and_then(|mut page| {
        if page.p.can_manage_privacy() {
            page.grants = Some(super::access_grants::grant_rows(&state, &s, &page.p)?);
        }
        Ok(page)
    });
    match page {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(key: &str, kind: StageKind) -> ChartStage {
        ChartStage {
            key: key.into(),
            name: key.to_uppercase(),
            kind,
        }
    }

    fn total(stage: &str, currency: &str, count: i64, value_cents: i64) -> StageTotal {
        StageTotal {
            stage: stage.into(),
            currency: currency.into(),
            count,
            value_cents,
        }
    }

    #[test]
    fn bars_are_proportional_in_stage_order_one_chart_per_currency() {
        let stages = [
            stage("lead", StageKind::Open),
            stage("proposal", StageKind::Open),
            stage("won", StageKind::Won),
        ];
        let totals = [
            total("won", "EUR", 1, 50_000),
            total("lead", "EUR", 3, 200_000),
            total("lead", "CHF", 1, 10_000),
            total("gone", "EUR", 9, 9_999_999), // not a stage of the pipeline: ignored
        ];
        let c = charts(&stages, &totals);
        assert_eq!(
            c.iter().map(|c| c.currency.as_str()).collect::<Vec<_>>(),
            ["EUR", "CHF"]
        );
        let eur = &c[0];
        let labels: Vec<_> = eur.bars.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["LEAD", "PROPOSAL", "WON"]);
        let widths: Vec<_> = eur.bars.iter().map(|b| b.width).collect();
        assert_eq!(widths, [BAR_MAX, 0, BAR_MAX / 4]);
        assert_eq!(eur.bars[0].value, "2.000,00 EUR (3)");
        assert_eq!(eur.bars[1].value, "0,00 EUR (0)");
        assert_eq!(eur.bars[2].kind, "won");
        // Rows do not overlap and fit the chart.
        assert!(eur.bars.windows(2).all(|w| w[0].y + w[0].height <= w[1].y));
        let last = &eur.bars[2];
        assert!(last.y + last.height <= eur.height);
        assert!(eur.bars.iter().all(|b| b.value_x >= b.x + b.width));
        assert!(
            eur.summary()
                .starts_with("LEAD: 2.000,00 EUR (3); PROPOSAL")
        );
        let chf = &c[1];
        assert_eq!(chf.bars[0].width, BAR_MAX);
        assert_eq!(chf.bars[2].width, 0);
    }

    #[test]
    fn no_deals_draws_an_empty_euro_chart_and_tiny_values_stay_visible() {
        let stages = [
            stage("lead", StageKind::Open),
            stage("lost", StageKind::Lost),
        ];
        let c = charts(&stages, &[]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].currency, "EUR");
        assert!(c[0].bars.iter().all(|b| b.width == 0));

        let c = charts(
            &stages,
            &[
                total("lead", "EUR", 1, 100_000_000),
                total("lost", "EUR", 1, 1),
            ],
        );
        assert_eq!(c[0].bars[0].width, BAR_MAX);
        assert_eq!(c[0].bars[1].width, 1);
    }

    #[test]
    fn long_stage_names_are_shortened_only_where_drawn() {
        let stages = [ChartStage {
            key: "x".into(),
            name: "Vertragsverhandlung läuft".into(),
            kind: StageKind::Open,
        }];
        let c = charts(&stages, &[]);
        assert_eq!(c[0].bars[0].short_label.chars().count(), LABEL_CHARS);
        assert!(c[0].bars[0].short_label.ends_with('…'));
        assert!(c[0].summary().starts_with("Vertragsverhandlung läuft: "));
    }
}
