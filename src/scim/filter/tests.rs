//! Unit tests of the filter parser, validation and evaluator.

use serde_json::Value;

use serde_json::json;

use super::parser::*;
use super::*;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::path::{self, AttrPath};
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, USER_RESOURCE};

fn cmp(path: &str, op: CompareOp, value: Value) -> Filter {
    Filter::Compare {
        path: path::parse_attr_path(path).unwrap(),
        op,
        value,
    }
}
fn pr(path: &str) -> Filter {
    Filter::Present(path::parse_attr_path(path).unwrap())
}
fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}
fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}
fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}
fn vp(attr: &str, f: Filter) -> Filter {
    Filter::ValuePath {
        attr: path::parse_attr_path(attr).unwrap(),
        filter: Box::new(f),
    }
}
fn parse(s: &str) -> Filter {
    s.parse::<Filter>().unwrap()
}
fn parse_err(s: &str) -> ScimError {
    s.parse::<Filter>().unwrap_err()
}
use CompareOp::*;

#[test]
fn parses_rfc_7644_examples() {
    let cases = [
        (
            "userName eq \"bjensen\"",
            cmp("userName", Eq, json!("bjensen")),
        ),
        (
            "name.familyName co \"O'Malley\"",
            cmp("name.familyName", Co, json!("O'Malley")),
        ),
        ("userName sw \"J\"", cmp("userName", Sw, json!("J"))),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
            cmp(
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                Sw,
                json!("J"),
            ),
        ),
        ("title pr", pr("title")),
        (
            "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
            cmp("meta.lastModified", Gt, json!("2011-05-13T04:42:34Z")),
        ),
        (
            "meta.lastModified ge \"2011-05-13T04:42:34Z\"",
            cmp("meta.lastModified", Ge, json!("2011-05-13T04:42:34Z")),
        ),
        (
            "meta.lastModified lt \"2011-05-13T04:42:34Z\"",
            cmp("meta.lastModified", Lt, json!("2011-05-13T04:42:34Z")),
        ),
        (
            "meta.lastModified le \"2011-05-13T04:42:34Z\"",
            cmp("meta.lastModified", Le, json!("2011-05-13T04:42:34Z")),
        ),
        (
            "title pr and userType eq \"Employee\"",
            and(pr("title"), cmp("userType", Eq, json!("Employee"))),
        ),
        (
            "title pr or userType eq \"Intern\"",
            or(pr("title"), cmp("userType", Eq, json!("Intern"))),
        ),
        (
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            cmp("schemas", Eq, json!(ENTERPRISE_USER_SCHEMA)),
        ),
        (
            "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
            and(
                cmp("userType", Eq, json!("Employee")),
                or(
                    cmp("emails", Co, json!("example.com")),
                    cmp("emails.value", Co, json!("example.org")),
                ),
            ),
        ),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
            and(
                cmp("userType", Ne, json!("Employee")),
                not(or(
                    cmp("emails", Co, json!("example.com")),
                    cmp("emails.value", Co, json!("example.org")),
                )),
            ),
        ),
        (
            "userType eq \"Employee\" and (emails.type eq \"work\")",
            and(
                cmp("userType", Eq, json!("Employee")),
                cmp("emails.type", Eq, json!("work")),
            ),
        ),
        (
            "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
            and(
                cmp("userType", Eq, json!("Employee")),
                vp(
                    "emails",
                    and(
                        cmp("type", Eq, json!("work")),
                        cmp("value", Co, json!("@example.com")),
                    ),
                ),
            ),
        ),
        (
            "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
            or(
                vp(
                    "emails",
                    and(
                        cmp("type", Eq, json!("work")),
                        cmp("value", Co, json!("@example.com")),
                    ),
                ),
                vp(
                    "ims",
                    and(
                        cmp("type", Eq, json!("xmpp")),
                        cmp("value", Co, json!("@foo.com")),
                    ),
                ),
            ),
        ),
        (
            "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
            vp(
                "members",
                cmp("value", Eq, json!("2819c223-7f76-453a-919d-413861904646")),
            ),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input), want, "{input}");
    }
}

#[test]
fn parses_operators_values_and_precedence() {
    let cases = [
        ("USERNAME EQ \"a\"", cmp("USERNAME", Eq, json!("a"))),
        ("userName Ne \"a\"", cmp("userName", Ne, json!("a"))),
        ("displayName ew \"x\"", cmp("displayName", Ew, json!("x"))),
        ("title PR", pr("title")),
        ("active eq true", cmp("active", Eq, json!(true))),
        ("active eq False", cmp("active", Eq, json!(false))),
        ("title eq null", cmp("title", Eq, Value::Null)),
        ("x lt 10", cmp("x", Lt, json!(10))),
        ("x le -1.5e3", cmp("x", Le, json!(-1500.0))),
        (
            "externalId eq jyoung",
            cmp("externalId", Eq, json!("jyoung")),
        ),
        (
            "userName eq \"a \\\"b\\\" \\u00e9\\n\"",
            cmp("userName", Eq, json!("a \"b\" é\n")),
        ),
        (
            "userName eq \"(a) [b]\"",
            cmp("userName", Eq, json!("(a) [b]")),
        ),
        ("a pr or b pr and c pr", or(pr("a"), and(pr("b"), pr("c")))),
        ("a pr and b pr or c pr", or(and(pr("a"), pr("b")), pr("c"))),
        (
            "(a pr or b pr) and c pr",
            and(or(pr("a"), pr("b")), pr("c")),
        ),
        ("not (a pr) and b pr", and(not(pr("a")), pr("b"))),
        ("NOT(a pr)", not(pr("a"))),
        (
            "a pr AND b pr AND c pr",
            and(and(pr("a"), pr("b")), pr("c")),
        ),
        (
            "a pr or b pr or c pr or d pr",
            or(or(pr("a"), pr("b")), or(pr("c"), pr("d"))),
        ),
        ("((title pr))", pr("title")),
        (
            "emails[type eq \"work\"].value eq \"x@y\"",
            vp(
                "emails",
                and(
                    cmp("type", Eq, json!("work")),
                    cmp("value", Eq, json!("x@y")),
                ),
            ),
        ),
        (
            "emails[type eq \"work\"].value pr",
            vp("emails", and(cmp("type", Eq, json!("work")), pr("value"))),
        ),
        (
            "emails[not (type eq \"work\")]",
            vp("emails", not(cmp("type", Eq, json!("work")))),
        ),
        (
            "id eq \"X\" and manager eq \"Y\"",
            and(cmp("id", Eq, json!("X")), cmp("manager", Eq, json!("Y"))),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input), want, "{input}");
    }
}

#[test]
fn rejects_malformed_filters() {
    for input in [
        "",
        "   ",
        "userName",
        "userName eq",
        "userName xx \"a\"",
        "userName eq \"a",
        "userName eq \"bad \\x escape\"",
        "eq \"a\"",
        "(userName eq \"a\"",
        "userName eq \"a\")",
        "userName eq \"a\" and",
        "userName eq \"a\" userName eq \"b\"",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"]]",
        "emails[]",
        "emails[types[value eq \"a\"]]",
        "emails[urn:x:y:type eq \"a\"]",
        "emails[type.x eq \"a\"]",
        "emails.value[type eq \"a\"]",
        "emails[type eq \"work\"].value",
        "not",
        "1abc eq \"a\"",
        "[a pr]",
    ] {
        assert_eq!(
            parse_err(input).scim_type(),
            Some(ScimType::InvalidFilter),
            "{input}"
        );
    }
}

#[test]
fn bounds_length_and_depth() {
    let deep_parens = format!("{}title pr{}", "(".repeat(500), ")".repeat(500));
    let err = parse_err(&deep_parens);
    assert_eq!(err.scim_type(), Some(ScimType::InvalidFilter));
    assert_eq!(err.detail(), "nested deeper than 64 levels");

    let deep_not = format!("{}title pr{}", "not (".repeat(500), ")".repeat(500));
    assert_eq!(
        parse_err(&deep_not).detail(),
        "nested deeper than 64 levels"
    );

    let bare_nots = format!("{}title pr", "not ".repeat(500));
    assert_eq!(
        parse_err(&bare_nots).detail(),
        "nested deeper than 64 levels"
    );

    let at_limit = format!("{}title pr{}", "(".repeat(64), ")".repeat(64));
    assert_eq!(parse(&at_limit), pr("title"));
    let over = format!("{}title pr{}", "(".repeat(65), ")".repeat(65));
    assert!(over.parse::<Filter>().is_err());

    let long = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LENGTH));
    let err = parse_err(&long);
    assert_eq!(err.scim_type(), Some(ScimType::InvalidFilter));
    assert_eq!(err.detail(), "longer than 8192 bytes; split the query");

    // A long flat chain stays shallow: 600 terms, balanced to height 11 (and then refused
    // for its number of terms, not its depth).
    let wide = vec!["title pr"; 600].join(" or ");
    assert!(wide.len() < MAX_FILTER_LENGTH);
    assert!(parse_filter(&wide).is_ok());
}

#[test]
fn bounds_the_number_of_comparisons() {
    let at_cap = vec!["title pr"; MAX_FILTER_TERMS].join(" or ");
    assert!(at_cap.parse::<Filter>().is_ok());
    let over = vec!["title pr"; MAX_FILTER_TERMS + 1].join(" or ");
    let err = parse_err(&over);
    assert_eq!(err.scim_type(), Some(ScimType::TooMany));
    assert_eq!(
        err.detail(),
        "the filter has 51 comparisons; this server evaluates at most 50 per query: \
         split it into several queries"
    );
    // Comparisons inside brackets count too.
    let inner = vec!["value eq \"x\""; MAX_FILTER_TERMS].join(" or ");
    let bracketed = format!("title pr and emails[{inner}]");
    assert_eq!(parse_err(&bracketed).scim_type(), Some(ScimType::TooMany));

    let substrings = |n: usize| vec!["title co \"x\""; n].join(" or ");
    assert!(
        substrings(MAX_FILTER_SUBSTRING_TERMS)
            .parse::<Filter>()
            .is_ok()
    );
    for op in ["co", "sw", "ew"] {
        let many = vec![format!("title {op} \"x\""); MAX_FILTER_SUBSTRING_TERMS + 1].join(" or ");
        let err = parse_err(&many);
        assert_eq!(err.scim_type(), Some(ScimType::TooMany), "{op}");
        assert!(
            err.detail().contains("at most 5 per query"),
            "{}",
            err.detail()
        );
    }
}

#[test]
fn validates_against_the_schema() {
    let ok = [
        (
            "USERNAME eq \"a\"",
            &USER_RESOURCE,
            cmp("userName", Eq, json!("a")),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
            &USER_RESOURCE,
            cmp("userName", Sw, json!("J")),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:MANAGER.VALUE eq \"m\"",
            &USER_RESOURCE,
            Filter::Compare {
                path: AttrPath {
                    urn: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
                    attr: "manager".to_owned(),
                    sub_attr: Some("value".to_owned()),
                },
                op: Eq,
                value: json!("m"),
            },
        ),
        (
            "manager eq \"m\"",
            &USER_RESOURCE,
            Filter::Compare {
                path: AttrPath {
                    urn: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
                    attr: "manager".to_owned(),
                    sub_attr: Some("value".to_owned()),
                },
                op: Eq,
                value: json!("m"),
            },
        ),
        (
            "emails co \"example.com\"",
            &USER_RESOURCE,
            cmp("emails.value", Co, json!("example.com")),
        ),
        (
            "Emails[TYPE eq \"work\"].Value eq \"x\"",
            &USER_RESOURCE,
            vp(
                "emails",
                and(cmp("type", Eq, json!("work")), cmp("value", Eq, json!("x"))),
            ),
        ),
        (
            "externalId eq 12345",
            &USER_RESOURCE,
            cmp("externalId", Eq, json!("12345")),
        ),
        (
            "active eq false",
            &USER_RESOURCE,
            cmp("active", Eq, json!(false)),
        ),
        (
            "title eq null",
            &USER_RESOURCE,
            cmp("title", Eq, Value::Null),
        ),
        ("emails pr", &USER_RESOURCE, pr("emails")),
        (
            "meta.created gt \"2024-01-01T00:00:00+02:00\"",
            &GROUP_RESOURCE,
            cmp("meta.created", Gt, json!("2024-01-01T00:00:00+02:00")),
        ),
        (
            "displayname eq \"Admins\" and members[VALUE eq \"u1\"]",
            &GROUP_RESOURCE,
            and(
                cmp("displayName", Eq, json!("Admins")),
                vp("members", cmp("value", Eq, json!("u1"))),
            ),
        ),
    ];
    for (input, rt, want) in ok {
        assert_eq!(parse(input).validate(rt), Ok(want), "{input}");
    }

    let bad = [
        (
            "nosuch eq \"a\"",
            &USER_RESOURCE,
            "unknown attribute 'nosuch'",
        ),
        (
            "name.nosuch eq \"a\"",
            &USER_RESOURCE,
            "unknown attribute 'name.nosuch'",
        ),
        ("members pr", &USER_RESOURCE, "unknown attribute 'members'"),
        (
            "userName pr",
            &GROUP_RESOURCE,
            "unknown attribute 'userName'",
        ),
        (
            "active gt true",
            &USER_RESOURCE,
            "'gt' is not supported on a boolean attribute 'active'",
        ),
        (
            "active co \"t\"",
            &USER_RESOURCE,
            "'co' is not supported on a boolean attribute 'active'",
        ),
        (
            "x509Certificates.value lt \"AA\"",
            &USER_RESOURCE,
            "'lt' is not supported on binary attribute 'x509Certificates.value'",
        ),
        (
            "active eq \"yes\"",
            &USER_RESOURCE,
            "'active' is a boolean and cannot be compared with \"yes\"",
        ),
        (
            "userName eq true",
            &USER_RESOURCE,
            "'userName' is a string and cannot be compared with true",
        ),
        (
            "meta.created gt \"yesterday\"",
            &USER_RESOURCE,
            "'meta.created' is a dateTime and cannot be compared with \"yesterday\"",
        ),
        (
            "meta.created sw \"2024\"",
            &USER_RESOURCE,
            "'sw' is not supported on a dateTime attribute 'meta.created'",
        ),
        (
            "title gt null",
            &USER_RESOURCE,
            "'title gt null': only eq and ne compare with null",
        ),
        (
            "name eq \"x\"",
            &USER_RESOURCE,
            "'name' is complex: name one of its sub-attributes",
        ),
        (
            "emails[nosuch eq \"x\"]",
            &USER_RESOURCE,
            "unknown attribute 'emails.nosuch'",
        ),
        (
            "userName[value eq \"x\"]",
            &USER_RESOURCE,
            "'userName' is not complex: it has no values to select",
        ),
    ];
    for (input, rt, detail) in bad {
        let err = parse(input).validate(rt).unwrap_err();
        assert_eq!(err.scim_type(), Some(ScimType::InvalidFilter), "{input}");
        assert_eq!(err.detail(), detail, "{input}");
    }
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_SCHEMA],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Bjensen",
        "userName": "bjensen@example.com",
        "name": {"familyName": "O'Malley", "givenName": "Barbara"},
        "title": "",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\""
        },
        ENTERPRISE_USER_SCHEMA: {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

#[test]
fn evaluates_against_a_user() {
    let resource = user();
    let cases = [
        ("userName eq \"BJENSEN@example.com\"", true),
        ("userName eq \"bjensen\"", false),
        ("externalId eq \"Bjensen\"", true),
        ("externalId eq \"bjensen\"", false),
        ("id eq \"2819C223-7F76-453A-919D-413861904646\"", false),
        ("name.familyName co \"o'mal\"", true),
        ("userName sw \"BJ\"", true),
        ("userName ew \".COM\"", true),
        ("userName gt \"a\"", true),
        ("userName lt \"a\"", false),
        ("title pr", false),
        ("userType pr", true),
        ("nickName pr", false),
        ("ims pr", false),
        ("emails pr", true),
        ("title eq null", true),
        ("userType eq null", false),
        ("userType ne null", true),
        ("nickName ne \"x\"", false),
        ("not (nickName eq \"x\")", true),
        ("active eq true", true),
        ("active ne true", false),
        ("meta.lastModified gt \"2011-05-13T04:42:33Z\"", true),
        ("meta.lastModified gt \"2011-05-13T06:42:33+02:00\"", true),
        ("meta.lastModified ge \"2011-05-13T04:42:34Z\"", true),
        ("meta.lastModified lt \"2011-05-13T04:42:34.000Z\"", false),
        ("meta.lastModified le \"2011-05-13T04:42:34Z\"", true),
        ("meta.created eq \"2010-01-23T05:56:22+01:00\"", true),
        ("title pr and userType eq \"Employee\"", false),
        ("title pr or userType eq \"Employee\"", true),
        (
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user\"",
            true,
        ),
        ("emails co \"example.com\"", true),
        ("emails.value co \"example.org\"", false),
        (
            "userType eq \"Employee\" and (emails.type eq \"work\")",
            true,
        ),
        ("emails.type ne \"work\"", true),
        (
            "emails[type eq \"work\" and value co \"@example.com\"]",
            true,
        ),
        (
            "emails[type eq \"home\" and value co \"@example.com\"]",
            false,
        ),
        (
            "emails[type eq \"home\"].value eq \"BABS@jensen.org\"",
            true,
        ),
        (
            "emails[type eq \"work\"].value eq \"babs@jensen.org\"",
            false,
        ),
        ("emails[primary eq true].type eq \"work\"", true),
        ("ims[type eq \"xmpp\"]", false),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"",
            true,
        ),
        ("manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\"", true),
        ("manager.value pr", true),
        (
            "id eq \"2819c223-7f76-453a-919d-413861904646\" and manager eq \"nobody\"",
            false,
        ),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
            false,
        ),
    ];
    for (input, want) in cases {
        let filter = parse(input).validate(&USER_RESOURCE).unwrap();
        assert_eq!(filter.matches(&USER_RESOURCE, &resource), want, "{input}");
    }
}

#[test]
fn a_lone_eq_on_a_unique_attribute_is_a_key() {
    let unique = ["id", "userName", "externalId"];
    let key = |input: &str| {
        let filter = parse(input).validate(&USER_RESOURCE).unwrap();
        filter
            .unique_key(&unique)
            .map(|(attr, value)| (attr.to_owned(), value.to_owned()))
    };
    let pair = |a: &str, v: &str| Some((a.to_owned(), v.to_owned()));
    assert_eq!(key("userName eq \"Bjensen\""), pair("userName", "Bjensen"));
    assert_eq!(
        key("USERNAME eq \"b\""),
        pair("userName", "b"),
        "canonical name"
    );
    assert_eq!(key("externalId eq \"00u1\""), pair("externalId", "00u1"));
    assert_eq!(key("id eq \"42\""), pair("id", "42"));
    for other in [
        "userName eq \"b\" and active eq true",
        "userName ne \"b\"",
        "userName sw \"b\"",
        "displayName eq \"b\"",
        "emails.value eq \"b@example.org\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"7\"",
        "not (userName eq \"b\")",
    ] {
        assert_eq!(key(other), None, "{other}");
    }
}

#[test]
fn evaluates_group_members_and_value_filters() {
    let group = json!({
        "displayName": "Admins",
        "members": [{"value": "u1", "display": "Babs"}, {"value": "u2"}]
    });
    let cases = [
        ("members[value eq \"u2\"]", true),
        ("members[value eq \"u3\"]", false),
        ("members.value eq \"u1\"", true),
        ("displayName eq \"admins\"", true),
        ("members pr", true),
    ];
    for (input, want) in cases {
        let filter = parse(input).validate(&GROUP_RESOURCE).unwrap();
        assert_eq!(filter.matches(&GROUP_RESOURCE, &group), want, "{input}");
    }
    let members = GROUP_RESOURCE.schema.attribute("members").unwrap();
    let inner = parse("value eq \"U1\"").validate_within(members).unwrap();
    assert!(inner.matches_within(members, &json!({"value": "u1"})));
    assert!(!inner.matches_within(members, &json!({"value": "u2"})));
    let err = parse("nosuch pr").validate_within(members).unwrap_err();
    assert_eq!(err.detail(), "unknown attribute 'members.nosuch'");
}
