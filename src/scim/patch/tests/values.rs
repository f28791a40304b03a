//! Multi-valued attributes at scale: the indexed `add` against a linear scan, and the caps.

use super::*;

/// The engine as it was before values were indexed: a linear scan and a `claim_primary`
/// per value. The indexed one must give the same lists.
/// Except that a value is found as given (a scan of the list compared with values earlier
/// claims had made non-primary, and stored such a value twice), and a value given again as
/// primary is primary.
fn naive_add(mut list: Vec<Value>, items: &[Value]) -> Vec<Value> {
    let mut given = list.clone();
    for item in items {
        let index = match given.iter().position(|e| quirks::same_value(e, item)) {
            Some(i) => i,
            None => {
                list.push(item.clone());
                given.push(item.clone());
                list.len() - 1
            }
        };
        if is_primary(item)
            && let Some(Value::Object(o)) = list.get_mut(index)
        {
            o.insert("primary".to_owned(), Value::Bool(true));
        }
        claim_primary(&mut list, index);
    }
    list
}

#[test]
fn indexed_add_gives_the_lists_a_scan_gives() {
    let e = |v: &str, primary: Option<bool>| match primary {
        Some(p) => json!({"value": v, "primary": p}),
        None => json!({"value": v}),
    };
    let lists = [
        vec![],
        vec![e("a", Some(true)), e("b", Some(true))],
        vec![e("a", Some(true)), e("b", None)],
        vec![e("a", None), e("b", Some(true)), e("c", Some(false))],
    ];
    let adds = [
        vec![e("a", Some(true))],
        vec![e("b", Some(true)), e("c", Some(true))],
        vec![e("c", Some(true)), e("a", Some(true)), e("d", Some(false))],
        vec![
            e("b", Some(true)),
            e("d", None),
            e("a", Some(true)),
            e("b", Some(true)),
        ],
        vec![e("c", Some(true)), e("a", Some(true)), e("c", Some(true))],
        vec![e("x", None), e("x", None), e("y", Some(false))],
        vec![json!({"primary": true, "value": "a"}), e("z", Some(true))],
    ];
    for list in &lists {
        for add in &adds {
            let expected = naive_add(list.clone(), add);
            let mut doc = Map::new();
            doc.insert("emails".to_owned(), Value::Array(list.clone()));
            doc.insert("userName".to_owned(), json!("u"));
            let got = ok(
                &USER_RESOURCE,
                &Value::Object(doc),
                json!([{"op": "add", "path": "emails", "value": add}]),
            );
            let got = got.get("emails").cloned().unwrap_or(json!([]));
            assert_eq!(got, Value::Array(expected), "{list:?} + {add:?}");
        }
    }
}

#[test]
fn a_value_repeated_in_one_add_is_the_value_as_given() {
    // A scan compared with values already made non-primary, and stored "c" twice; the
    // last claim wins, as for distinct values.
    let patched = ok(
        &USER_RESOURCE,
        &json!({"schemas": [USER_SCHEMA], "userName": "u"}),
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "c", "primary": true},
            {"value": "a", "primary": true},
            {"value": "c", "primary": true}
        ]}]),
    );
    assert_eq!(
        patched["emails"],
        json!([{"value": "c", "primary": true}, {"value": "a", "primary": false}])
    );
}

#[test]
fn values_are_identified_by_their_whole_value_in_the_index() {
    let other = json!({"value": WORK_PHONE, "type": "other"});
    let patched = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "add", "path": "phoneNumbers", "value": [
            {"type": "work", "value": WORK_PHONE}, other, other
        ]}]),
    );
    assert_eq!(
        phones(&patched),
        json!([
            {"value": WORK_PHONE, "type": "work"},
            {"value": MOBILE_PHONE, "type": "mobile"},
            other
        ])
    );
}

#[test]
fn the_engine_never_writes_group_members() {
    // Group `members` have one implementation, provisioning::membership; an operation on them
    // that reached the engine would be a routing bug: 500, nothing written.
    for ops in [
        json!([{"op": "add", "path": "members", "value": [{"value": BABS}]}]),
        json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\"]")}]),
        json!([{"op": "replace", "path": "members.value", "value": BABS}]),
        json!([{"op": "replace", "value": {"displayName": "x", "members": []}}]),
        json!([{"op": "add", "value": {GROUP_SCHEMA: {"members": [{"value": BABS}]}}}]),
    ] {
        let e = run(&GROUP_RESOURCE, &group(), ops.clone()).unwrap_err();
        assert_eq!(e.status(), 500, "{ops}");
        // Everything the test sends is what provisioning routes to the membership table.
        let req = PatchRequest::from_json(request(ops.clone())).unwrap();
        assert!(
            req.operations.iter().all(PatchOperation::targets_members),
            "{ops}"
        );
    }
}

#[test]
fn multi_valued_attributes_are_capped() {
    let many: Vec<Value> = (0..52_000)
        .map(|i| json!({"value": format!("u{i}@example.com")}))
        .collect();
    let (t, detail) = err(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": many}]),
    );
    assert_eq!(t, Some(ScimType::InvalidValue));
    assert_eq!(
        detail,
        "'emails' may hold at most 100 values; this request gives it 52000"
    );
    // At the cap: the one stored value and 99 new ones.
    let at_cap: Vec<Value> = (1..MAX_VALUES)
        .map(|i| json!({"value": format!("u{i}@example.com")}))
        .collect();
    let patched = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": at_cap.clone()}]),
    );
    assert_eq!(patched["emails"].as_array().map(Vec::len), Some(MAX_VALUES));
    // One more, through a second operation, is refused.
    let (t, detail) = err(
        &USER_RESOURCE,
        &user(),
        json!([
            {"op": "add", "path": "emails", "value": at_cap},
            {"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@example.com"}
        ]),
    );
    assert_eq!(t, Some(ScimType::InvalidValue));
    assert!(detail.contains("gives it 101"), "{detail}");
}

#[test]
fn operations_are_capped() {
    let ops: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|_| json!({"op": "replace", "path": "nickName", "value": "x"}))
        .collect();
    let e = PatchRequest::from_json(request(Value::Array(ops))).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidValue));
    assert!(e.detail().contains("at most 1000"), "{}", e.detail());
}

#[test]
fn filtered_remove_of_many_hits_keeps_the_rest_in_order() {
    let emails: Vec<Value> = (0..10)
        .map(|i| json!({"value": format!("{i}@x"), "type": if i % 2 == 0 { "work" } else { "home" }}))
        .collect();
    let mut doc = object(user());
    doc.insert("emails".to_owned(), Value::Array(emails));
    let patched = ok(
        &USER_RESOURCE,
        &Value::Object(doc),
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
    );
    let left: Vec<&str> = patched["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["value"].as_str())
        .collect();
    assert_eq!(left, ["1@x", "3@x", "5@x", "7@x", "9@x"]);
}
