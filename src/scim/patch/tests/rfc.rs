//! The examples of RFC 7644 §3.5.2: `add`, `remove` and `replace`.

use super::*;

#[test]
fn rfc_7644_add_examples() {
    // RFC 7644 §3.5.2.1's first example, on a multi-valued attribute with a readOnly
    // sub-attribute (`display`), which is ignored.
    let empty = json!({"schemas": [TEAM_SCHEMA], "name": "Tour Guides"});
    let added = ok(
        &TEAM_RESOURCE,
        &empty,
        json!([{"op": "add", "path": "seats", "value": [{
            "display": "Babs Jensen",
            "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "value": BABS
        }]}]),
    );
    assert_eq!(
        added,
        json!({"schemas": [TEAM_SCHEMA], "name": "Tour Guides", "seats": [{
            "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "value": BABS
        }]})
    );
    let phone = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": WORK_PHONE, "type": "work"}]}]),
    );
    assert_eq!(
        phones(&phone),
        json!([{"value": WORK_PHONE, "type": "work"}])
    );

    let patched = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "value": {
            "emails": [{"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"
        }}]),
    );
    assert_eq!(patched["nickName"], "Babs");
    assert_eq!(
        patched["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ])
    );
    assert!(patched.get("nickname").is_none());
}

#[test]
fn rfc_7644_remove_examples() {
    let one = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "remove", "path": format!("phoneNumbers[value eq \"{WORK_PHONE}\"]")}]),
    );
    assert_eq!(
        phones(&one),
        json!([{"value": MOBILE_PHONE, "type": "mobile"}])
    );

    let all = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "remove", "path": "phoneNumbers"}]),
    );
    assert_eq!(all, user());

    let swapped = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([
            {"op": "remove", "path": format!("phoneNumbers[value eq \"{WORK_PHONE}\"]")},
            {"op": "add", "path": "phoneNumbers", "value": [{
                "display": "home", "value": HOME_PHONE, "type": "home"
            }]}
        ]),
    );
    assert_eq!(
        phones(&swapped),
        json!([
            {"value": MOBILE_PHONE, "type": "mobile"},
            {"display": "home", "value": HOME_PHONE, "type": "home"}
        ])
    );

    let mut two_emails = user();
    two_emails["emails"] = json!([
        {"value": "bjensen@example.com", "type": "work"},
        {"value": "babs@jensen.org", "type": "home"}
    ]);
    let filtered = ok(
        &USER_RESOURCE,
        &two_emails,
        json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
    );
    assert_eq!(
        filtered["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );

    let family = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "remove", "path": "name.familyName"}]),
    );
    assert_eq!(family["name"], json!({"givenName": "Barbara"}));
    let both = ok(
        &USER_RESOURCE,
        &user(),
        json!([
            {"op": "remove", "path": "name.familyName"},
            {"op": "remove", "path": "name.givenName"}
        ]),
    );
    assert!(both.get("name").is_none());
}

#[test]
fn rfc_7644_replace_examples() {
    let replaced = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "replace", "path": "phoneNumbers", "value": [
            {"value": WORK_PHONE, "type": "work"},
            {"value": HOME_PHONE, "type": "home"}
        ]}]),
    );
    assert_eq!(
        phones(&replaced),
        json!([{"value": WORK_PHONE, "type": "work"}, {"value": HOME_PHONE, "type": "home"}])
    );

    let mut with_address = user();
    with_address["addresses"] = json!([
        {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
        {"type": "home", "streetAddress": "1 Home St"}
    ]);
    let address = ok(
        &USER_RESOURCE,
        &with_address,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
            "type": "work",
            "streetAddress": "911 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "US",
            "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
            "primary": true
        }}]),
    );
    assert_eq!(
        address["addresses"],
        json!([
            {
                "type": "work",
                "streetAddress": "911 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "US",
                "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                "primary": true
            },
            {"type": "home", "streetAddress": "1 Home St"}
        ])
    );

    let street = ok(
        &USER_RESOURCE,
        &with_address,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1111 Broad St."}]),
    );
    assert_eq!(
        street["addresses"],
        json!([
            {"type": "work", "streetAddress": "1111 Broad St.", "locality": "Hollywood"},
            {"type": "home", "streetAddress": "1 Home St"}
        ])
    );

    let pathless = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "value": {
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "nickName": "Babs"
        }}]),
    );
    assert_eq!(
        pathless["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ])
    );
    assert_eq!(pathless["nickName"], "Babs");

    let given = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs", "middleName": null}}]),
    );
    assert_eq!(
        given["name"],
        json!({"givenName": "Babs", "familyName": "Jensen"})
    );

    let unassigned = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "path": "nickName", "value": "Babs"}]),
    );
    assert_eq!(unassigned["nickName"], "Babs");
}
