//! Unit tests of the Bulk order, limits, syntax and references.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::order::*;
use super::request::*;

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
    Operation::from_json(json!({"method": "POST", "path": "/Users", "bulkId": id, "data": data}))
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
