//! Filters, sorting and paging of `/Users` (RFC 7644 §3.4.2) run by the database, checked
//! against the in-memory evaluator `Filter::matches` over the same users as the API renders
//! them, on both backends.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use roster::scim::filter::Filter;
use roster::scim::schema::USER_RESOURCE;
use serde_json::{Value, json};

use crate::helpers::*;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Twelve users with varied, partly absent attributes.
fn seed_bodies() -> Vec<Value> {
    vec![
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "bjensen@example.com", "externalId": "bjensen",
            "name": {"familyName": "Jensen", "givenName": "Barbara", "formatted": "Ms. Barbara J Jensen III"},
            "displayName": "Babs Jensen", "nickName": "Babs", "title": "Tour Guide", "userType": "Employee",
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [
                {"value": "555-555-5555", "type": "work"},
                {"value": "555-555-4444", "type": "mobile"}
            ],
            "ims": [{"value": "babs", "type": "xmpp"}],
            "addresses": [{"type": "work", "locality": "Hollywood", "country": "USA", "primary": true}],
            "roles": [{"value": "admin", "primary": true}],
            ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "m-1"}}
        }),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "Alice.Smith@Example.com", "externalId": "Alice",
            "name": {"familyName": "Smith", "givenName": "Alice"},
            "displayName": "Alice Smith", "title": "Vice President",
            "emails": [
                {"value": "alice@example.com", "type": "work", "primary": true},
                {"value": "Alice@Personal.ORG", "type": "other"}
            ],
            ENTERPRISE: {"employeeNumber": "1001", "costCenter": "CC-1", "department": "Sales"}
        }),
        json!({"schemas": [USER_SCHEMA], "userName": "carol", "active": false, "title": ""}),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "dave@x.org", "externalId": "Dave-4", "userType": "Contractor",
            "emails": [
                {"value": "dave@x.org", "type": "work"},
                {"value": "DAVE@work.example.com", "type": "work", "primary": true}
            ],
            "phoneNumbers": [{"value": "+1 (555) 010", "type": "home"}],
            ENTERPRISE: {"manager": {"value": "m-2"}, "employeeNumber": "3"}
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "eve_50%off", "displayName": "Eve O'Brien",
            "name": {"familyName": "O'Brien", "givenName": "Eve"},
            "emails": [{"value": "eve@example.com"}]
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "frank", "active": false, "title": "Engineer", "displayName": "Frank Ünal",
            "name": {"givenName": "Frank", "familyName": "Ünal"},
            "emails": [{"value": "frank@example.com", "type": "home", "display": "Frank H"}]
        }),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "grace", "externalId": "G-7", "title": "Engineer", "locale": "en-US",
            "preferredLanguage": "en", "emails": [],
            ENTERPRISE: {"organization": "Navy"}
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "heidi", "profileUrl": "https://example.com/heidi", "timezone": "Europe/Berlin",
            "emails": [{"value": "heidi@example.com", "type": "work", "primary": false}],
            "entitlements": [{"value": "beta"}]
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "ivan", "userType": "employee", "externalId": "12345",
            "phoneNumbers": [{"value": "555-0199", "type": "work", "primary": true}]
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "judy", "nickName": "J",
            "name": {"givenName": "Judy", "middleName": "Q"},
            "emails": [{"value": "judy@EXAMPLE.com", "type": "Work"}]
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "mallory", "externalId": "Bjensen", "displayName": "mallory",
            "emails": [{"value": "mallory@evil.example.com", "type": "work", "display": "Mal"}],
            "roles": [{"value": "user"}]
        }),
        json!({"schemas": [USER_SCHEMA], "userName": "oscar"}),
    ]
}

/// Creates the users (in order, so `meta.created` grows), patches the first one, and returns
/// every user as `GET /Users/{id}` renders it.
async fn seed(app: &TestApp) -> Vec<Value> {
    let mut ids = Vec::new();
    for body in seed_bodies() {
        let response = app.post_user(&body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{body}");
        let user: Value = response.json().await.unwrap();
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    let patched = app
        .patch_user(
            &ids[0],
            json!([{"op": "replace", "path": "title", "value": "Senior Tour Guide"}]),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let mut users = Vec::new();
    for id in &ids {
        users.push(app.get_user(id).await.json::<Value>().await.unwrap());
    }
    users
}

async fn list(app: &TestApp, params: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .get(app.url("/Users"))
        .bearer_auth(&app.token)
        .query(params)
        .send()
        .await
        .unwrap()
}

fn ids_of(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

fn expected(users: &[Value], filter: &str) -> BTreeSet<String> {
    let parsed: Filter = filter.parse().unwrap();
    let validated = parsed.validate(&USER_RESOURCE).unwrap();
    users
        .iter()
        .filter(|u| validated.matches(&USER_RESOURCE, u))
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

fn filters(users: &[Value]) -> Vec<String> {
    let created = |i: usize| users[i]["meta"]["created"].as_str().unwrap().to_owned();
    let modified = |i: usize| {
        users[i]["meta"]["lastModified"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut cases: Vec<String> = [
        // userName: caseExact false, unique.
        r#"userName eq "bjensen@example.com""#,
        r#"userName eq "BJENSEN@EXAMPLE.COM""#,
        r#"USERNAME eq "alice.smith@example.com""#,
        r#"userName ne "carol""#,
        r#"userName co "example""#,
        r#"userName sw "b""#,
        r#"userName ew ".COM""#,
        r#"userName gt "dave""#,
        r#"userName ge "dave@x.org""#,
        r#"userName lt "c""#,
        r#"userName le "carol""#,
        r#"userName co "_50%""#,
        r#"userName co "%""#,
        r#"userName co "*""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "ALICE""#,
        // externalId and id: caseExact.
        r#"externalId eq "bjensen""#,
        r#"externalId eq "BJENSEN""#,
        r#"externalId sw "B""#,
        r#"externalId co "e""#,
        r#"externalId gt "D""#,
        r#"externalId pr"#,
        r#"not (externalId pr)"#,
        r#"externalId eq null"#,
        r#"externalId ne null"#,
        r#"externalId eq 12345"#,
        r#"id pr"#,
        // displayName and other simple strings.
        r#"displayName eq "babs jensen""#,
        r#"displayName co "SMITH""#,
        r#"displayName ew "o'brien""#,
        r#"displayName pr"#,
        r#"displayName eq null"#,
        r#"title eq "Engineer""#,
        r#"title pr"#,
        r#"title ne "Engineer""#,
        r#"not (title eq "Engineer")"#,
        r#"title eq null"#,
        r#"title sw "senior""#,
        r#"userType eq "EMPLOYEE""#,
        r#"nickName ne "Babs""#,
        r#"preferredLanguage eq "EN""#,
        r#"profileUrl sw "https://""#,
        r#"timezone eq "Europe/Berlin" and locale eq null"#,
        // Complex singular.
        r#"name.familyName eq "jensen""#,
        r#"name.givenName sw "A""#,
        r#"name.familyName co "'""#,
        r#"name.familyName eq "Ünal""#,
        r#"name pr"#,
        r#"name.middleName pr"#,
        r#"name.formatted co "iii""#,
        r#"name.familyName gt "p""#,
        // Booleans.
        r#"active eq true"#,
        r#"active eq false"#,
        r#"active ne true"#,
        r#"not (active eq true)"#,
        // Emails: child table and JSON.
        r#"emails pr"#,
        r#"not (emails pr)"#,
        r#"emails eq null"#,
        r#"emails co "example.com""#,
        r#"emails.value eq "ALICE@EXAMPLE.COM""#,
        r#"emails.value ew "@example.com""#,
        r#"emails.value gt "j""#,
        r#"not (emails.value co "example")"#,
        r#"emails.value pr"#,
        r#"emails.type eq "work""#,
        r#"emails.type eq "WORK""#,
        r#"emails.type ne "work""#,
        r#"emails.type pr"#,
        r#"emails[type eq "work" and value co "@example.com"]"#,
        r#"emails[type eq "work"].value eq "bjensen@example.com""#,
        r#"emails[type eq "work"].value eq "babs@jensen.org""#,
        r#"emails[type eq "work"].value eq "DAVE@WORK.example.com""#,
        r#"emails[primary eq true]"#,
        r#"emails[primary eq false]"#,
        r#"emails[not (primary eq true)]"#,
        r#"emails[value pr and primary eq true]"#,
        r#"emails[value co "example" and not (primary eq true)]"#,
        r#"emails[type eq "home" or type eq "other"]"#,
        r#"emails[display pr]"#,
        r#"emails.display co "mal""#,
        r#"emails[value pr and not (type pr)]"#,
        r#"emails.primary eq true"#,
        r#"emails.primary eq false"#,
        // Other multi-valued attributes.
        r#"phoneNumbers.value co "555""#,
        r#"phoneNumbers[type eq "mobile"]"#,
        r#"phoneNumbers[type eq "work" and value eq "555-0199"]"#,
        r#"phoneNumbers[value sw "+1" and type eq "HOME"]"#,
        r#"phoneNumbers pr"#,
        r#"ims[type eq "xmpp"]"#,
        r#"addresses[locality eq "hollywood" and primary eq true]"#,
        r#"addresses.country pr"#,
        r#"roles[primary eq true].value eq "admin""#,
        r#"roles.value eq "USER""#,
        r#"entitlements pr"#,
        r#"x509Certificates pr"#,
        r#"groups pr"#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        // Enterprise extension, URN-qualified or not.
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department co "sales""#,
        r#"employeeNumber gt "2""#,
        r#"manager eq "m-1""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr"#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization eq null"#,
        // meta.
        r#"meta.lastModified lt "2000-01-01T00:00:00Z""#,
        r#"meta.created gt "2000-01-01T02:00:00+02:00""#,
        r#"meta.resourceType eq "User""#,
        r#"meta.version eq "W/\"2\"""#,
        // Logic and grouping.
        r#"(title eq "Engineer" or active eq false) and not (emails pr)"#,
        r#"userType eq "Employee" or (emails.type eq "home" and active eq true)"#,
        r#"not (not (active eq false) and title pr)"#,
        r#"userName sw "a" or userName sw "b" or userName sw "c" or userName sw "d""#,
        r#"emails[type eq "work"] and not (phoneNumbers pr) and externalId pr"#,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for (op, i) in [
        ("gt", 5),
        ("ge", 5),
        ("lt", 5),
        ("le", 5),
        ("eq", 5),
        ("ne", 0),
    ] {
        cases.push(format!("meta.created {op} \"{}\"", created(i)));
    }
    cases.push(format!("meta.lastModified gt \"{}\"", modified(11)));
    cases.push(format!("meta.lastModified eq \"{}\"", modified(0)));
    cases
}

both_backends! {
    async fn every_filter_selects_what_the_evaluator_selects(app) {
        let users = seed(&app).await;
        let cases = filters(&users);
        assert!(cases.len() >= 60, "{} cases", cases.len());
        let mut failures = Vec::new();
        for filter in &cases {
            let response = list(&app, &[("filter", filter.as_str()), ("count", "100")]).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            if status != StatusCode::OK {
                failures.push(format!("{filter}: {status} {body}"));
                continue;
            }
            let got: BTreeSet<String> = ids_of(&body).into_iter().collect();
            let want = expected(&users, filter);
            assert_eq!(body["totalResults"], json!(got.len()), "{filter}");
            if got != want {
                let names = |set: &BTreeSet<String>| -> Vec<String> {
                    users
                        .iter()
                        .filter(|u| set.contains(u["id"].as_str().unwrap()))
                        .map(|u| u["userName"].as_str().unwrap().to_owned())
                        .collect()
                };
                failures.push(format!("{filter}: database {:?}, evaluator {:?}", names(&got), names(&want)));
            }
        }
        assert!(failures.is_empty(), "{} of {} filters differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
        println!("{} filters agree with the evaluator", cases.len());
    }

    async fn bad_filters_are_invalid_filter_errors(app) {
        for filter in [
            r#"nosuch eq "x""#,
            r#"active gt true"#,
            r#"meta.location eq "x""#,
            r#"password pr"#,
            r#"password eq null"#,
            r#"meta.created gt "yesterday""#,
            r#"userName eq"#,
            &format!("{}title pr{}", "(".repeat(500), ")".repeat(500)),
        ] {
            let response = list(&app, &[("filter", filter)]).await;
            assert_scim_error(response, 400, Some("invalidFilter")).await;
        }
    }

    async fn sorting_and_paging_follow_rfc_7644(app) {
        let users = seed(&app).await;
        let by = |key: &dyn Fn(&Value) -> Option<String>, descending: bool| -> Vec<String> {
            let mut sorted: Vec<&Value> = users.iter().collect();
            sorted.sort_by(|a, b| {
                let (ka, kb) = (key(a), key(b));
                // No value: last when ascending, first when descending (RFC 7644 §3.4.2.3).
                let ord = match (&ka, &kb) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (Some(x), Some(y)) => x.cmp(y),
                };
                let ord = if descending { ord.reverse() } else { ord };
                ord.then_with(|| a["id"].as_str().cmp(&b["id"].as_str()))
            });
            sorted.iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect()
        };
        let lower = |v: &Value| v.as_str().map(str::to_lowercase);
        let user_name = |u: &Value| lower(&u["userName"]);
        let family = |u: &Value| lower(&u["name"]["familyName"]);
        let title = |u: &Value| lower(&u["title"]);
        let email = |u: &Value| {
            let emails = u["emails"].as_array()?;
            let first = emails
                .iter()
                .find(|e| e["primary"] == json!(true))
                .or_else(|| emails.first())?;
            lower(&first["value"])
        };
        let created = |u: &Value| u["meta"]["created"].as_str().map(str::to_owned);
        let cases: Vec<(&str, Option<&str>, Vec<String>)> = vec![
            ("userName", None, by(&user_name, false)),
            ("USERNAME", Some("DESCENDING"), by(&user_name, true)),
            ("name.familyName", Some("ascending"), by(&family, false)),
            ("name.familyName", Some("descending"), by(&family, true)),
            ("title", Some("descending"), by(&title, true)),
            ("emails", None, by(&email, false)),
            ("emails.value", Some("descending"), by(&email, true)),
            ("meta.created", Some("descending"), by(&created, true)),
        ];
        for (sort_by, order, want) in cases {
            let mut params = vec![("sortBy", sort_by), ("count", "100")];
            if let Some(order) = order {
                params.push(("sortOrder", order));
            }
            let body: Value = list(&app, &params).await.json().await.unwrap();
            assert_eq!(ids_of(&body), want, "sortBy={sort_by} sortOrder={order:?}");
        }

        // A page: startIndex is 1-based, totalResults counts every match.
        let all = by(&user_name, false);
        let body: Value = list(&app, &[("sortBy", "userName"), ("startIndex", "3"), ("count", "4")])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["totalResults"], 12);
        assert_eq!(body["startIndex"], 3);
        assert_eq!(body["itemsPerPage"], 4);
        assert_eq!(ids_of(&body), all[2..6].to_vec());
        // Pages of a filtered, sorted listing join up without gaps or repeats.
        let mut joined = Vec::new();
        for start in [1, 3, 5, 7, 9, 11] {
            let start = start.to_string();
            let body: Value = list(&app, &[("sortBy", "title"), ("startIndex", &start), ("count", "2")])
                .await
                .json()
                .await
                .unwrap();
            joined.extend(ids_of(&body));
        }
        assert_eq!(joined, by(&title, false));
        let body: Value = list(&app, &[("count", "0")]).await.json().await.unwrap();
        assert_eq!((body["totalResults"].clone(), ids_of(&body).len()), (json!(12), 0));

        let bad = list(&app, &[("sortBy", "nosuch")]).await;
        assert_scim_error(bad, 400, Some("invalidValue")).await;
        let bad = list(&app, &[("sortBy", "password")]).await;
        assert_scim_error(bad, 400, Some("invalidValue")).await;
        let bad = list(&app, &[("sortBy", "userName"), ("sortOrder", "up")]).await;
        assert_scim_error(bad, 400, Some("invalidValue")).await;
    }

    async fn a_lone_unique_key_eq_pages_like_any_filter(app) {
        // `userName eq` and `id eq` alone are read by their unique index, `externalId eq` (not
        // unique) by its index as a listing (the connectors' lookups); paging, projection and
        // case rules are the filter's.
        let users = seed(&app).await;
        let alice = users
            .iter()
            .find(|u| u["externalId"] == "Alice")
            .unwrap();
        let alice_id = alice["id"].as_str().unwrap();
        let id_filter = format!(r#"id eq "{alice_id}""#);
        for filter in [
            r#"userName eq "alice.smith@example.COM""#,
            r#"externalId eq "Alice""#,
            id_filter.as_str(),
        ] {
            let body: Value = list(&app, &[("filter", filter), ("attributes", "userName")])
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(body["totalResults"], 1, "{filter}");
            assert_eq!(ids_of(&body), [alice_id], "{filter}");
            assert_eq!(body["Resources"][0]["userName"], alice["userName"], "{filter}");
            assert!(body["Resources"][0].get("name").is_none(), "{filter}: projected");
            for params in [[("startIndex", "2"), ("count", "10")], [("startIndex", "1"), ("count", "0")]] {
                let mut query = vec![("filter", filter)];
                query.extend(params);
                let body: Value = list(&app, &query).await.json().await.unwrap();
                assert_eq!(body["totalResults"], 1, "{filter} {params:?}");
                assert_eq!(ids_of(&body).len(), 0, "{filter} {params:?}");
            }
        }
        for miss in [
            r#"externalId eq "alice""#,
            r#"id eq "not-an-id""#,
            r#"userName eq "alice.smith@example.org""#,
        ] {
            let body: Value = list(&app, &[("filter", miss)]).await.json().await.unwrap();
            assert_eq!((body["totalResults"].clone(), ids_of(&body).len()), (json!(0), 0), "{miss}");
        }
    }

    async fn search_requests_answer_like_get(app) {
        let users = seed(&app).await;
        let filter = r#"emails[type eq "work"] and active eq true"#;
        let get: Value = list(&app, &[
            ("filter", filter), ("sortBy", "userName"), ("sortOrder", "descending"),
            ("startIndex", "2"), ("count", "3"), ("attributes", "userName,emails"),
        ])
        .await
        .json()
        .await
        .unwrap();
        let request = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": filter, "sortBy": "userName", "sortOrder": "descending",
            "startIndex": 2, "count": 3, "attributes": ["userName", "emails"]
        });
        for path in ["/Users/.search", "/.search"] {
            let response = app.request(Method::POST, path, Some(&request)).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body, get, "{path}");
        }
        assert_eq!(get["totalResults"], json!(expected(&users, filter).len()));
        assert!(get["Resources"][0].get("title").is_none(), "attributes applies");
        assert!(get["Resources"][0].get("userName").is_some());

        let response = app
            .request(Method::POST, "/Users/.search", Some(&json!({"filter": "userName pr"})))
            .await;
        assert_scim_error(response, 400, Some("invalidSyntax")).await;
        let response = app
            .request(Method::POST, "/Users/.search", Some(&json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "nosuch pr"
            })))
            .await;
        assert_scim_error(response, 400, Some("invalidFilter")).await;
        let response = app.request(Method::GET, "/Users/.search", None).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
