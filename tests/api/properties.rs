//! Property tests (docs/architecture.md §10): the filter, attribute-path, PATCH and JWT parsers
//! never panic on arbitrary or grammar-shaped input; every filter that parses is answered by
//! the database with exactly the users the in-memory evaluator `Filter::matches` selects, on
//! both backends; and filter text is never a server error.
//!
//! Each property runs a fixed number of cases from a fixed seed ([`config`]), so a run is
//! repeatable and a failure shrinks to a small input that the assertion message prints. The
//! cost of these parsers against input size is shown by `benches/neighbour.rs`, not timed here.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{RngSeed, TestCaseError, TestError, TestRunner};
use reqwest::StatusCode;
use roster::auth::token::JwtSettings;
use roster::auth::{Principal, Secret, Verifier};
use roster::scim::filter::Filter;
use roster::scim::patch::{self, PatchRequest};
use roster::scim::path::{AttrPath, PatchPath};
use roster::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use serde_json::{Map, Value, json};

use crate::helpers::*;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A fixed seed and a modest number of cases: deterministic in CI, seconds in a debug build.
/// No regression files: a failure prints its shrunk input, which belongs in a named test.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0x0012_5c1a_7e57_0012),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// One of `words`, shrinking towards the first.
fn one_of(words: &'static [&'static str]) -> impl Strategy<Value = &'static str> + Clone {
    select(words)
}

/// Words the users are made of, and so what filter literals are made of: mixed case, a few
/// non-ASCII letters (German sharp s, Greek sigmas, diaeresis), SQL `LIKE` wildcards and
/// quotes.
const WORDS: &[&str] = &[
    "ada",
    "Ada",
    "ADA",
    "lovelace",
    "Lovelace",
    "grace",
    "Hopper",
    "ünal",
    "Ünal",
    "ÜNAL",
    "straße",
    "STRASSE",
    "strasse",
    "σοφία",
    "Σοφία",
    "ΣΟΦΊΑ",
    "zoë",
    "Zoë",
    "o'brien",
    "50%",
    "a_b",
    "x",
    "X",
    "émile",
    "Émile",
    "ß",
    "i",
    "I",
    "İ",
    "ı",
];
const DOMAINS: &[&str] = &["example.com", "Example.COM", "ex.io", "mail.ünal.de"];
const EMAIL_TYPES: &[&str] = &["work", "home", "other", "Work"];
const TITLES: &[&str] = &["Engineer", "engineer", "Tour Guide", "", "Ärztin", "CTO"];

/// The words of [`WORDS`] for the attributes held in the resource's JSON, whose case-insensitive
/// comparisons use the database's `lower()`: Unicode's default mapping on SQLite
/// (`src/store/lower.rs`) and in the evaluator, the database's locale on PostgreSQL, where
/// libc's `lower('İ')` is `i`, not Unicode's `i̇` (docs/scim.md). So all but the dotted capital I.
fn json_words() -> Vec<&'static str> {
    WORDS.iter().copied().filter(|w| !w.contains('İ')).collect()
}

/// One generated user: what is sent to `POST /Users`.
fn user_body(i: usize) -> impl Strategy<Value = Value> {
    let email = (
        one_of(WORDS),
        one_of(DOMAINS),
        proptest::option::of(one_of(EMAIL_TYPES)),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(local, domain, kind, primary)| {
            let mut e = Map::new();
            e.insert("value".into(), json!(format!("{local}@{domain}")));
            if let Some(kind) = kind {
                e.insert("type".into(), json!(kind));
            }
            if let Some(primary) = primary {
                e.insert("primary".into(), json!(primary));
            }
            Value::Object(e)
        });
    let ascii = json_words();
    (
        one_of(WORDS),
        proptest::option::of(one_of(WORDS)),
        proptest::option::of((select(ascii.clone()), select(ascii.clone()))),
        proptest::option::of(one_of(TITLES)),
        (
            proptest::option::of(select(ascii.clone())),
            proptest::option::of(select(ascii.clone())),
        ),
        proptest::option::of(any::<bool>()),
        vec(email, 0..3),
        proptest::option::of(select(ascii.clone())),
    )
        .prop_map(
            move |(name, external, display, title, (given, family), active, emails, dept)| {
                let mut u = Map::new();
                u.insert("schemas".into(), json!([USER_SCHEMA, ENTERPRISE]));
                // The index keeps names distinct under any case mapping; the word varies.
                u.insert("userName".into(), json!(format!("{name}.{i:02}")));
                if let Some(external) = external {
                    u.insert("externalId".into(), json!(format!("{external}-{i}")));
                }
                if let Some((a, b)) = display {
                    u.insert("displayName".into(), json!(format!("{a} {b}")));
                }
                if let Some(title) = title {
                    u.insert("title".into(), json!(title));
                }
                let mut n = Map::new();
                if let Some(given) = given {
                    n.insert("givenName".into(), json!(given));
                }
                if let Some(family) = family {
                    n.insert("familyName".into(), json!(family));
                }
                if !n.is_empty() {
                    u.insert("name".into(), Value::Object(n));
                }
                if let Some(active) = active {
                    u.insert("active".into(), json!(active));
                }
                if !emails.is_empty() {
                    u.insert("emails".into(), Value::Array(emails));
                }
                if let Some(dept) = dept {
                    u.insert(ENTERPRISE.into(), json!({ "department": dept }));
                }
                Value::Object(u)
            },
        )
}

/// A string literal: a word of the data set, a piece of one (so `co`/`sw`/`ew` hit), or one
/// with its case changed; JSON-escaped.
fn string_literal() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        4 => one_of(WORDS).prop_map(str::to_owned),
        2 => (one_of(WORDS), 0usize..4, 0usize..4).prop_map(|(w, a, b)| {
            let chars: Vec<char> = w.chars().collect();
            let start = a.min(chars.len());
            let end = chars.len().saturating_sub(b).max(start);
            chars[start..end].iter().collect()
        }),
        1 => one_of(WORDS).prop_map(str::to_uppercase),
        1 => one_of(WORDS).prop_map(str::to_lowercase),
        1 => (one_of(WORDS), one_of(DOMAINS)).prop_map(|(w, d)| format!("{w}@{d}")),
        1 => one_of(DOMAINS).prop_map(|d| format!("@{d}")),
        1 => one_of(EMAIL_TYPES).prop_map(str::to_owned),
        1 => one_of(TITLES).prop_map(str::to_owned),
        1 => Just(".0".to_owned()),
        1 => "[%_a-z.]{0,3}",
    ];
    word.prop_map(|w| Value::String(w).to_string())
}

/// A comparison on a simple string attribute of the data set.
fn string_compare() -> impl Strategy<Value = String> {
    let attr = one_of(&[
        "userName",
        "USERNAME",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "externalId",
        "displayName",
        "title",
        "name.givenName",
        "name.familyName",
        "emails",
        "emails.value",
        "emails.type",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "department",
    ]);
    let op = one_of(&[
        "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Co",
    ]);
    (attr, op, string_literal()).prop_map(|(a, o, l)| format!("{a} {o} {l}"))
}

/// `pr`, `eq null`, booleans and dates.
fn other_compare() -> impl Strategy<Value = String> {
    let any_attr = one_of(&[
        "userName",
        "externalId",
        "displayName",
        "title",
        "name",
        "name.givenName",
        "name.familyName",
        "active",
        "emails",
        "emails.value",
        "emails.type",
        "emails.primary",
        "department",
        "meta.created",
    ]);
    prop_oneof![
        any_attr.clone().prop_map(|a| format!("{a} pr")),
        (any_attr, one_of(&["eq", "ne"])).prop_map(|(a, o)| format!("{a} {o} null")),
        (
            one_of(&["active", "emails.primary"]),
            one_of(&["eq", "ne"]),
            any::<bool>()
        )
            .prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        (
            one_of(&["meta.created", "meta.lastModified"]),
            one_of(&["gt", "ge", "lt", "le", "eq", "ne"]),
            one_of(&["2000-01-01T00:00:00Z", "2100-01-01T00:00:00+02:00"]),
        )
            .prop_map(|(a, o, t)| format!("{a} {o} \"{t}\"")),
    ]
}

/// The inside of `emails[...]`: sub-attribute comparisons joined by `and`/`or`/`not`.
fn email_value_filter() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (
            one_of(&["value", "type", "display"]),
            one_of(&["eq", "ne", "co", "sw", "ew", "gt", "le"]),
            string_literal()
        )
            .prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        (one_of(&["eq", "ne"]), any::<bool>()).prop_map(|(o, b)| format!("primary {o} {b}")),
        one_of(&["value", "type", "primary"]).prop_map(|a| format!("{a} pr")),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), one_of(&["and", "or"]), inner.clone())
                .prop_map(|(a, j, b)| format!("{a} {j} {b}")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

/// Filters over the generated users' attributes, from the RFC 7644 §3.4.2.2 grammar:
/// comparisons, `pr`, `and`/`or`/`not`, parentheses, value paths and Entra's
/// `emails[type eq "work"].value eq "x"`. Every one of them validates against the User schema.
fn user_filter() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        6 => string_compare(),
        3 => other_compare(),
        2 => email_value_filter().prop_map(|f| format!("emails[{f}]")),
        1 => (one_of(EMAIL_TYPES), one_of(&["eq", "co", "sw"]), string_literal())
            .prop_map(|(t, o, l)| format!("emails[type eq \"{t}\"].value {o} {l}")),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                one_of(&["and", "or", "AND", "Or"]),
                inner.clone()
            )
                .prop_map(|(a, j, b)| format!("{a} {j} {b}")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

/// Filter-shaped text that need not be valid: a generated filter cut short or with a piece
/// of junk spliced in, or grammar pieces, unknown names, stray brackets, quotes and escapes
/// glued together at random.
fn filter_like_text() -> impl Strategy<Value = String> {
    let junk = prop_oneof![
        one_of(&[
            "(",
            ")",
            "[",
            "]",
            "\"",
            "\\",
            "\\u0000",
            "\\ud800",
            ".",
            ":",
            " ",
            "not",
            "and",
            "or",
            "pr",
            "eq",
            "nosuch",
            "emails[",
            "]]",
            "[[",
            "not (",
            "members[value eq",
            "urn:",
            "urn:ietf:params:scim:schemas:core:2.0:User:",
            "1e999",
            "-0",
            "true",
            "null",
            "\u{0}",
            "ß",
            "userName eq \"a\u{0}b\"",
            "title co \"\\u0000x\"",
            "\u{200b}",
            "meta.created gt \"2026-13-45T99:99:99Z\"",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,8}",
    ];
    prop_oneof![
        2 => (user_filter(), any::<prop::sample::Index>(), junk.clone()).prop_map(|(f, at, junk)| {
            let cut = char_boundary(&f, at.index(f.len() + 1));
            format!("{}{junk}{}", &f[..cut], &f[cut..])
        }),
        1 => (user_filter(), any::<prop::sample::Index>()).prop_map(|(f, at)| {
            f[..char_boundary(&f, at.index(f.len() + 1))].to_owned()
        }),
        2 => vec(prop_oneof![user_filter(), junk], 1..8).prop_map(|pieces| pieces.concat()),
        // A control or invisible character inside a literal, raw or JSON-escaped.
        1 => (user_filter(), one_of(&["\u{0}", "\\u0000", "\u{1}", "\u{7f}", "\u{200b}", "\\ud800"]))
            .prop_map(|(f, c)| f.replacen('"', &format!("\"{c}"), 1)),
    ]
}

/// The largest char boundary of `s` at or before `at`.
fn char_boundary(s: &str, at: usize) -> usize {
    (0..=at.min(s.len()))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

/// An attribute path, valid or nearly so.
fn attr_path_text() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        4 => one_of(&[
            "userName", "name", "givenName", "emails", "value", "members", "display", "manager",
            "schemas", "meta", "id", "externalId", "groups", "x509Certificates", "active",
            "department", "",
        ])
        .prop_map(str::to_owned),
        1 => "[A-Za-z0-9$_.:-]{0,12}",
    ];
    let urn = prop_oneof![
        6 => Just(String::new()),
        1 => Just("urn:ietf:params:scim:schemas:core:2.0:User:".to_owned()),
        1 => Just(format!("{ENTERPRISE}:")),
        1 => Just("urn:ietf:params:scim:schemas:core:2.0:Group:".to_owned()),
        1 => "urn:[a-z:.0-9]{0,16}:",
    ];
    let sub = prop_oneof![
        2 => Just(None),
        1 => one_of(&["value", "givenName", "familyName", "type", "primary", "display", "nosuch", ""]).prop_map(|s| Some(s.to_owned())),
        1 => name.clone().prop_map(Some),
    ];
    (urn, name, sub).prop_map(|(u, a, s)| match s {
        Some(s) => format!("{u}{a}.{s}"),
        None => format!("{u}{a}"),
    })
}

/// A PATCH path: an attribute path, maybe with a value filter and a sub-attribute after it.
fn patch_path_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => attr_path_text(),
        2 => (attr_path_text(), email_value_filter(), proptest::option::of(one_of(&["value", "type", "primary", "display", "nosuch", ""])))
            .prop_map(|(a, f, s)| match s {
                Some(s) => format!("{a}[{f}].{s}"),
                None => format!("{a}[{f}]"),
            }),
        1 => filter_like_text(),
    ]
}

/// Object keys: mostly names the schemas know, in any case, some that they do not.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => one_of(&[
            "userName", "name", "givenName", "familyName", "emails", "value", "type", "primary",
            "active", "displayName", "members", "phoneNumbers", "addresses", "groups", "id",
            "meta", "schemas", "externalId", "password", "manager", "roles", "x509Certificates",
            ENTERPRISE, "urn:ietf:params:scim:schemas:core:2.0:User",
        ])
        .prop_map(str::to_owned),
        1 => one_of(&["USERNAME", "Emails", "ACTIVE", "emails.value", "name.givenName", "emails[type eq \"work\"].value", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"])
            .prop_map(str::to_owned),
        1 => "\\PC{0,8}",
    ]
}

/// Any JSON value, with keys a SCIM document would have more often than chance.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        one_of(&[
            "True",
            "False",
            "true",
            "",
            "work",
            "2026-11-29T09:00:00Z",
            "not a date",
            "a\u{0}b"
        ])
        .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A PATCH operation a connector could send: a valid path with a value of the right type.
fn typed_operation() -> impl Strategy<Value = Value> {
    // Now and then a control character: every string must be stored or refused, on each backend.
    let word = || {
        prop_oneof![
            12 => one_of(WORDS).prop_map(Value::from),
            1 => Just(Value::from("nul\u{0}here")),
        ]
    };
    let email = (
        one_of(WORDS),
        one_of(DOMAINS),
        one_of(EMAIL_TYPES),
        any::<bool>(),
    )
        .prop_map(|(w, d, t, p)| json!({"value": format!("{w}@{d}"), "type": t, "primary": p}));
    let target = prop_oneof![
        (
            one_of(&[
                "userName",
                "displayName",
                "title",
                "name.givenName",
                "externalId",
                "nickName"
            ]),
            word()
        )
            .prop_map(|(p, v)| (Some(p.to_owned()), v)),
        any::<bool>().prop_map(|b| (Some("active".to_owned()), json!(b))),
        one_of(&["True", "False", "true"]).prop_map(|b| (Some("active".to_owned()), json!(b))),
        vec(email.clone(), 0..4).prop_map(|e| (Some("emails".to_owned()), Value::Array(e))),
        email.clone().prop_map(|e| (Some("emails".to_owned()), e)),
        (
            one_of(EMAIL_TYPES),
            one_of(&["value", "type", "display", "primary"]),
            word()
        )
            .prop_map(|(t, sub, v)| (Some(format!("emails[type eq \"{t}\"].{sub}")), v)),
        (email_value_filter(), email).prop_map(|(f, e)| (Some(format!("emails[{f}]")), e)),
        (word(), word()).prop_map(|(g, f)| (
            Some("name".to_owned()),
            json!({"givenName": g, "familyName": f})
        )),
        word().prop_map(|m| (Some(format!("{ENTERPRISE}:manager")), json!({"value": m}))),
        word().prop_map(|d| (Some(format!("{ENTERPRISE}:department")), d)),
        (word(), any::<bool>()).prop_map(|(v, a)| (
            None,
            json!({"displayName": v, "active": a, "name.familyName": v})
        )),
        word().prop_map(|v| (None, json!({"emails[type eq \"work\"].value": v}))),
    ];
    (
        one_of(&["add", "remove", "replace", "Add", "Replace", "Remove"]),
        target,
        prop_oneof![4 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(op, (path, value), null)| {
            let mut o = Map::new();
            o.insert("op".into(), json!(op));
            if let Some(path) = path {
                o.insert("path".into(), json!(path));
            }
            if !op.eq_ignore_ascii_case("remove") {
                o.insert("value".into(), if null { Value::Null } else { value });
            }
            Value::Object(o)
        })
}

/// One element of `Operations`: well-formed and typed, or nearly so, or anything.
fn patch_operation() -> impl Strategy<Value = Value> {
    let op = prop_oneof![
        5 => one_of(&["add", "remove", "replace", "Add", "Replace", "REMOVE"]).prop_map(Value::from),
        1 => json_value(),
    ];
    let path = prop_oneof![
        1 => Just(None),
        4 => patch_path_text().prop_map(|p| Some(Value::String(p))),
        1 => json_value().prop_map(Some),
    ];
    let value = prop_oneof![
        1 => Just(None),
        4 => json_value().prop_map(Some),
    ];
    let loose = (op, path, value, one_of(&["op", "Op"])).prop_map(|(op, path, value, op_key)| {
        let mut o = Map::new();
        o.insert(op_key.into(), op);
        if let Some(path) = path {
            o.insert("path".into(), path);
        }
        if let Some(value) = value {
            o.insert("value".into(), value);
        }
        Value::Object(o)
    });
    prop_oneof![
        3 => typed_operation(),
        1 => loose,
    ]
}

/// A PATCH body: usually `{schemas, Operations: [...]}`, sometimes anything.
fn patch_body() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => (vec(patch_operation(), 1..5), any::<bool>()).prop_map(|(ops, schemas)| {
            if schemas {
                json!({"schemas": [PATCH_SCHEMA], "Operations": ops})
            } else {
                json!({"Operations": ops})
            }
        }),
        1 => json_value(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Parsers never panic
// ---------------------------------------------------------------------------------------------

/// A stored user, as the PATCH engine receives it.
fn stored_user() -> Map<String, Value> {
    let Value::Object(user) = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": "bjensen@example.com",
        "externalId": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        "roles": [{"value": "admin"}],
        ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "m-1"}}
    }) else {
        unreachable!()
    };
    user
}

/// A rendered group's attributes (the PATCH engine receives them without `members`).
fn stored_group() -> Map<String, Value> {
    let Value::Object(group) = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Tour Guides",
        "members": [{"value": "m-1", "display": "One"}, {"value": "m-2"}]
    }) else {
        unreachable!()
    };
    group
}

/// Parses, validates and evaluates `text` as a filter, and as a PATCH path, against both
/// resource types: none of it may panic.
fn exercise_filter(text: &str) {
    if let Ok(filter) = text.parse::<Filter>() {
        for (rt, doc) in [
            (&USER_RESOURCE, Value::Object(stored_user())),
            (&GROUP_RESOURCE, Value::Object(stored_group())),
        ] {
            if let Ok(valid) = filter.clone().validate(rt) {
                let _ = valid.matches(rt, &doc);
                let _ = valid.pins_unique(&["userName", "externalId"]);
            }
        }
    }
    let _ = PatchPath::parse(text);
    if let Ok(path) = AttrPath::parse(text) {
        let _ = path
            .resolve(&USER_RESOURCE)
            .map(|r| r.to_path(&USER_RESOURCE));
        let _ = path.to_string();
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn filter_parser_takes_any_text(text in "\\PC{0,64}") {
        exercise_filter(&text);
    }

    #[test]
    fn filter_parser_takes_filter_shaped_text(text in filter_like_text()) {
        exercise_filter(&text);
    }

    #[test]
    fn generated_filters_parse_and_validate(text in user_filter()) {
        // The differential test below relies on the generator: every filter it makes is valid.
        let filter: Filter = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?;
        filter.validate(&USER_RESOURCE).map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?;
    }

    #[test]
    fn path_parsers_take_any_text(text in prop_oneof![attr_path_text(), patch_path_text(), "\\PC{0,48}"]) {
        if let Ok(path) = PatchPath::parse(&text) {
            let _ = path.attr.resolve(&USER_RESOURCE);
            let _ = path.attr.resolve(&GROUP_RESOURCE);
            let _ = path.sub();
            if let (Some(filter), Some(r)) = (path.filter, path.attr.resolve(&USER_RESOURCE))
                && let Ok(valid) = filter.validate_within(r.attr)
            {
                let _ = valid.matches_within(r.attr, &json!({"value": "x", "type": "work", "primary": true}));
            }
        }
        if let Ok(path) = AttrPath::parse(&text) {
            let _ = path.resolve(&USER_RESOURCE);
            let _ = path.resolve(&GROUP_RESOURCE);
        }
    }

    #[test]
    fn patch_engine_takes_any_request(body in patch_body()) {
        if let Ok(request) = PatchRequest::from_json(body) {
            for op in &request.operations {
                let _ = op.targets_members();
            }
            if let Ok(patched) = patch::apply(&USER_RESOURCE, &stored_user(), &request) {
                // A result is a resource again: a second application must not panic either.
                let _ = patch::apply(&USER_RESOURCE, &patched, &request);
            }
            // Groups as provisioning::groups::patch runs them: operations on `members` go to
            // the membership table, the rest to the engine, which must then never meet
            // `members` (it answers 500 if it does: a routing bug).
            let (_members, other): (Vec<_>, Vec<_>) = request
                .operations
                .into_iter()
                .partition(|op| op.targets_members());
            if !other.is_empty() {
                let mut group = stored_group();
                group.remove("members");
                let other = PatchRequest { operations: other };
                if let Err(e) = patch::apply(&GROUP_RESOURCE, &group, &other) {
                    prop_assert_ne!(e.status(), 500, "{}", e.detail());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JWT verification never panics
// ---------------------------------------------------------------------------------------------

const EC_PRIVATE: &str = include_str!("../fixtures/keys/ec_private.pem");
const RSA_PRIVATE: &str = include_str!("../fixtures/keys/rsa_private.pem");

/// A verifier with the test secret (HS256) and the fixture JWKS (RS256, ES256).
fn verifier() -> Verifier {
    Verifier::new(&JwtSettings {
        secret: Some(Secret::from_config(SECRET)),
        public_keys: Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys/jwks.json"),
        ),
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        algorithms: Vec::new(),
        leeway_seconds: 60,
    })
    .unwrap()
}

/// Verifies `token` at `now`; a token that passes must carry the configured `iss` and `aud`,
/// and turning it into a principal must not panic.
fn check_token(verifier: &Verifier, token: &str, now: i64) -> Result<(), TestCaseError> {
    if let Ok(claims) = verifier.verify(token, now) {
        prop_assert_eq!(&claims.iss, ISSUER);
        prop_assert_eq!(&claims.aud, AUDIENCE);
        let _ = Principal::from_claims(claims);
    }
    Ok(())
}

/// A JOSE header: a known, unknown or hostile `alg`, maybe a `kid`, `crit` or junk.
fn jwt_header() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        one_of(&[
            "HS256", "RS256", "ES256", "none", "None", "HS512", "ES384", "EdDSA", "", "hs256"
        ])
        .prop_map(Value::from),
        json_value(),
    ];
    (
        alg,
        proptest::option::of(prop_oneof![
            one_of(&["rsa-1", "rsa-2", "ec-1", "nosuch", ""]).prop_map(Value::from),
            json_value(),
        ]),
        proptest::option::of(json_value()),
        btree_map(key(), json_value(), 0..3),
    )
        .prop_map(|(alg, kid, crit, extra)| {
            let mut h: Map<String, Value> = extra.into_iter().collect();
            h.insert("alg".into(), alg);
            h.insert("typ".into(), json!("JWT"));
            if let Some(kid) = kid {
                h.insert("kid".into(), kid);
            }
            if let Some(crit) = crit {
                h.insert("crit".into(), crit);
            }
            Value::Object(h)
        })
}

/// Mostly `Some`, sometimes absent.
fn mostly<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![1 => Just(None), 12 => s.prop_map(Some)]
}

/// Claims of every shape: mostly the right ones (so the later checks run), wrong types,
/// extreme timestamps, missing ones.
fn jwt_claims() -> impl Strategy<Value = Value> {
    let now = roster::clock::unix_now();
    let time = prop_oneof![
        6 => (-120i64..120).prop_map(move |d| Value::from(now + d)),
        1 => any::<i64>().prop_map(Value::from),
        1 => select(vec![i64::MIN, i64::MAX, 0, -1, 1_800_000_000]).prop_map(Value::from),
        1 => Just(json!(1.5e300)),
        1 => Just(json!(-1.0e19)),
        1 => json_value(),
    ];
    let text = |good: &'static str| {
        prop_oneof![
            16 => Just(Value::from(good)),
            1 => json_value(),
        ]
    };
    (
        mostly(text(ISSUER)),
        mostly(prop_oneof![
            8 => text(AUDIENCE),
            1 => Just(json!([AUDIENCE, "other"])),
            1 => Just(json!([])),
        ]),
        mostly(prop_oneof![text("default"), text("Other_Org"), text("")]),
        mostly(prop_oneof![text("provisioner"), text("admin")]),
        mostly(text("jti-1")),
        proptest::option::of(text("0193a0f4-0000-7000-8000-000000000000")),
        (
            proptest::option::of(time.clone()),
            proptest::option::of(time.clone()),
            mostly(time),
        ),
    )
        .prop_map(|(iss, aud, org, role, jti, sub, (exp, nbf, iat))| {
            let mut c = Map::new();
            for (k, v) in [
                ("iss", iss),
                ("aud", aud),
                ("org", org),
                ("role", role),
                ("jti", jti),
                ("sub", sub),
                ("exp", exp),
                ("nbf", nbf),
                ("iat", iat),
            ] {
                if let Some(v) = v {
                    c.insert(k.into(), v);
                }
            }
            Value::Object(c)
        })
}

/// `now`: the present, or anything an i64 holds (the leeway arithmetic must not overflow).
fn now() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => Just(roster::clock::unix_now()),
        1 => any::<i64>(),
        1 => select(vec![i64::MIN, i64::MAX, 0]),
    ]
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with this header and these claims, signed with the test secret (HS256).
fn hs256(header: &Value, claims: &Value) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

/// A token part: base64url of JSON, of arbitrary bytes, or any text at all.
fn token_part() -> impl Strategy<Value = String> {
    prop_oneof![
        json_value().prop_map(|v| b64(v.to_string().as_bytes())),
        vec(any::<u8>(), 0..64).prop_map(|b| b64(&b)),
        "\\PC{0,24}",
        "[A-Za-z0-9_=+/-]{0,40}",
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn verifier_takes_any_text(token in prop_oneof!["\\PC{0,200}", "[A-Za-z0-9_.=-]{0,200}"], now in now()) {
        check_token(&verifier(), &token, now)?;
    }

    #[test]
    fn verifier_takes_any_three_parts(
        parts in (token_part(), token_part(), token_part(), 0usize..3),
        now in now(),
    ) {
        let (a, b, c, extra_dots) = parts;
        let token = format!("{a}.{b}.{c}{}", ".".repeat(extra_dots));
        check_token(&verifier(), &token, now)?;
    }

    #[test]
    fn verifier_takes_any_header_and_claims_unsigned(header in jwt_header(), claims in jwt_claims(), sig in token_part(), now in now()) {
        let token = format!("{}.{}.{sig}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        check_token(&verifier(), &token, now)?;
    }

    /// Correctly signed with the secret, so the claim checks run on every shape of claims.
    #[test]
    fn verifier_takes_any_hs256_signed_claims(header in jwt_header(), claims in jwt_claims(), now in now(), keep_alg in any::<bool>()) {
        let mut header = header;
        if keep_alg {
            header["alg"] = json!("HS256");
        }
        check_token(&verifier(), &hs256(&header, &claims), now)?;
    }
}

proptest! {
    // Public-key signing is slow in a debug build; fewer cases.
    #![proptest_config(config(24))]

    /// Correctly signed with the fixture's private keys, `kid` right, wrong or absent.
    #[test]
    fn verifier_takes_any_public_key_signed_claims(
        claims in jwt_claims(),
        now in now(),
        key in one_of(&["ec-1", "rsa-1", "rsa-2", "nosuch"]),
        with_kid in any::<bool>(),
    ) {
        let (alg, encoding) = if key == "ec-1" {
            (jsonwebtoken::Algorithm::ES256, jsonwebtoken::EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap())
        } else {
            (jsonwebtoken::Algorithm::RS256, jsonwebtoken::EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap())
        };
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = with_kid.then(|| key.to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
        check_token(&verifier(), &token, now)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The database agrees with the evaluator
// ---------------------------------------------------------------------------------------------

/// Users generated from the fixed seed; the same on every run.
fn generated_users(count: usize) -> Vec<Value> {
    let mut runner = TestRunner::new(config(1));
    (0..count)
        .map(|i| user_body(i).new_tree(&mut runner).unwrap().current())
        .collect()
}

/// Creates the generated users through the API and returns every created user as
/// `GET /Users/{id}` renders it. A create may be refused (4xx), never a server error.
async fn load_users(app: &TestApp, count: usize) -> Vec<Value> {
    let mut users = Vec::new();
    for body in generated_users(count) {
        let response = app.post_user(&body).await;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or_default();
        assert!(
            status == StatusCode::CREATED || status.is_client_error(),
            "POST {body} answered {status} {answer}"
        );
        if status != StatusCode::CREATED {
            continue;
        }
        let id = answer["id"].as_str().unwrap();
        users.push(app.get_user(id).await.json::<Value>().await.unwrap());
    }
    assert!(
        users.len() * 10 >= count * 9,
        "only {} of {count} users created",
        users.len()
    );
    users
}

async fn list_ids(app: &TestApp, filter: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url("/Users"))
        .bearer_auth(&app.token)
        .query(&[("filter", filter), ("count", "200")])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

/// One case of the differential property: a filter the parser and the schema accept is
/// answered 200 with exactly the evaluator's selection; any other is refused with a 400.
async fn agrees(app: &TestApp, users: &[Value], filter: &str) -> Result<(), TestCaseError> {
    let (status, body) = list_ids(app, filter).await;
    // A blank `filter` is no filter (`http::scim::ListQuery`): everyone.
    let valid = match filter.trim() {
        "" => Ok(Filter::Present(AttrPath::new("id"))),
        text => text
            .parse::<Filter>()
            .and_then(|f| f.validate(&USER_RESOURCE)),
    };
    let Ok(valid) = valid else {
        prop_assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "refused by the parser, answered {}",
            body
        );
        return Ok(());
    };
    prop_assert_eq!(status, StatusCode::OK, "valid filter answered {}", body);
    let want: BTreeSet<&str> = users
        .iter()
        .filter(|u| valid.matches(&USER_RESOURCE, u))
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    let got: BTreeSet<&str> = body["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["id"].as_str())
        .collect();
    if got != want {
        let names = |ids: &BTreeSet<&str>| -> Vec<String> {
            users
                .iter()
                .filter(|u| ids.contains(u["id"].as_str().unwrap()))
                .map(|u| u["userName"].as_str().unwrap().to_owned())
                .collect()
        };
        let only_db: BTreeSet<&str> = got.difference(&want).copied().collect();
        let only_eval: BTreeSet<&str> = want.difference(&got).copied().collect();
        return Err(TestCaseError::fail(format!(
            "database and evaluator differ; only the database selects {:?}, only the evaluator {:?}",
            names(&only_db),
            names(&only_eval)
        )));
    }
    prop_assert_eq!(&body["totalResults"], &json!(got.len()));
    Ok(())
}

/// One case of the robustness property: filter text is answered 200 or refused with a SCIM
/// 400, never a server error.
async fn answered_or_refused(app: &TestApp, filter: &str) -> Result<(), TestCaseError> {
    let (status, body) = list_ids(app, filter).await;
    prop_assert!(
        status == StatusCode::OK
            || (status == StatusCode::BAD_REQUEST && body["scimType"].is_string()),
        "answered {} {}",
        status,
        body
    );
    Ok(())
}

/// Runs `cases` generated filters through [`agrees`], shrinking a failure to a small filter.
/// The runner is synchronous; each case blocks this worker thread on its HTTP request.
async fn run_filters<F>(
    app: &TestApp,
    cases: u32,
    strategy: impl Strategy<Value = String>,
    check: impl Fn(String) -> F,
) where
    F: std::future::Future<Output = Result<(), TestCaseError>>,
{
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(config(cases));
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |filter| handle.block_on(check(filter)))
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, filter)) => {
            panic!("{:?}: filter {filter:?}: {why}", app.backend)
        }
        Err(e) => panic!("{:?}: {e}", app.backend),
    }
}

/// One case of the PATCH robustness property: a PATCH body is applied or refused with a
/// SCIM 4xx, never a server error.
async fn patched_or_refused(app: &TestApp, id: &str, body: &Value) -> Result<(), TestCaseError> {
    let response = app
        .request(reqwest::Method::PATCH, &format!("/Users/{id}"), Some(body))
        .await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or_default();
    prop_assert!(
        status == StatusCode::OK
            || status == StatusCode::NO_CONTENT
            || (status.is_client_error() && answer["scimType"].is_string()),
        "answered {} {}",
        status,
        answer
    );
    Ok(())
}

both_backends! {
    async fn generated_filters_select_what_the_evaluator_selects(app) {
        let users = load_users(&app, 30).await;
        run_filters(&app, 256, user_filter(), |f| {
            let (app, users) = (&app, &users);
            async move { agrees(app, users, &f).await }
        })
        .await;
    }

    async fn patch_bodies_are_never_a_server_error(app) {
        let id = app.create_user("patched@example.com").await["id"].as_str().unwrap().to_owned();
        let handle = tokio::runtime::Handle::current();
        let mut runner = TestRunner::new(config(128));
        let result = tokio::task::block_in_place(|| {
            runner.run(&patch_body(), |body| handle.block_on(patched_or_refused(&app, &id, &body)))
        });
        match result {
            Ok(()) => {}
            Err(TestError::Fail(why, body)) => panic!("{:?}: PATCH {body}: {why}", app.backend),
            Err(e) => panic!("{:?}: {e}", app.backend),
        }
    }

    async fn filter_text_is_never_a_server_error(app) {
        load_users(&app, 10).await;
        run_filters(&app, 256, filter_like_text(), |f| {
            let app = &app;
            async move { answered_or_refused(app, &f).await }
        })
        .await;
    }
}

/// The generators reach past the first checks: a fair share of what they make parses,
/// applies and verifies, so the properties above exercise the engines, not only their
/// front doors.
#[test]
fn generators_reach_the_engines() {
    let mut runner = TestRunner::new(config(1));
    let mut sample =
        |s: &dyn Fn(&mut TestRunner) -> bool| (0..400).filter(|_| s(&mut runner)).count();
    let applied = sample(&|r| {
        let body = patch_body().new_tree(r).unwrap().current();
        PatchRequest::from_json(body)
            .is_ok_and(|req| patch::apply(&USER_RESOURCE, &stored_user(), &req).is_ok())
    });
    let filters = sample(&|r| {
        let text = filter_like_text().new_tree(r).unwrap().current();
        text.parse::<Filter>().is_ok()
    });
    let paths = sample(&|r| {
        let text = patch_path_text().new_tree(r).unwrap().current();
        PatchPath::parse(&text).is_ok_and(|p| p.attr.resolve(&USER_RESOURCE).is_some())
    });
    let verifier = verifier();
    let tokens = sample(&|r| {
        let claims = jwt_claims().new_tree(r).unwrap().current();
        let token = hs256(&json!({"alg": "HS256"}), &claims);
        verifier.verify(&token, roster::clock::unix_now()).is_ok()
    });
    println!(
        "of 400: {applied} PATCH bodies applied, {filters} filter-like texts parsed, {paths} PATCH paths resolved, {tokens} signed tokens verified"
    );
    assert!(applied >= 80, "{applied} PATCH bodies applied");
    assert!(filters >= 20, "{filters} filter-like texts parsed");
    assert!(paths >= 40, "{paths} PATCH paths resolved");
    assert!(tokens >= 20, "{tokens} tokens verified");
}

// The cases the differential property found: names unique ignoring case
// and e-mail addresses are folded in Rust on both backends, so every spelling selects what
// `Filter::matches` selects. Attributes held in the resource's JSON fold by `lower()`, made
// Unicode-aware on SQLite (src/store/lower.rs); PostgreSQL's follows the database's locale.
both_backends! {
    async fn non_ascii_caseless_filters_agree_with_the_evaluator(app) {
        for body in [
            json!({"schemas": [USER_SCHEMA], "userName": "Straße"}),
            json!({"schemas": [USER_SCHEMA], "userName": "ὈΔΥΣΣΕΎΣ"}),
            json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "sofia",
                   "name": {"familyName": "σοφία"}, "displayName": "Émile Zoë", "title": "Ärztin",
                   "emails": [{"value": "Σοφία@example.com", "type": "Work"}],
                   ENTERPRISE: {"department": "Straße"}}),
            json!({"schemas": [USER_SCHEMA], "userName": "ivan", "name": {"familyName": "I"},
                   "displayName": "Ivan", "title": "engineer"}),
            json!({"schemas": [USER_SCHEMA], "userName": "İnci", "name": {"familyName": "Inci"}}),
        ] {
            assert_eq!(app.post_user(&body).await.status(), StatusCode::CREATED, "{body}");
        }
        let users: Vec<Value> = list_ids(&app, "").await.1["Resources"].as_array().unwrap().clone();
        let mut failures = Vec::new();
        for filter in [
            r#"name.familyName eq "ΣΟΦΊΑ""#,
            r#"name.familyName gt "Σοφία@example.com""#,
            r#"not (name.familyName gt "Σοφία@example.com")"#,
            r#"displayName eq "émile zoë""#,
            r#"displayName co "ÉMILE""#,
            r#"title eq "ärztin""#,
            r#"department eq "STRAßE""#,
            r#"emails.value eq "σοφία@example.com""#,
            r#"emails[value co "ΣΟΦ"]"#,
            r#"emails.type eq "work""#,
            r#"name.familyName sw "i""#,
            r#"userName eq "SOFIA""#,
            r#"userName eq "STRASSE""#,
            r#"userName eq "straße""#,
            r#"userName sw "STRAS""#,
            r#"userName eq "ὈΔΥΣΣΕΎΣ""#,
            r#"userName eq "ὀδυσσεύς""#,
            r#"userName co "σσ""#,
            r#"userName eq "İNCİ""#,
        ] {
            if let Err(e) = agrees(&app, &users, filter).await {
                failures.push(format!("{filter}: {e}"));
            }
        }
        assert!(failures.is_empty(), "{:?}: {} filters differ:\n{}", app.backend, failures.len(), failures.join("\n"));
    }
}
