//! The SCIM request log (docs/admin-api.md, "SCIM request log"): every SCIM request that failed
//! or changed something, for an org admin asking "what did the IdP send?". A record holds the
//! time, the token, method, path (never the query: filters carry e-mail addresses), status,
//! `scimType`, duration, the affected resource and the names (never the values) of the
//! attributes the body carried.
//!
//! Recording costs the request a `try_send` on a bounded channel; a background task writes what
//! arrived in batches (on SQLite through the writer), and another purges records past the
//! retention. When the channel is full (the database cannot keep up), records are dropped and
//! counted rather than slowing SCIM down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::clock;
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::store::request_log::{self, NewRequest, Query};
use crate::store::{Store, api_tokens, write_tx};

/// Records waiting to be written; beyond this they are dropped (and counted).
pub const QUEUE: usize = 10_000;
/// The most records one write inserts.
pub const BATCH: usize = 1_000;
/// How long the writer waits between batches that are not full.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// The most attribute names a record keeps of a body.
pub const MAX_SUMMARY_NAMES: usize = 64;
/// The longest attribute name (and path) a record keeps, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// The longest path a record keeps, in characters.
pub const MAX_PATH_CHARS: usize = 256;
/// The most records one listing returns.
pub const MAX_LIMIT: i64 = 1000;
/// Records deleted by one purge statement.
const PURGE_BATCH: i64 = 1000;

/// One SCIM request to record.
#[derive(Debug, Clone)]
pub struct Entry {
    pub org: OrgId,
    pub at: DateTime<Utc>,
    pub token_jti: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub scim_type: Option<String>,
    pub duration: Duration,
    pub resource_id: Option<String>,
    pub body_summary: Option<Vec<String>>,
    pub request_id: Option<String>,
}

/// The sending side of the log, shared by the HTTP workers.
#[derive(Debug, Clone)]
pub struct RequestLog {
    sender: Option<mpsc::Sender<NewRequest>>,
    dropped: Arc<AtomicU64>,
}

/// The writing side, run by [`super::connectors::Background`].
#[derive(Debug)]
pub struct Writer {
    receiver: mpsc::Receiver<NewRequest>,
}

impl RequestLog {
    /// A log and its writer; `None` for the writer when the log is off.
    pub fn new(enabled: bool) -> (RequestLog, Option<Writer>) {
        if !enabled {
            return (
                RequestLog {
                    sender: None,
                    dropped: Arc::default(),
                },
                None,
            );
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        (
            RequestLog {
                sender: Some(sender),
                dropped: Arc::default(),
            },
            Some(Writer { receiver }),
        )
    }

    /// Whether requests are recorded.
    pub fn enabled(&self) -> bool {
        self.sender.is_some()
    }

    /// Queues `entry` for writing; drops it (counted, warned about) when the queue is full.
    pub fn record(&self, entry: Entry) {
        let Some(sender) = &self.sender else {
            return;
        };
        let row = NewRequest {
            org_id: entry.org.as_str().to_owned(),
            occurred_at: entry.at.naive_utc(),
            token_jti: entry.token_jti,
            method: entry.method,
            path: cut(&entry.path, MAX_PATH_CHARS),
            status: i32::from(entry.status),
            scim_type: entry.scim_type,
            duration_us: i64::try_from(entry.duration.as_micros()).unwrap_or(i64::MAX),
            resource_id: entry.resource_id.map(|id| cut(&id, MAX_NAME_CHARS)),
            body_summary: entry
                .body_summary
                .and_then(|names| serde_json::to_string(&names).ok()),
            request_id: entry.request_id,
        };
        if sender.try_send(row).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped,
                    "the SCIM request log cannot keep up; records are dropped"
                );
            }
        }
    }
}

impl Writer {
    /// Writes what arrives, in batches of at most [`BATCH`], until every sender is gone.
    pub async fn run(mut self, store: Store) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let received = self.receiver.recv_many(&mut batch, BATCH).await;
            if received == 0 {
                return;
            }
            let rows = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            let count = rows.len();
            let written = store
                .run_write(move |conn| {
                    write_tx(conn, |conn| request_log::insert(conn, &rows)).map_err(ScimError::from)
                })
                .await;
            if let Err(e) = written {
                tracing::warn!(error = %e, count, "writing SCIM request log records failed");
            }
            if received < BATCH {
                actix_web::rt::time::sleep(FLUSH_INTERVAL).await;
            }
        }
    }
}

/// Deletes the records older than `retention`, a batch per write so that the writer is never
/// held long; returns how many.
pub async fn purge(store: &Store, retention: Duration) -> Result<usize, ScimError> {
    let Ok(retention) = chrono::Duration::from_std(retention) else {
        return Ok(0);
    };
    let Some(before) = clock::now().checked_sub_signed(retention) else {
        return Ok(0);
    };
    let before = before.naive_utc();
    let mut total = 0;
    loop {
        let deleted = store
            .run_write(move |conn| {
                write_tx(conn, |conn| request_log::purge(conn, before, PURGE_BATCH))
                    .map_err(ScimError::from)
            })
            .await?;
        total += deleted;
        if i64::try_from(deleted).unwrap_or(i64::MAX) < PURGE_BATCH {
            return Ok(total);
        }
    }
}

/// What an admin asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `4xx` or `5xx`.
    pub status_class: Option<u16>,
    /// Only failures (4xx and 5xx); with `status_class`, that class.
    pub failures_only: bool,
    /// A token's `jti` or name.
    pub token: Option<String>,
    pub resource_id: Option<String>,
    /// The `nextCursor` of the previous page.
    pub after_id: Option<i64>,
    /// Only records before this id (the cursor of a newest-first page).
    pub before_id: Option<i64>,
    /// Only records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Newest first (the console) instead of oldest first (the admin API).
    pub newest_first: bool,
    pub limit: i64,
}

/// A record as the admin API shows it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub token_jti: String,
    /// The token's name when roster minted it.
    pub token_name: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub scim_type: Option<String>,
    pub duration_ms: f64,
    pub resource_id: Option<String>,
    pub body_attributes: Option<Vec<String>>,
    pub request_id: Option<String>,
}

/// Records of `org`, oldest first, at most `filter.limit`.
pub async fn list(store: &Store, org: &OrgId, filter: Filter) -> Result<Vec<Record>, ScimError> {
    let org = org.clone();
    store
        .scan(&org.clone(), move |conn| {
            let jtis = match &filter.token {
                None => None,
                Some(token) => {
                    Some(api_tokens::jtis_named(conn, &org, token).map(|mut jtis| {
                        jtis.push(token.clone());
                        jtis
                    })?)
                }
            };
            let query = Query {
                status: match filter.status_class {
                    Some(class) => {
                        let from = i32::from(class) * 100;
                        Some((from, from + 99))
                    }
                    None if filter.failures_only => Some((400, 599)),
                    None => None,
                },
                jtis,
                resource_id: filter.resource_id,
                after_id: filter.after_id,
                before_id: filter.before_id,
                newest_first: filter.newest_first,
                since: filter.since.map(|t| t.naive_utc()),
                limit: filter.limit.clamp(1, MAX_LIMIT + 1),
            };
            let rows = request_log::list(conn, &org, &query)?;
            let mut jtis: Vec<String> = rows.iter().map(|r| r.token_jti.clone()).collect();
            jtis.sort();
            jtis.dedup();
            let names: std::collections::HashMap<String, String> =
                api_tokens::names(conn, &jtis)?.into_iter().collect();
            Ok(rows
                .into_iter()
                .map(|row| Record {
                    token_name: names.get(&row.token_jti).cloned(),
                    id: row.id,
                    at: row.occurred_at.and_utc(),
                    token_jti: row.token_jti,
                    method: row.method,
                    path: row.path,
                    status: u16::try_from(row.status).unwrap_or_default(),
                    scim_type: row.scim_type,
                    duration_ms: row.duration_us as f64 / 1000.0,
                    resource_id: row.resource_id,
                    body_attributes: row.body_summary.and_then(|s| serde_json::from_str(&s).ok()),
                    request_id: row.request_id,
                })
                .collect())
        })
        .await
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The names of the attributes a SCIM request body carries, never their values: the top-level
/// attributes and those of their complex values one level down (`name.givenName`); for a PATCH,
/// each operation as `op path` with the filters of a value path emptied (`replace
/// emails[].value`: a filter carries values), and the attributes of a path-less value; for a
/// Bulk request, each operation as `method path`. Names that are not attribute names are
/// counted, not kept.
pub fn summarize(body: &Value) -> Vec<String> {
    let mut names = Vec::new();
    let Some(object) = body.as_object() else {
        return names;
    };
    if let Some(ops) = object.get("Operations").and_then(Value::as_array) {
        let bulk = object
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter()
                    .any(|s| s.as_str().is_some_and(|s| s.contains("Bulk")))
            });
        for op in ops {
            if bulk {
                let method = op.get("method").and_then(Value::as_str).unwrap_or("?");
                let path = op.get("path").and_then(Value::as_str).unwrap_or("");
                // `/Users/{id}`: the resource type only, ids are not attribute names.
                let kind = path.trim_start_matches('/').split('/').next().unwrap_or("");
                names.push(format!("{} /{}", method.to_ascii_uppercase(), kind));
                continue;
            }
            let verb = op
                .get("op")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_ascii_lowercase();
            match op.get("path").and_then(Value::as_str) {
                Some(path) => names.push(format!("{verb} {}", without_filters(path))),
                None => match op.get("value").and_then(Value::as_object) {
                    Some(value) => {
                        for key in value.keys() {
                            names.push(format!("{verb} {key}"));
                        }
                    }
                    None => names.push(verb),
                },
            }
        }
        return finish(names);
    }
    for (key, value) in object {
        if key == "schemas" {
            continue;
        }
        match value {
            Value::Object(inner) => {
                for sub in inner.keys() {
                    names.push(format!("{key}.{sub}"));
                }
            }
            _ => names.push(key.clone()),
        }
    }
    finish(names)
}

/// `emails[type eq "work"].value` → `emails[].value`.
fn without_filters(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '[' => {
                if depth == 0 {
                    out.push('[');
                }
                depth += 1;
            }
            ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    out.push(']');
                }
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Keeps attribute-like names (letters, digits and `_ - . : $ [ ]` and one space between an
/// operation and its path), each at most [`MAX_NAME_CHARS`], at most [`MAX_SUMMARY_NAMES`] of
/// them; the rest are counted.
fn finish(names: Vec<String>) -> Vec<String> {
    let total = names.len();
    let mut kept: Vec<String> = names
        .into_iter()
        .filter(|n| {
            n.chars().count() <= MAX_NAME_CHARS
                && n.chars().filter(|c| *c == ' ').count() <= 1
                && n.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, '_' | '-' | '.' | ':' | '$' | '[' | ']' | ' ' | '/')
                })
        })
        .take(MAX_SUMMARY_NAMES)
        .collect();
    if kept.len() < total {
        kept.push(format!("(+{} more)", total - kept.len()));
    }
    kept
}

/// The times a listing's `after` may name: a cursor, or an RFC 3339 time.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_summary_names_attributes_and_never_values() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com",
            "password": "correct horse battery staple",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com"}],
        });
        let summary = summarize(&body);
        assert_eq!(
            summary,
            vec![
                "userName",
                "password",
                "name.givenName",
                "name.familyName",
                "emails"
            ]
        );
        let text = serde_json::to_string(&summary).unwrap();
        assert!(!text.contains("ada@") && !text.contains("horse"));
    }

    #[test]
    fn a_patch_summary_empties_filters() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "x@example.com"},
                {"op": "replace", "value": {"active": false}},
                {"op": "remove", "path": "members[value eq \"2819c223\"]"},
            ]
        });
        assert_eq!(
            summarize(&body),
            vec![
                "replace emails[].value",
                "replace active",
                "remove members[]"
            ]
        );
    }

    #[test]
    fn names_that_are_not_attribute_names_are_counted_not_kept() {
        let body = json!({"userName": "a", "secret value here": 1});
        assert_eq!(summarize(&body), vec!["userName", "(+1 more)"]);
    }
}
