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

//!
//! - [`request`]: the request and response messages, paths and `bulkId` references;
//! - [`order`]: the order of operations and the deferred member adds.

mod order;
mod request;
#[cfg(test)]
mod tests;

pub use request::{
    BULK_REQUEST_SCHEMA, BULK_RESPONSE_SCHEMA, BulkRequest, OpResult, Operation, response,
};

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use crate::provisioning::users::{self, Precondition, etag};
use crate::provisioning::{Actor, groups};
use crate::scim::ScimError;
use crate::scim::patch::PatchRequest;
use crate::store::groups::GroupId;

use order::*;
use request::*;

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
struct Runner<'a> {
    store: &'a crate::store::Store,
    actor: Actor,
    base: &'a str,
    /// bulkId → id of the resource its POST created.
    resolved: HashMap<String, String>,
    /// bulkIds whose POST failed.
    failed: HashSet<String>,
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
