//! `/Bulk` (RFC 7644 §3.7): many operations on Users and Groups in one request, each run
//! through the same use case (and so the same transaction, audit and uniqueness rules) as its
//! single-resource endpoint, and each atomic on its own.
//!
//! Order and `bulkId` references (§3.7.2): operations run in request order, except that one
//! which references a `bulkId` (`"bulkId:qwerty"` anywhere in `data`, or as the id in `path`)
//! waits until the operation declaring that `bulkId` has run. A reference to a `bulkId` that no
//! operation declares, or whose operation failed, fails with 409.
//!
//! Circular references (§3.7.1): when every waiting operation waits on another one, roster
//! breaks the cycle at the first waiting `POST /Groups` whose waiting references are all
//! `members` values: the group is created without those members, which are added as soon as
//! their resources exist (so two groups that contain each other both get created, as in the
//! RFC's example). A cycle that cannot be broken that way fails its operations with 409.
//!
//! The order is kept by [`Schedule`] in O(operations + references) for the whole request.
//!
//! `failOnErrors` (§3.7.3): processing stops once that many operations have failed; the
//! response lists the operations run so far. Limits (§3.7.4): more operations than
//! `maxOperations` is a 413 for the whole request (the payload limit is enforced by the HTTP
//! layer while reading the body).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::users::{self, Precondition, etag};
use super::{Actor, groups};
use crate::scim::ScimError;
use crate::scim::patch::PatchRequest;
use crate::store::groups::GroupId;

/// URN of the Bulk request message (RFC 7644 §3.7).
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// URN of the Bulk response message (RFC 7644 §3.7).
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

const REF_PREFIX: &str = "bulkId:";

/// A parsed `BulkRequest` (RFC 7644 §3.7).
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many failed operations; `None` runs them all.
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<Operation>,
}

/// One element of `Operations`, as sent; checked when it runs, so that one malformed operation
/// fails alone (RFC 7644 §3.7.3).
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub method: Option<String>,
    pub bulk_id: Option<String>,
    pub path: Option<String>,
    /// The ETag the resource must have (`If-Match`, RFC 7644 §3.7, §3.14).
    pub version: Option<String>,
    pub data: Option<Value>,
    /// Why the element could not be read at all.
    problem: Option<ScimError>,
}

impl BulkRequest {
    /// Parses a Bulk body. Not an object, `schemas` without [`BULK_REQUEST_SCHEMA`] (when
    /// present), `Operations` missing or not an array → `invalidSyntax`; a `failOnErrors` that
    /// is not a positive integer → `invalidValue`; more than `max_operations` operations → 413
    /// (RFC 7644 §3.7.4). Member names are matched ignoring case.
    pub fn from_json(body: Value, max_operations: u32) -> Result<BulkRequest, ScimError> {
        let Value::Object(mut body) = body else {
            return Err(ScimError::invalid_syntax(
                "a Bulk body is a JSON object with \"schemas\" and \"Operations\"",
            ));
        };
        match take(&mut body, "schemas") {
            None | Some(Value::Null) => {}
            Some(Value::Array(urns))
                if urns.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA))
                }) => {}
            Some(_) => {
                return Err(ScimError::invalid_syntax(format!(
                    "\"schemas\" must be [\"{BULK_REQUEST_SCHEMA}\"]"
                )));
            }
        }
        let operations = match take(&mut body, "Operations") {
            Some(Value::Array(ops)) => ops,
            Some(_) => return Err(ScimError::invalid_syntax("\"Operations\" must be an array")),
            None => return Err(ScimError::invalid_syntax("\"Operations\" is missing")),
        };
        if operations.len() > max_operations as usize {
            return Err(ScimError::payload_too_large(format!(
                "the Bulk request has {} operations; this server accepts at most {max_operations} \
                 (bulk.maxOperations in /ServiceProviderConfig): split it into smaller requests",
                operations.len()
            )));
        }
        let fail_on_errors = match take(&mut body, "failOnErrors") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => {
                n.as_u64().and_then(|n| usize::try_from(n).ok())
            }
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "\"failOnErrors\" must be a positive integer, not {other}"
                )));
            }
        };
        Ok(BulkRequest {
            fail_on_errors,
            operations: operations.into_iter().map(Operation::from_json).collect(),
        })
    }
}

impl Operation {
    fn from_json(op: Value) -> Operation {
        let Value::Object(mut op) = op else {
            return Operation {
                method: None,
                bulk_id: None,
                path: None,
                version: None,
                data: None,
                problem: Some(ScimError::invalid_syntax(
                    "each element of \"Operations\" is an object with \"method\" and \"path\"",
                )),
            };
        };
        let mut problem = None;
        let mut text = |name: &str| match take(&mut op, name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                problem.get_or_insert_with(|| {
                    ScimError::invalid_syntax(format!("\"{name}\" must be a string, not {other}"))
                });
                None
            }
        };
        let method = text("method");
        let bulk_id = text("bulkId");
        let path = text("path");
        let version = text("version");
        let data = take(&mut op, "data").filter(|d| !d.is_null());
        Operation {
            method,
            bulk_id,
            path,
            version,
            data,
            problem,
        }
    }
}

/// The result of one operation (RFC 7644 §3.7.3).
#[derive(Debug, Clone, PartialEq)]
pub struct OpResult {
    pub method: String,
    pub bulk_id: Option<String>,
    pub location: Option<String>,
    pub version: Option<String>,
    pub status: u16,
    /// The SCIM error body of a failed operation.
    pub response: Option<Value>,
    /// The failure of a failed operation, its cause included, for the HTTP edge to log
    /// (docs/architecture.md §9); the body above never carries the cause.
    pub error: Option<ScimError>,
}

impl OpResult {
    fn failed(op: &Operation, location: Option<String>, error: &ScimError) -> OpResult {
        OpResult {
            method: method_label(op),
            bulk_id: op.bulk_id.clone(),
            location,
            version: None,
            status: error.status(),
            response: Some(error.body()),
            error: Some(error.clone()),
        }
    }

    /// Whether the operation failed.
    pub fn is_error(&self) -> bool {
        self.status >= 400
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(location) = &self.location {
            out.insert("location".to_owned(), json!(location));
        }
        out.insert("method".to_owned(), json!(self.method));
        if let Some(bulk_id) = &self.bulk_id {
            out.insert("bulkId".to_owned(), json!(bulk_id));
        }
        if let Some(version) = &self.version {
            out.insert("version".to_owned(), json!(version));
        }
        out.insert("status".to_owned(), json!(self.status.to_string()));
        if let Some(response) = &self.response {
            out.insert("response".to_owned(), response.clone());
        }
        Value::Object(out)
    }
}

/// The `BulkResponse` (RFC 7644 §3.7.3), operations in request order; `status` is a string as
/// in the RFC's examples.
pub fn response(results: &[OpResult]) -> Value {
    json!({
        "schemas": [BULK_RESPONSE_SCHEMA],
        "Operations": results.iter().map(OpResult::to_json).collect::<Vec<_>>(),
    })
}

/// Runs the operations (see the module documentation) and returns the result of each one run,
/// in request order. `base` is the SCIM base URL used in `location`.
pub async fn process(
    store: &crate::store::Store,
    actor: Actor,
    request: BulkRequest,
    base: &str,
) -> Vec<OpResult> {
    let ops = request.operations;
    let n = ops.len();
    let mut results: Vec<Option<OpResult>> = vec![None; n];
    let mut declared: HashMap<String, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(id) = &op.bulk_id
            && is_post(op)
        {
            if let Some(first) = declared.get(id) {
                let error = ScimError::invalid_value(format!(
                    "bulkId '{id}' is already declared by operation {}; bulkIds must be unique \
                     within a request",
                    first + 1
                ));
                results[i] = Some(OpResult::failed(op, None, &error));
            } else {
                declared.insert(id.clone(), i);
            }
        }
    }
    let refs: Vec<BTreeSet<String>> = ops.iter().map(references).collect();
    let mut schedule = Schedule::new(&ops, &declared, &refs, &results);
    let mut run = Runner {
        store,
        actor,
        base,
        resolved: HashMap::new(),
        failed: HashSet::new(),
    };
    let mut errors = results.iter().flatten().count();
    let mut deferred = DeferredAdds::default();
    let limit = request.fail_on_errors.unwrap_or(usize::MAX);
    while errors < limit {
        let (i, held_back) = match schedule.next() {
            Next::Done => break,
            Next::Ready(i) => (i, BTreeSet::new()),
            // A cycle: break it at a group whose waiting references are all members.
            Next::Break(b) => (b, schedule.waiting(b, &refs[b], &declared)),
            Next::Cycle(i) => {
                let error = ScimError::conflict(
                    "the operation is part of a cycle of bulkId references that cannot be \
                     resolved (RFC 7644 §3.7.1): create the resources first, then link them",
                );
                results[i] = Some(OpResult::failed(&ops[i], None, &error));
                schedule.finish(i);
                if let Some(id) = &ops[i].bulk_id {
                    run.failed.insert(id.clone());
                    errors += run.settle(id, &mut deferred, &mut results).await;
                }
                errors += 1;
                continue;
            }
        };
        let op = &ops[i];
        let result = run.operation(op, &held_back).await;
        let declared_id = op.bulk_id.as_ref().filter(|_| is_post(op));
        if let Some(id) = declared_id {
            match &result {
                Ok((r, Some(created))) if !r.is_error() => {
                    run.resolved.insert(id.clone(), created.clone());
                }
                _ => {
                    run.failed.insert(id.clone());
                }
            }
        }
        let result = match result {
            Ok((r, created)) => {
                if let (false, Some(group)) = (held_back.is_empty(), created) {
                    deferred.push(Deferred {
                        op: i,
                        group: GroupId::parse(&group),
                        bulk_ids: held_back,
                    });
                }
                r
            }
            Err(r) => r,
        };
        if result.is_error() {
            errors += 1;
        }
        results[i] = Some(result);
        schedule.finish(i);
        if let Some(id) = declared_id {
            errors += run.settle(id, &mut deferred, &mut results).await;
        }
    }
    results.into_iter().flatten().collect()
}

/// A group created without members whose `bulkId`s were not resolved yet.
struct Deferred {
    op: usize,
    group: Option<GroupId>,
    bulk_ids: BTreeSet<String>,
}

/// Deferred member adds, each waiting for its `bulkId`s to settle; indexed by `bulkId`, so that
/// settling one costs what waits on it, not a pass over every deferred group.
#[derive(Default)]
struct DeferredAdds {
    /// Each deferred add and how many of its `bulkId`s are still unsettled; `None` once run.
    adds: Vec<Option<(Deferred, usize)>>,
    /// `bulkId` → the deferred adds waiting for it.
    waiting: HashMap<String, Vec<usize>>,
}

impl DeferredAdds {
    /// Defers `add` until every one of its `bulkId`s (all unsettled: they were waited on) has
    /// settled.
    fn push(&mut self, add: Deferred) {
        let at = self.adds.len();
        for id in &add.bulk_ids {
            self.waiting.entry(id.clone()).or_default().push(at);
        }
        let unsettled = add.bulk_ids.len();
        self.adds.push(Some((add, unsettled)));
    }

    /// `bulk_id` has settled: the deferred adds that now wait for nothing, in the order they
    /// were deferred.
    fn settle(&mut self, bulk_id: &str) -> Vec<Deferred> {
        let mut due = Vec::new();
        for at in self.waiting.remove(bulk_id).unwrap_or_default() {
            let Some(entry) = self.adds.get_mut(at) else {
                continue;
            };
            if let Some((_, unsettled)) = entry {
                *unsettled = unsettled.saturating_sub(1);
                if *unsettled == 0
                    && let Some((add, _)) = entry.take()
                {
                    due.push((at, add));
                }
            }
        }
        due.sort_by_key(|(at, _)| *at);
        due.into_iter().map(|(_, add)| add).collect()
    }
}

/// What runs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The first operation, in request order, that waits for no other.
    Ready(usize),
    /// None is ready: break the cycle at this `POST /Groups`, whose waiting references are all
    /// `members` values.
    Break(usize),
    /// None is ready and no cycle can be broken: this operation fails.
    Cycle(usize),
    /// Every operation has run.
    Done,
}

/// The order of a Bulk request's operations (module docs), kept in O(operations + references)
/// for the whole request: per operation, how many declared `bulkId`s it still waits for (and
/// how many of those are not `members` values), and who waits for whom. A scan per step would
/// make a request of `maxOperations` cost their square, on the request's worker.
struct Schedule {
    unfinished: BTreeSet<usize>,
    ready: BTreeSet<usize>,
    /// Unfinished `POST /Groups` that wait only through `members` values.
    breakable: BTreeSet<usize>,
    waits: Vec<usize>,
    /// Of [`Schedule::waits`], those not through a `members` value.
    other_waits: Vec<usize>,
    /// For each operation, who waits for it, and whether through a `members` value.
    dependents: Vec<Vec<(usize, bool)>>,
    group_post: Vec<bool>,
}

impl Schedule {
    fn new(
        ops: &[Operation],
        declared: &HashMap<String, usize>,
        refs: &[BTreeSet<String>],
        results: &[Option<OpResult>],
    ) -> Schedule {
        let n = ops.len();
        let mut schedule = Schedule {
            unfinished: (0..n).filter(|&i| results[i].is_none()).collect(),
            ready: BTreeSet::new(),
            breakable: BTreeSet::new(),
            waits: vec![0; n],
            other_waits: vec![0; n],
            dependents: vec![Vec::new(); n],
            group_post: ops.iter().map(is_post_groups).collect(),
        };
        for i in 0..n {
            if results[i].is_some() {
                continue;
            }
            let members = if schedule.group_post[i] {
                member_references(&ops[i])
            } else {
                BTreeSet::new()
            };
            for r in &refs[i] {
                let Some(&d) = declared.get(r) else { continue };
                if d == i || results[d].is_some() {
                    continue;
                }
                let through_members = members.contains(r);
                schedule.waits[i] += 1;
                if !through_members {
                    schedule.other_waits[i] += 1;
                }
                schedule.dependents[d].push((i, through_members));
            }
            schedule.classify(i);
        }
        schedule
    }

    /// Files an unfinished operation under ready or breakable by its counts.
    fn classify(&mut self, i: usize) {
        if !self.unfinished.contains(&i) {
            return;
        }
        if self.waits[i] == 0 {
            self.breakable.remove(&i);
            self.ready.insert(i);
        } else if self.group_post[i] && self.other_waits[i] == 0 {
            self.breakable.insert(i);
        }
    }

    fn next(&self) -> Next {
        if let Some(&i) = self.ready.first() {
            Next::Ready(i)
        } else if let Some(&b) = self.breakable.first() {
            Next::Break(b)
        } else if let Some(&i) = self.unfinished.first() {
            Next::Cycle(i)
        } else {
            Next::Done
        }
    }

    /// The `bulkId`s of `refs` (operation `i`'s) whose operations have not run yet.
    fn waiting(
        &self,
        i: usize,
        refs: &BTreeSet<String>,
        declared: &HashMap<String, usize>,
    ) -> BTreeSet<String> {
        refs.iter()
            .filter(|r| {
                declared
                    .get(*r)
                    .is_some_and(|&d| d != i && self.unfinished.contains(&d))
            })
            .cloned()
            .collect()
    }

    /// Operation `i` has run (or failed): whoever waited for it waits for one fewer.
    fn finish(&mut self, i: usize) {
        if !self.unfinished.remove(&i) {
            return;
        }
        self.ready.remove(&i);
        self.breakable.remove(&i);
        for (j, through_members) in std::mem::take(&mut self.dependents[i]) {
            self.waits[j] = self.waits[j].saturating_sub(1);
            if !through_members {
                self.other_waits[j] = self.other_waits[j].saturating_sub(1);
            }
            self.classify(j);
        }
    }
}

struct Runner<'a> {
    store: &'a crate::store::Store,
    actor: Actor,
    base: &'a str,
    /// bulkId → id of the resource its POST created.
    resolved: HashMap<String, String>,
    /// bulkIds whose POST failed.
    failed: HashSet<String>,
}

/// Which endpoint an operation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Users,
    Groups,
}

impl Runner<'_> {
    /// Runs one operation; `Ok((result, created id))` when it was dispatched, `Err(result)` when
    /// it was refused before. `held_back` are member `bulkId`s to leave out (cycle breaking).
    async fn operation(
        &self,
        op: &Operation,
        held_back: &BTreeSet<String>,
    ) -> Result<(OpResult, Option<String>), OpResult> {
        let refused = |location: Option<String>, e: ScimError| OpResult::failed(op, location, &e);
        if let Some(problem) = &op.problem {
            return Err(refused(None, problem.clone()));
        }
        let method = op
            .method
            .as_deref()
            .map(str::to_ascii_uppercase)
            .ok_or_else(|| refused(None, ScimError::invalid_syntax("\"method\" is missing")))?;
        let path = op
            .path
            .as_deref()
            .ok_or_else(|| refused(None, ScimError::invalid_syntax("\"path\" is missing")))?;
        let path = self.resolve_path(path).map_err(|e| refused(None, e))?;
        let (endpoint, id) = parse_path(&path).map_err(|e| refused(None, e))?;
        let location = id.as_ref().map(|id| self.location(endpoint, id));
        let refused_at = |e: ScimError| OpResult::failed(op, location.clone(), &e);
        let data = match op.data.clone() {
            Some(data) => {
                let data = strip_members(data, held_back);
                Some(self.resolve_data(data).map_err(&refused_at)?)
            }
            None => None,
        };
        let precondition = match &op.version {
            None => Precondition::None,
            Some(v) => Precondition::Versions(vec![parse_version(v).map_err(&refused_at)?]),
        };
        let needs_data = || {
            data.clone().ok_or_else(|| {
                ScimError::invalid_syntax(format!("\"data\" is required with {method}"))
            })
        };
        let actor = self.actor.clone();
        let store = self.store;
        let outcome: Result<(u16, String, i64), ScimError> = match (method.as_str(), id) {
            ("POST", None) => {
                if op.bulk_id.is_none() {
                    return Err(refused_at(ScimError::invalid_syntax(
                        "\"bulkId\" is required with POST (RFC 7644 §3.7)",
                    )));
                }
                let data = needs_data().map_err(&refused_at)?;
                match endpoint {
                    Endpoint::Users => users::create(store, actor, data)
                        .await
                        .map(|r| (201, r.id, r.version)),
                    Endpoint::Groups => groups::create(store, actor, data, false)
                        .await
                        .map(|v| (201, v.row.id, v.row.version)),
                }
            }
            ("POST", Some(_)) => Err(ScimError::method_not_allowed(
                "POST goes to a resource type endpoint such as \"/Users\", not to a resource",
            )),
            (_, None) if matches!(method.as_str(), "PUT" | "PATCH" | "DELETE") => {
                Err(ScimError::method_not_allowed(format!(
                    "{method} needs the path of one resource, such as \"/Users/<id>\""
                )))
            }
            ("PUT", Some(id)) => {
                let data = needs_data().map_err(&refused_at)?;
                match endpoint {
                    Endpoint::Users => users::replace(store, actor, &id, data, precondition)
                        .await
                        .map(|r| (200, r.id, r.version)),
                    Endpoint::Groups => {
                        groups::replace(store, actor, &id, data, precondition, false)
                            .await
                            .map(|v| (200, v.row.id, v.row.version))
                    }
                }
            }
            ("PATCH", Some(id)) => {
                let data = needs_data().map_err(&refused_at)?;
                match PatchRequest::from_json(data) {
                    Err(e) => Err(e),
                    Ok(request) => match endpoint {
                        Endpoint::Users => users::patch(store, actor, &id, request, precondition)
                            .await
                            .map(|r| (200, r.id, r.version)),
                        Endpoint::Groups => {
                            groups::patch(store, actor, &id, request, precondition, false)
                                .await
                                .map(|v| (200, v.row.id, v.row.version))
                        }
                    },
                }
            }
            ("DELETE", Some(id)) => match endpoint {
                Endpoint::Users => users::delete(store, actor, &id, precondition)
                    .await
                    .map(|()| (204, id, 0)),
                Endpoint::Groups => groups::delete(store, actor, &id, precondition)
                    .await
                    .map(|()| (204, id, 0)),
            },
            (other, _) => Err(ScimError::method_not_allowed(format!(
                "method \"{other}\" is not a Bulk method: use POST, PUT, PATCH or DELETE"
            ))),
        };
        match outcome {
            Ok((status, id, version)) => Ok((
                OpResult {
                    method: method_label(op),
                    bulk_id: op.bulk_id.clone(),
                    location: Some(self.location(endpoint, &id)),
                    version: (status != 204).then(|| etag(version)),
                    status,
                    response: None,
                    error: None,
                },
                Some(id),
            )),
            Err(e) => Err(refused_at(e)),
        }
    }

    /// Adds the held-back members of groups whose references are now all settled.
    /// `bulk_id`'s operation has run (it is now resolved or failed): adds the members of every
    /// deferred group that waited for no other `bulkId`. Returns how many of those adds failed.
    async fn settle(
        &self,
        bulk_id: &str,
        deferred: &mut DeferredAdds,
        results: &mut [Option<OpResult>],
    ) -> usize {
        let mut errors = 0;
        for d in deferred.settle(bulk_id) {
            let ids: Vec<String> = d
                .bulk_ids
                .iter()
                .filter_map(|b| self.resolved.get(b).cloned())
                .collect();
            let Some(group) = &d.group else { continue };
            let Some(Some(result)) = results.get_mut(d.op) else {
                continue;
            };
            let unresolved: Vec<&String> = d
                .bulk_ids
                .iter()
                .filter(|b| self.failed.contains(*b))
                .collect();
            let outcome = if unresolved.is_empty() {
                groups::add(self.store, self.actor.clone(), group, ids).await
            } else {
                Err(ScimError::conflict(format!(
                    "the group was created, but its members {unresolved:?} could not be added: \
                     the operations declaring those bulkIds failed"
                )))
            };
            match outcome {
                Ok(view) => result.version = Some(etag(view.row.version)),
                Err(e) => {
                    result.status = e.status();
                    result.response = Some(e.body());
                    errors += 1;
                }
            }
        }
        errors
    }

    fn location(&self, endpoint: Endpoint, id: &str) -> String {
        let name = match endpoint {
            Endpoint::Users => "Users",
            Endpoint::Groups => "Groups",
        };
        format!("{}/{name}/{id}", self.base)
    }

    /// `/Groups/bulkId:qwerty` → `/Groups/<id>`.
    fn resolve_path(&self, path: &str) -> Result<String, ScimError> {
        match path.rsplit_once('/') {
            Some((head, last)) if last.starts_with(REF_PREFIX) => {
                Ok(format!("{head}/{}", self.resolve(last)?))
            }
            _ => Ok(path.to_owned()),
        }
    }

    /// Every `"bulkId:…"` string in `data` replaced by the id it stands for.
    fn resolve_data(&self, data: Value) -> Result<Value, ScimError> {
        Ok(match data {
            Value::String(s) if s.starts_with(REF_PREFIX) => Value::String(self.resolve(&s)?),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|v| self.resolve_data(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| Ok((k, self.resolve_data(v)?)))
                    .collect::<Result<_, ScimError>>()?,
            ),
            other => other,
        })
    }

    fn resolve(&self, reference: &str) -> Result<String, ScimError> {
        let bulk_id = reference.trim_start_matches(REF_PREFIX);
        if let Some(id) = self.resolved.get(bulk_id) {
            return Ok(id.clone());
        }
        let why = if self.failed.contains(bulk_id) {
            "the operation that declares it failed"
        } else {
            "no POST operation of this request declares it (or it references itself)"
        };
        Err(ScimError::conflict(format!(
            "bulkId '{bulk_id}' cannot be resolved: {why}"
        )))
    }
}

fn is_post(op: &Operation) -> bool {
    op.method
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("POST"))
}

fn is_post_groups(op: &Operation) -> bool {
    is_post(op)
        && op.path.as_deref().is_some_and(|p| {
            parse_path(p).is_ok_and(|(e, id)| e == Endpoint::Groups && id.is_none())
        })
}

fn method_label(op: &Operation) -> String {
    op.method
        .as_deref()
        .map(str::to_ascii_uppercase)
        .unwrap_or_default()
}

/// `/Users`, `Users/<id>`, `/Groups/<id>` (resource type names ignoring case).
fn parse_path(path: &str) -> Result<(Endpoint, Option<String>), ScimError> {
    let trimmed = path.trim().trim_start_matches('/');
    let (name, id) = match trimmed.split_once('/') {
        Some((name, id)) => (name, Some(id)),
        None => (trimmed, None),
    };
    let endpoint = if name.eq_ignore_ascii_case("Users") {
        Endpoint::Users
    } else if name.eq_ignore_ascii_case("Groups") {
        Endpoint::Groups
    } else {
        return Err(ScimError::not_found(format!(
            "no endpoint '{path}': Bulk operations act on \"/Users\" and \"/Groups\""
        )));
    };
    match id {
        Some(id) if id.is_empty() || id.contains('/') => Err(ScimError::not_found(format!(
            "no endpoint '{path}': a resource path is \"/Users/<id>\" or \"/Groups/<id>\""
        ))),
        id => Ok((endpoint, id.map(str::to_owned))),
    }
}

/// `W/"3"`, `"3"` or `3` → 3.
fn parse_version(v: &str) -> Result<i64, ScimError> {
    let t = v.trim();
    let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
    t.parse().map_err(|_| {
        ScimError::invalid_value(format!(
            "version '{v}' is not an ETag this server issued (they look like W/\"3\")"
        ))
    })
}

/// The `bulkId`s an operation references, in its path and anywhere in its data.
fn references(op: &Operation) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some((_, last)) = op.path.as_deref().and_then(|p| p.rsplit_once('/'))
        && let Some(id) = last.strip_prefix(REF_PREFIX)
    {
        out.insert(id.to_owned());
    }
    if let Some(data) = &op.data {
        collect_references(data, &mut out);
    }
    out
}

fn collect_references(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(REF_PREFIX) {
                out.insert(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_references(i, out)),
        _ => {}
    }
}

/// The `bulkId`s referenced as `members[].value` of a group's data.
fn member_references(op: &Operation) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let members = op
        .data
        .as_ref()
        .and_then(Value::as_object)
        .and_then(|d| d.iter().find(|(k, _)| k.eq_ignore_ascii_case("members")))
        .map(|(_, v)| v);
    if let Some(Value::Array(items)) = members {
        for item in items {
            if let Some(id) = item
                .get("value")
                .and_then(Value::as_str)
                .and_then(|v| v.strip_prefix(REF_PREFIX))
            {
                out.insert(id.to_owned());
            }
        }
    }
    out
}

/// The group data without the members whose `value` references one of `held_back`.
fn strip_members(data: Value, held_back: &BTreeSet<String>) -> Value {
    if held_back.is_empty() {
        return data;
    }
    let Value::Object(mut map) = data else {
        return data;
    };
    for (key, v) in map.iter_mut() {
        if key.eq_ignore_ascii_case("members")
            && let Value::Array(items) = v
        {
            items.retain(|item| {
                !item
                    .get("value")
                    .and_then(Value::as_str)
                    .and_then(|v| v.strip_prefix(REF_PREFIX))
                    .is_some_and(|id| held_back.contains(id))
            });
        }
    }
    Value::Object(map)
}

/// Removes member `key` from an object, matching its name ignoring case.
fn take(object: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let name = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(key))
        .cloned()?;
    object.remove(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the schedule to its end as `process` does (each step's operation finishes), and
    /// returns the steps.
    fn drive(ops: &[Operation]) -> Vec<Next> {
        let mut declared = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            if let Some(id) = op.bulk_id.clone().filter(|_| is_post(op)) {
                declared.insert(id, i);
            }
        }
        let refs: Vec<BTreeSet<String>> = ops.iter().map(references).collect();
        let results = vec![None; ops.len()];
        let mut schedule = Schedule::new(ops, &declared, &refs, &results);
        let mut steps = Vec::new();
        loop {
            let next = schedule.next();
            steps.push(next);
            match next {
                Next::Done => return steps,
                Next::Ready(i) | Next::Break(i) | Next::Cycle(i) => schedule.finish(i),
            }
        }
    }

    fn post_user(id: &str, manager: Option<&str>) -> Operation {
        let mut data = json!({"userName": id});
        if let Some(m) = manager {
            data["manager"] = json!({"value": format!("bulkId:{m}")});
        }
        Operation::from_json(
            json!({"method": "POST", "path": "/Users", "bulkId": id, "data": data}),
        )
    }

    fn post_group(id: &str, members: &[&str]) -> Operation {
        let members: Vec<Value> = members
            .iter()
            .map(|m| json!({"value": format!("bulkId:{m}")}))
            .collect();
        Operation::from_json(json!({
            "method": "POST", "path": "/Groups", "bulkId": id,
            "data": {"displayName": id, "members": members},
        }))
    }

    #[test]
    fn operations_wait_for_the_bulk_ids_they_reference() {
        // Each user names the next one as manager: they run last to first.
        let ops: Vec<Operation> = (0..5)
            .map(|i| {
                let next = format!("u{}", i + 1);
                post_user(&format!("u{i}"), (i < 4).then_some(next.as_str()))
            })
            .collect();
        let order: Vec<Next> = (0..5).rev().map(Next::Ready).chain([Next::Done]).collect();
        assert_eq!(drive(&ops), order);
    }

    #[test]
    fn a_cycle_breaks_at_a_group_waiting_only_through_members_else_fails() {
        // RFC 7644 §3.7.1: two groups that contain each other.
        let ops = [post_group("a", &["b"]), post_group("b", &["a"])];
        assert_eq!(drive(&ops), [Next::Break(0), Next::Ready(1), Next::Done]);
        // Users waiting for each other through `manager` cannot be broken.
        let ops = [post_user("x", Some("y")), post_user("y", Some("x"))];
        assert_eq!(drive(&ops), [Next::Cycle(0), Next::Ready(1), Next::Done]);
    }

    #[test]
    fn a_chain_of_max_operations_runs_last_to_first() {
        // maxOperations operations in one chain, one step each.
        let n = 1000;
        let ops: Vec<Operation> = (0..n)
            .map(|i| {
                let next = format!("u{}", i + 1);
                post_user(&format!("u{i}"), (i + 1 < n).then_some(next.as_str()))
            })
            .collect();
        let steps = drive(&ops);
        assert_eq!(steps.len(), n + 1);
        assert_eq!(steps[0], Next::Ready(n - 1));
        assert_eq!(steps[n - 1], Next::Ready(0));
    }

    #[test]
    fn limits_and_syntax() {
        let ops: Vec<Value> = (0..3)
            .map(|_| json!({"method": "DELETE", "path": "/Users/x"}))
            .collect();
        let body = json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": ops});
        let err = BulkRequest::from_json(body.clone(), 2).err();
        assert_eq!(err.map(|e| e.status()), Some(413));
        assert!(BulkRequest::from_json(body, 3).is_ok());
        let err = BulkRequest::from_json(json!({"Operations": {}}), 3).err();
        assert_eq!(err.map(|e| e.status()), Some(400));
        let err = BulkRequest::from_json(json!({"Operations": [], "failOnErrors": 0}), 3).err();
        assert_eq!(err.map(|e| e.status()), Some(400));
    }

    #[test]
    fn references_in_paths_and_data() {
        let op = Operation::from_json(json!({
            "method": "PATCH",
            "path": "/Groups/bulkId:g",
            "data": {"Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u"}]}]},
        }));
        let refs: Vec<String> = references(&op).into_iter().collect();
        assert_eq!(refs, ["g", "u"]);
    }

    #[test]
    fn paths() {
        assert_eq!(parse_path("/Users").ok(), Some((Endpoint::Users, None)));
        assert_eq!(
            parse_path("groups/abc").ok(),
            Some((Endpoint::Groups, Some("abc".to_owned())))
        );
        assert!(parse_path("/Nope").is_err());
        assert!(parse_path("/Users/a/b").is_err());
        assert_eq!(parse_version("W/\"3\"").ok(), Some(3));
    }
}
