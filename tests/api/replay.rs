//! Recorded IdP traffic: every scenario in `tests/fixtures/okta/*.json` and
//! `tests/fixtures/entra/*.json`, replayed step by step against the real server.
//!
//! A scenario file is `{description, source, headers?, steps: [...]}`; a step is
//! `{name, request: {method, path, headers?, body?}, expect: {status, fields?, present?, absent?,
//! body_contains?, headers?}, capture?}`; `status` is a number or a list of the statuses the IdP
//! accepts alike. `path` is below `/scim/v2`; `fields` maps JSON pointers
//! into the response body to the exact values expected; `present` / `absent` are JSON pointers;
//! `capture` maps a name to a JSON pointer whose value later steps use as `{{name}}` in paths,
//! headers, bodies and expected values. File-level `headers` go with every request of the file.
//!
//! Each scenario runs on a fresh server and database, so counts in one never depend on another.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::helpers::*;

/// The IdP dialects with recorded traffic: one directory each under `tests/fixtures/`.
const DIALECTS: [&str; 2] = ["okta", "entra"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    #[allow(dead_code)]
    description: String,
    #[allow(dead_code)]
    source: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    name: String,
    request: Request,
    expect: Expect,
    #[serde(default)]
    capture: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    status: Status,
    #[serde(default)]
    fields: BTreeMap<String, Value>,
    #[serde(default)]
    present: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    body_contains: Vec<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// One status, or the statuses an IdP accepts alike (Okta: a group PATCH may answer 200 or 204).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Status {
    One(u16),
    AnyOf(Vec<u16>),
}

impl Status {
    fn allows(&self, status: u16) -> bool {
        match self {
            Status::One(s) => *s == status,
            Status::AnyOf(all) => all.contains(&status),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::One(s) => write!(f, "{s}"),
            Status::AnyOf(all) => write!(f, "one of {all:?}"),
        }
    }
}

/// Every scenario file, in a stable order: `okta/*.json`, then `entra/*.json`, each sorted.
fn scenario_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut all = Vec::new();
    for dialect in DIALECTS {
        let dir = root.join(dialect);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("directory entry").path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no scenario in {}", dir.display());
        all.extend(files);
    }
    all
}

/// `{{name}}` replaced by captured values; an unknown name is an error in the scenario.
fn fill(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed '{{{{' in {text:?}"))?;
        let name = &after[..end];
        let value = vars
            .get(name)
            .ok_or_else(|| format!("{{{{{name}}}}} used before it was captured"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn fill_value(value: &Value, vars: &BTreeMap<String, String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(fill(s, vars)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill_value(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((fill(k, vars)?, fill_value(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Runs one step; on failure says what was expected and what came back.
async fn run_step(
    app: &TestApp,
    file_headers: &BTreeMap<String, String>,
    step: &Step,
    vars: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    let method = Method::from_bytes(step.request.method.as_bytes())
        .map_err(|e| format!("method {:?}: {e}", step.request.method))?;
    let path = fill(&step.request.path, vars)?;
    let mut request = app
        .client
        .request(method.clone(), app.url(&path))
        .bearer_auth(&app.token);
    let mut headers = file_headers.clone();
    headers.extend(step.request.headers.clone());
    if let Some(body) = &step.request.body {
        headers
            .entry("Content-Type".to_owned())
            .or_insert_with(|| "application/scim+json".to_owned());
        request = request.body(fill_value(body, vars)?.to_string());
    }
    for (name, value) in &headers {
        request = request.header(name, fill(value, vars)?);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;

    let status = response.status().as_u16();
    let response_headers = response.headers().clone();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{method} {path}: reading the body: {e}"))?;
    let body: Option<Value> = serde_json::from_str(&text).ok();
    let actual = || format!("{method} {path} answered {status}: {text}");

    let mut problems = Vec::new();
    if !step.expect.status.allows(status) {
        problems.push(format!("status {status}, expected {}", step.expect.status));
    }
    let needs_body = !step.expect.fields.is_empty()
        || !step.expect.present.is_empty()
        || !step.expect.absent.is_empty()
        || !step.capture.is_empty();
    match &body {
        None if needs_body => problems.push("the body is not JSON".to_owned()),
        None => {}
        Some(body) => {
            for (pointer, expected) in &step.expect.fields {
                let expected = fill_value(expected, vars)?;
                match body.pointer(pointer) {
                    Some(found) if *found == expected => {}
                    Some(found) => {
                        problems.push(format!("{pointer} is {found}, expected {expected}"))
                    }
                    None => problems.push(format!("{pointer} is missing, expected {expected}")),
                }
            }
            for pointer in &step.expect.present {
                if body.pointer(pointer).is_none() {
                    problems.push(format!("{pointer} is missing"));
                }
            }
            for pointer in &step.expect.absent {
                if let Some(found) = body.pointer(pointer) {
                    problems.push(format!("{pointer} is {found}, expected no such value"));
                }
            }
        }
    }
    for needle in &step.expect.body_contains {
        let needle = fill(needle, vars)?;
        if !text.contains(&needle) {
            problems.push(format!("the body does not contain {needle:?}"));
        }
    }
    for (name, expected) in &step.expect.headers {
        let expected = fill(expected, vars)?;
        let found = response_headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok());
        if found != Some(expected.as_str()) {
            problems.push(format!("header {name} is {found:?}, expected {expected:?}"));
        }
    }
    if !problems.is_empty() {
        return Err(format!("{}\n      {}", problems.join("; "), actual()));
    }

    for (name, pointer) in &step.capture {
        let value = body
            .as_ref()
            .and_then(|b| b.pointer(pointer))
            .ok_or_else(|| format!("capture {name}: {pointer} is missing\n      {}", actual()))?;
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        vars.insert(name.clone(), value);
    }
    Ok(())
}

/// Replays one scenario file on a fresh server; the first failing step ends it.
async fn replay(backend: Backend, file: &Path) -> Result<usize, String> {
    let label = file
        .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
        .unwrap_or(file)
        .display()
        .to_string();
    let text = std::fs::read_to_string(file).map_err(|e| format!("{label}: {e}"))?;
    let scenario: Scenario =
        serde_json::from_str(&text).map_err(|e| format!("{label}: not a scenario: {e}"))?;
    if scenario.steps.is_empty() {
        return Err(format!("{label}: no steps"));
    }
    let app = TestApp::spawn(backend).await;
    let mut vars = BTreeMap::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        run_step(&app, &scenario.headers, step, &mut vars)
            .await
            .map_err(|e| {
                format!(
                    "{label}: step {} of {} ({:?}) failed: {e}",
                    index + 1,
                    scenario.steps.len(),
                    step.name
                )
            })?;
    }
    Ok(scenario.steps.len())
}

both_backends! {
    async fn recorded_idp_traffic_replays(app) {
        let backend = app.backend;
        drop(app);
        let files = scenario_files();
        let mut failures = Vec::new();
        let mut steps = 0;
        for file in &files {
            match replay(backend, file).await {
                Ok(n) => steps += n,
                Err(e) => failures.push(e),
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} recorded scenarios failed on {backend:?}:\n\n{}",
            failures.len(),
            files.len(),
            failures.join("\n\n")
        );
        assert!(steps > 0, "replayed no step");
    }
}
