//! `GET /metrics`: the Prometheus text format, whose counters move with real requests
//! (docs/operations.md, "Metrics").
//!
//! The recorder is the process's: every test app of this binary counts into it, so the tests
//! compare figures before and after their own requests and expect at least their own.

use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use roster::startup::Application;

use crate::helpers::{Backend, TestApp, TestDb, settings};

/// Scrapes `url`: 200, the Prometheus text content type, and text in which every line is a
/// comment or a sample `name{labels} value`.
async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "not a sample value: {line}"
        );
        let name = series.split_once('{').map_or(series, |(name, labels)| {
            assert!(labels.ends_with('}'), "{line}");
            name
        });
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "not a metric name: {line}"
        );
    }
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    assert!(!scrape.samples.is_empty());
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "roster_http_request_duration_seconds"
                && matches!(s.value, Value::Histogram(_)))
            || !text.contains("roster_http_request_duration_seconds_bucket")
    );
    text
}

/// The label set of a sample line `name{k="v",…} value`, `None` when the line is not of
/// `metric`. (Parsed here rather than with prometheus-parse, whose label parser drops samples
/// whose values hold braces, such as route templates.)
fn labels_of(line: &str, metric: &str) -> Option<(Vec<(String, String)>, f64)> {
    let rest = line.strip_prefix(metric)?;
    let (labels, value) = match rest.strip_prefix('{') {
        Some(rest) => {
            let mut labels = Vec::new();
            let mut rest = rest;
            loop {
                if let Some(after) = rest.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let (name, after) = rest.split_once("=\"")?;
                let mut value = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next()? {
                        (_, '\\') => value.push(chars.next()?.1),
                        (at, '"') => break at,
                        (_, c) => value.push(c),
                    }
                };
                labels.push((name.trim_start_matches(',').to_owned(), value));
                rest = &after[end + 1..];
            }
            (labels, rest)
        }
        None => (Vec::new(), rest),
    };
    let value = value.strip_prefix(' ')?;
    Some((labels, value.parse().ok()?))
}

/// The sum of the samples of `metric` that carry these labels, 0 when none.
fn value(text: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter_map(|line| labels_of(line, metric))
        .filter(|(have, _)| {
            labels
                .iter()
                .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
        })
        .map(|(_, v)| v)
        .sum()
}

/// The observation count of the histogram `metric` with these labels.
fn observations(text: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    value(text, &format!("{metric}_count"), labels)
}

const CREATED: &[(&str, &str)] = &[
    ("method", "POST"),
    ("route", "/scim/v2/Users"),
    ("status", "201"),
];

both_backends! {
    async fn counters_move_with_real_requests(app) {
        let url = format!("{}/metrics", app.address);
        let before = scrape(&url).await;
        for i in 0..3 {
            app.create_user(&format!("metrics{i}@example.com")).await;
        }
        let missing = uuid::Uuid::new_v4();
        assert_eq!(app.get_user(&missing.to_string()).await.status(), 404);
        let after = scrape(&url).await;

        let requests = "roster_http_requests_total";
        assert!(value(&after, requests, CREATED) >= value(&before, requests, CREATED) + 3.0);
        let not_found = [("method", "GET"), ("route", "/scim/v2/Users/{id}"), ("status", "404")];
        assert!(value(&after, requests, &not_found) >= value(&before, requests, &not_found) + 1.0);
        let latency = "roster_http_request_duration_seconds";
        assert!(observations(&after, latency, CREATED) >= observations(&before, latency, CREATED) + 3.0);
        // Every SCIM request's work, as its rate limit is charged.
        let work = "roster_request_work_seconds";
        assert!(observations(&after, work, &[]) >= observations(&before, work, &[]) + 4.0);
        // Route templates, never ids.
        assert!(!after.contains(&missing.to_string()));

        let created = [("action", "user.create"), ("channel", "scim")];
        let changes = "roster_lifecycle_changes_total";
        assert!(value(&after, changes, &created) >= value(&before, changes, &created) + 3.0);

        assert!(value(&after, "roster_db_pool_max_connections", &[]) >= 1.0);
        assert!(after.contains("\nroster_db_pool_connections{state=\"idle\"} "));
        assert!(after.contains("\nroster_event_delivery_backlog "));
        assert_eq!(
            value(&after, "roster_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
            1.0
        );
        if app.backend == Backend::Sqlite {
            assert!(
                observations(&after, "roster_sqlite_write_batch_size", &[])
                    >= observations(&before, "roster_sqlite_write_batch_size", &[]) + 3.0
            );
            assert!(after.contains("\nroster_sqlite_write_wait_seconds_bucket{"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_bind_moves_metrics_off_the_main_listener() {
    let (_db, url) = TestDb::create(Backend::Sqlite);
    let mut settings = settings(&url);
    settings.operations.metrics_bind = Some("127.0.0.1:0".to_owned());
    let app = Application::build(&settings).unwrap();
    let (port, metrics_port) = (app.port(), app.metrics_port().unwrap());
    tokio::spawn(app.run_until_stopped());
    let main = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
    let scrape = scrape(&format!("http://127.0.0.1:{metrics_port}/metrics")).await;
    assert!(scrape.contains("\nroster_build_info{"));
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_no_token() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    scrape(&format!("{}/metrics", app.address)).await;
}
