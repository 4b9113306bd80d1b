//! Prometheus text metrics: requests by route and status, a latency histogram per route,
//! database pool use, and named counters that features add.

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// One route's figures: answers by status (few, kept sorted) and latency.
#[derive(Default)]
struct RouteStats {
    statuses: Vec<(u16, u64)>,
    latency: Histogram,
}

#[derive(Default)]
struct Inner {
    routes: BTreeMap<String, RouteStats>,
    counters: BTreeMap<(&'static str, String), u64>,
    /// Named gauges and histograms that features add (`(name, help)` keys).
    gauges: BTreeMap<(&'static str, &'static str), i64>,
    histograms: BTreeMap<(&'static str, &'static str), Histogram>,
}

/// The server's metrics registry. Cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Inner>>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one finished request. Allocates only the first time a route is seen: this
    /// runs under the lock on every request.
    pub fn observe(&self, route: &str, status: u16, seconds: f64) {
        let mut m = self.lock();
        if !m.routes.contains_key(route) {
            m.routes.insert(route.to_string(), RouteStats::default());
        }
        let Some(r) = m.routes.get_mut(route) else {
            return;
        };
        match r.statuses.binary_search_by_key(&status, |(s, _)| *s) {
            Ok(i) => r.statuses[i].1 += 1,
            Err(i) => r.statuses.insert(i, (status, 1)),
        }
        let h = &mut r.latency;
        h.count += 1;
        h.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i] += 1;
        }
    }

    /// Adds one to the counter `name` with the label set `labels` (`kind="x"` form).
    pub fn inc(&self, name: &'static str, labels: &str) {
        *self
            .lock()
            .counters
            .entry((name, labels.to_string()))
            .or_default() += 1;
    }

    /// Sets the gauge `name` (described by `help`) to `value`.
    pub fn set_gauge(&self, name: &'static str, help: &'static str, value: i64) {
        self.lock().gauges.insert((name, help), value);
    }

    /// Records `seconds` in the histogram `name` (described by `help`), with the buckets of
    /// the request latencies.
    pub fn observe_seconds(&self, name: &'static str, help: &'static str, seconds: f64) {
        let mut m = self.lock();
        let h = m.histograms.entry((name, help)).or_default();
        h.count += 1;
        h.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i] += 1;
        }
    }

    /// The Prometheus text exposition, with the pool figures given.
    pub fn render(
        &self,
        pool: comptoir_store::PoolStats,
        commits: comptoir_store::CommitStats,
    ) -> String {
        let m = self.lock();
        let mut out = String::new();
        out.push_str("# HELP comptoir_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE comptoir_http_requests_total counter\n");
        for (route, r) in &m.routes {
            let route = escape(route);
            for (status, n) in &r.statuses {
                let _ = writeln!(
                    out,
                    "comptoir_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP comptoir_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE comptoir_http_request_duration_seconds histogram\n");
        for (route, RouteStats { latency: h, .. }) in &m.routes {
            let r = escape(route);
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "comptoir_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "comptoir_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "comptoir_http_request_duration_seconds_sum{{route=\"{r}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "comptoir_http_request_duration_seconds_count{{route=\"{r}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP comptoir_db_pool_connections Database connections by state.\n");
        out.push_str("# TYPE comptoir_db_pool_connections gauge\n");
        let _ = writeln!(
            out,
            "comptoir_db_pool_connections{{state=\"in_use\"}} {}",
            pool.in_use
        );
        let _ = writeln!(
            out,
            "comptoir_db_pool_connections{{state=\"idle\"}} {}",
            pool.size - pool.in_use
        );
        out.push_str("# HELP comptoir_db_pool_max_connections Most pooled connections (readers on SQLite).\n");
        out.push_str("# TYPE comptoir_db_pool_max_connections gauge\n");
        let _ = writeln!(out, "comptoir_db_pool_max_connections {}", pool.max);
        out.push_str(
            "# HELP comptoir_db_group_committed_writes_total Writes acknowledged through group commit (SQLite writer, PostgreSQL sales lanes).\n",
        );
        out.push_str("# TYPE comptoir_db_group_committed_writes_total counter\n");
        let _ = writeln!(
            out,
            "comptoir_db_group_committed_writes_total {}",
            commits.writes
        );
        out.push_str(
            "# HELP comptoir_db_group_commits_total Commits (one WAL flush each) that carried those writes.\n",
        );
        out.push_str("# TYPE comptoir_db_group_commits_total counter\n");
        let _ = writeln!(out, "comptoir_db_group_commits_total {}", commits.commits);
        for ((name, help), v) in &m.gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        for ((name, help), h) in &m.histograms {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", h.sum, h.count);
        }
        let mut last = "";
        for ((name, labels), n) in &m.counters {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {n}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {n}");
            }
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: times every request and records it under its route pattern.
pub async fn record(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    // The route pattern, not the raw path, so ids in paths do not explode the label set.
    // MatchedPath shares its text: cloning it does not allocate.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let res = next.run(req).await;
    metrics.observe(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// `GET /metrics`.
pub async fn handler(State(state): State<crate::AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state
            .metrics
            .render(state.store.pool_stats(), state.store.commit_stats())
            + &render_lanes(state.store.lane_times())
            + &render_checks(state.store.sale_check_stats()),
    )
}

/// How the sales' checks found their rows (`comptoir_store::sales::CheckStats`).
fn render_checks(s: comptoir_store::sales::CheckStats) -> String {
    let name = "comptoir_sale_checks_total";
    let mut out = format!(
        "# HELP {name} Sales checked on PostgreSQL, by where their rows came from: remembered by the process, read from the database, or read again in the lane because the catalog changed meanwhile.\n# TYPE {name} counter\n"
    );
    for (rows, n) in [
        ("remembered", s.remembered),
        ("database", s.read),
        ("checked_again", s.checked_again),
    ] {
        let _ = writeln!(out, "{name}{{rows=\"{rows}\"}} {n}");
    }
    out
}

/// Where the PostgreSQL sales lanes' time went (`comptoir_store::LaneTimes`), in seconds.
fn render_lanes(t: comptoir_store::LaneTimes) -> String {
    let seconds = |us: u64| us as f64 / 1e6;
    let mut out = String::new();
    out.push_str("# HELP comptoir_db_lane_transactions_total PostgreSQL sales lane transactions committed.\n");
    out.push_str("# TYPE comptoir_db_lane_transactions_total counter\n");
    let _ = writeln!(
        out,
        "comptoir_db_lane_transactions_total {}",
        t.transactions
    );
    let writes = [
        ("queued", t.queued_micros),
        ("transaction", t.run_micros),
        ("flush", t.flush_micros),
    ];
    let steps = [("lock", t.lock_micros), ("commit", t.commit_micros)];
    let families = [
        (
            "comptoir_db_lane_write_seconds_total",
            "Summed over the committed writes of the PostgreSQL sales lanes: waiting in the lane's queue, in the group's transaction until its commit answered, and for the WAL flush after it.",
            "part",
            writes.as_slice(),
        ),
        (
            "comptoir_db_lane_transaction_seconds_total",
            "Summed over the PostgreSQL sales lanes' committed transactions: begin and the counter rows' lock (waits included), and the group statement with the commit.",
            "step",
            steps.as_slice(),
        ),
    ];
    for (name, help, label, parts) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (part, micros) in parts {
            let _ = writeln!(out, "{name}{{{label}=\"{part}\"}} {}", seconds(*micros));
        }
    }
    out
}
