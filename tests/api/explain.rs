//! The indexes meant for what connectors query are used by the SQL the filter translator really
//! writes: `EXPLAIN` (PostgreSQL) / `EXPLAIN QUERY PLAN` (SQLite) of the statements
//! `store::users::list` runs, on a few thousand users, on both backends.

use roster::ids::OrgId;
use roster::scim::filter::Filter;
use roster::scim::schema::{ResourceTypeDef, USER_RESOURCE};
use roster::store::filter::{self, SortOrder};
use roster::store::users::{self, ListQuery, Search, explain_list};

use crate::helpers::*;

const USERS: i64 = 5000;

/// Users `user1` … `user5000` (every tenth inactive), one work email each, one minute apart,
/// written straight into the tables, then `ANALYZE`d.
fn seed(app: &TestApp) {
    seed_users(app, USERS);
}

/// Users `user1` … `user<count>`, as [`seed`].
fn seed_users(app: &TestApp, count: i64) {
    use diesel::connection::SimpleConnection;
    let mut conn = app.store.conn().unwrap();
    let sql = match app.backend {
        Backend::Postgres => format!(
            "INSERT INTO users (id, org_id, user_name, user_name_ci, external_id, display_name, active, \
               resource, version, created_at, last_modified) \
             SELECT 'u' || lpad(g::text, 6, '0'), 'default', 'user' || g, 'user' || g, 'ext-' || g, \
               'User ' || g, g % 10 <> 0, jsonb_build_object('userName', 'user' || g), 1, \
               timestamp '2020-01-01' + g * interval '1 minute', timestamp '2020-01-01' + g * interval '1 minute' \
             FROM generate_series(1, {count}) g; \
             INSERT INTO user_emails (user_id, org_id, value, value_ci, type, is_primary) \
             SELECT 'u' || lpad(g::text, 6, '0'), 'default', 'user' || g || '@example.com', \
               'user' || g || '@example.com', 'work', true FROM generate_series(1, {count}) g; \
             ANALYZE;"
        ),
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {count}) \
             INSERT INTO users (id, org_id, user_name, user_name_ci, external_id, display_name, active, \
               resource, version, created_at, last_modified) \
             SELECT printf('u%06d', g), 'default', 'user' || g, 'user' || g, 'ext-' || g, 'User ' || g, \
               g % 10 <> 0, json_object('userName', 'user' || g), 1, \
               datetime('2020-01-01', '+' || g || ' minutes'), datetime('2020-01-01', '+' || g || ' minutes') FROM s; \
             WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {count}) \
             INSERT INTO user_emails (user_id, org_id, value, value_ci, type, is_primary) \
             SELECT printf('u%06d', g), 'default', 'user' || g || '@example.com', \
               'user' || g || '@example.com', 'work', 1 FROM s; \
             ANALYZE;"
        ),
    };
    conn.batch_execute(&sql).unwrap();
}

/// The plans of the count and page statements for `filter`.
fn plans(app: &TestApp, filter: &str) -> (Vec<String>, Vec<String>) {
    plans_in(app, &USER_RESOURCE, filter)
}

/// [`plans`] for the resource type `rt` (an org's, with its own extensions).
fn plans_in(app: &TestApp, rt: &ResourceTypeDef, filter: &str) -> (Vec<String>, Vec<String>) {
    let parsed: Filter = filter.parse().unwrap();
    let validated = parsed.validate(rt).unwrap();
    let query = ListQuery {
        filter: Some(filter::translate(rt, &validated).unwrap()),
        order: Some(filter::sort(rt, None, SortOrder::Ascending).unwrap()),
        offset: 0,
        limit: 100,
        point: false,
        key: None,
    };
    let mut conn = app.store.conn().unwrap();
    explain_list(&mut conn, &OrgId::parse("default").unwrap(), &query).unwrap()
}

both_backends! {
    async fn connector_filters_use_their_indexes(app) {
        seed(&app);
        // The email subquery is scoped by org too: (org_id, value_ci) or value_ci serves it.
        let emails: &[&str] = &["user_emails_value_ci", "user_emails_org_value"];
        let cases: [(&str, &[&str]); 6] = [
            (r#"userName eq "User42""#, &["users_org_user_name_ci"]),
            (r#"externalId eq "ext-42""#, &["users_org_external_id"]),
            (r#"emails.value eq "USER42@example.com""#, emails),
            (r#"emails[type eq "work"].value eq "user42@example.com""#, emails),
            (r#"meta.lastModified gt "2020-01-04T11:00:00Z""#, &["users_org_last_modified"]),
            (r#"displayName eq "user 42""#, &["users_org_display_name_lower"]),
        ];
        for (filter, indexes) in cases {
            let (count, page) = plans(&app, filter);
            println!("{:?} {filter}\n  count: {}\n  page:  {}", app.backend, count.join("\n         "), page.join("\n         "));
            let uses = |plan: &[String]| plan.iter().any(|line| indexes.iter().any(|i| line.contains(i)));
            assert!(uses(&count), "{filter}: count plan without {indexes:?}: {count:#?}");
            assert!(uses(&page), "{filter}: page plan without {indexes:?}: {page:#?}");
        }
    }
}

both_backends! {
    async fn a_shared_external_id_filter_uses_its_index(app) {
        seed(&app);
        // externalId is not unique (RFC 7643 §3.1): a hundred users share one, and the
        // `externalId eq` listing, an ordinary listing now, is still served by the
        // non-unique (org_id, external_id) index.
        use diesel::connection::SimpleConnection;
        app.store
            .conn()
            .unwrap()
            .batch_execute("UPDATE users SET external_id = 'shared' WHERE id <= 'u000100'; ANALYZE;")
            .unwrap();
        for filter in [r#"externalId eq "shared""#, r#"externalId eq "shared" and active eq true"#] {
            let (count, page) = plans(&app, filter);
            println!("{:?} {filter}\n  count: {}\n  page:  {}", app.backend, count.join("\n         "), page.join("\n         "));
            let uses = |plan: &[String]| plan.iter().any(|line| line.contains("users_org_external_id"));
            assert!(uses(&count), "{filter}: count plan without users_org_external_id: {count:#?}");
            assert!(uses(&page), "{filter}: page plan without users_org_external_id: {page:#?}");
        }
    }
}

both_backends! {
    async fn an_extension_attribute_filter_uses_its_index(app) {
        // An org's own extension attribute (issue 13): its string values are mirrored in
        // user_extension_values, whose (org_id, attr, value_ci) index serves `eq` and `sw`.
        seed(&app);
        use diesel::connection::SimpleConnection;
        let urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
        let attr = format!("{}:costcode", urn.to_lowercase());
        let sql = match app.backend {
            Backend::Postgres => format!(
                "INSERT INTO user_extension_values (user_id, org_id, attr, value, value_ci) \
                 SELECT id, org_id, '{attr}', 'CC-' || substr(id, 2), 'cc-' || substr(id, 2) FROM users; ANALYZE;"
            ),
            Backend::Sqlite => format!(
                "INSERT INTO user_extension_values (user_id, org_id, attr, value, value_ci) \
                 SELECT id, org_id, '{attr}', 'CC-' || substr(id, 2), 'cc-' || substr(id, 2) FROM users; ANALYZE;"
            ),
        };
        app.store.conn().unwrap().batch_execute(&sql).unwrap();
        let extension = roster::scim::extension::parse(serde_json::json!({
            "id": urn,
            "resourceType": "User",
            "attributes": [{"name": "costCode", "type": "string"}]
        }))
        .unwrap();
        let schemas = roster::scim::schema::OrgSchemas::new(
            1,
            vec![(extension.resource_type, std::sync::Arc::new(extension.schema))],
        );
        for filter in [
            format!(r#"{urn}:costCode eq "cc-000042""#),
            format!(r#"{urn}:costCode sw "CC-00004""#),
        ] {
            let (count, page) = plans_in(&app, &schemas.user, &filter);
            println!("{:?} {filter}\n  count: {}\n  page:  {}", app.backend, count.join("\n         "), page.join("\n         "));
            let uses = |plan: &[String]| plan.iter().any(|line| line.contains("user_extension_values_lookup"));
            assert!(uses(&count), "{filter}: count plan without the index: {count:#?}");
            assert!(uses(&page), "{filter}: page plan without the index: {page:#?}");
        }
    }
}

/// The ids of the users `search` finds with `text` (all of them, in id order).
fn found(app: &TestApp, text: &str) -> Vec<String> {
    let search = Search {
        text: Some(text.to_owned()),
        limit: 200_000,
        ..Search::default()
    };
    let mut conn = app.store.conn().unwrap();
    users::search(&mut conn, &OrgId::parse("default").unwrap(), &search)
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect()
}

/// The plan of a search page (51 rows, as the console asks).
fn search_plan(app: &TestApp, text: &str) -> Vec<String> {
    let search = Search {
        text: Some(text.to_owned()),
        limit: 51,
        ..Search::default()
    };
    let mut conn = app.store.conn().unwrap();
    users::explain_search(&mut conn, &OrgId::parse("default").unwrap(), &search).unwrap()
}

both_backends! {
    async fn the_user_search_uses_its_trigram_indexes(app) {
        // PostgreSQL plans by statistics: on 5,000 users (165 pages) it rightly reads the
        // table; at 100,000 it takes the indexes. SQLite's plan does not depend on the size.
        let count: u32 = match app.backend {
            Backend::Postgres => 100_000,
            Backend::Sqlite => 5_000,
        };
        seed_users(&app, i64::from(count));
        // PostgreSQL: the pg_trgm GIN indexes; SQLite: the FTS5 trigram tables.
        let (names, emails): (&[&str], &[&str]) = match app.backend {
            Backend::Postgres => (
                &["users_user_name_ci_trgm", "users_display_name_lower_trgm"],
                &["user_emails_value_ci_trgm"],
            ),
            Backend::Sqlite => (&["VIRTUAL TABLE INDEX"], &["VIRTUAL TABLE INDEX"]),
        };
        for text in ["User4242", "4242@exam", "ser 42"] {
            let plan = search_plan(&app, text);
            println!("{:?} search {text:?}\n  {}", app.backend, plan.join("\n  "));
            let uses = |indexes: &[&str]| plan.iter().any(|l| indexes.iter().any(|i| l.contains(i)));
            assert!(uses(names), "{text}: plan without {names:?}: {plan:#?}");
            assert!(uses(emails), "{text}: plan without {emails:?}: {plan:#?}");
            assert!(
                !plan.iter().any(|l| l.contains("SCAN users") || l.contains("Seq Scan on users")),
                "{text}: a scan of users: {plan:#?}"
            );
        }

        // The same users as a case-insensitive substring of userName, displayName or an
        // e-mail address; under 3 characters by the LIKEs alone, with the same answer.
        let expected = |text: &str| -> Vec<String> {
            let text = text.to_lowercase();
            (1..=count)
                .filter(|g| {
                    [format!("user{g}"), format!("user {g}"), format!("user{g}@example.com")]
                        .iter()
                        .any(|v| v.contains(&text))
                })
                .map(|g| format!("u{g:06}"))
                .collect()
        };
        for text in ["SER424", "ser 4242", "4242@EXAMPLE.COM", "xample", "49", "R 7"] {
            let ids = found(&app, text);
            assert!(!ids.is_empty(), "{text}");
            assert_eq!(ids, expected(text), "{text}");
        }
        assert_eq!(found(&app, "xample").len(), count as usize);

        // A page (51 users, a status): the page's filters hold in every arm of the search.
        for active in [true, false] {
            let search = Search {
                text: Some("xample".to_owned()),
                active: Some(active),
                limit: 51,
                ..Search::default()
            };
            let mut conn = app.store.conn().unwrap();
            let ids: Vec<String> = users::search(&mut conn, &OrgId::parse("default").unwrap(), &search)
                .unwrap()
                .into_iter()
                .map(|u| u.id)
                .collect();
            let expected: Vec<String> = (1..=count)
                .filter(|g| (g % 10 != 0) == active)
                .take(51)
                .map(|g| format!("u{g:06}"))
                .collect();
            assert_eq!(ids, expected, "active: {active}");
        }
        assert!(found(&app, "no such user").is_empty());
        assert!(found(&app, "50%").is_empty(), "% is a character, not a wildcard");
    }

    async fn search_pages_follow_the_cursor(app) {
        let mut ids = Vec::new();
        for i in 0..5 {
            let user = app.create_user(&format!("pager-{i}@example.com")).await;
            ids.push(user["id"].as_str().unwrap().to_owned());
        }
        // Two e-mails of one user match: it is one row, and the page still has two users.
        let patched = app
            .patch_user(
                &ids[0],
                serde_json::json!([{"op": "add", "path": "emails", "value": [{"value": "pager-x@example.com"}]}]),
            )
            .await;
        assert_eq!(patched.status(), reqwest::StatusCode::OK);
        let org = OrgId::parse("default").unwrap();
        let mut after = None;
        let mut seen = Vec::new();
        loop {
            let search = Search {
                text: Some("PAGER-".to_owned()),
                after: after.clone(),
                limit: 2,
                ..Search::default()
            };
            let page: Vec<String> = users::search(&mut app.store.conn().unwrap(), &org, &search)
                .unwrap()
                .into_iter()
                .map(|u| u.id)
                .collect();
            if page.is_empty() {
                break;
            }
            assert!(page.len() == 2 || seen.len() == 4, "{page:?}");
            after = roster::ids::UserId::parse(page.last().unwrap());
            seen.extend(page);
        }
        assert_eq!(seen, ids);
    }

    async fn search_pages_keep_the_hold_filter(app) {
        // Each arm of PostgreSQL's union is a page of its own: the hold filter must be in it,
        // or the arms' first users (none on hold) leave the page of held users empty.
        let mut ids = Vec::new();
        for i in 0..6 {
            let user = app.create_user(&format!("holder-{i}@example.com")).await;
            ids.push(user["id"].as_str().unwrap().to_owned());
        }
        {
            use diesel::connection::SimpleConnection;
            app.store
                .conn()
                .unwrap()
                .batch_execute(&format!(
                    "UPDATE users SET held_at = created_at, held_by = 'test', hold_reason = 'test' \
                     WHERE id IN ('{}', '{}')",
                    ids[4], ids[5]
                ))
                .unwrap();
        }
        let org = OrgId::parse("default").unwrap();
        for (held, expected) in [(true, &ids[4..6]), (false, &ids[0..2])] {
            let search = Search {
                text: Some("HOLDER-".to_owned()),
                held: Some(held),
                limit: 2,
                ..Search::default()
            };
            let page: Vec<String> = users::search(&mut app.store.conn().unwrap(), &org, &search)
                .unwrap()
                .into_iter()
                .map(|u| u.id)
                .collect();
            assert_eq!(page, expected, "held: {held}");
        }
    }

    async fn the_search_tables_follow_every_write(app) {
        let created = app.create_user("Ada.Lovelace@example.com").await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(found(&app, "lovelace"), vec![id.clone()]);
        assert_eq!(found(&app, "ada.lovelace@"), vec![id.clone()], "userName and e-mail");
        let patched = app
            .patch_user(
                &id,
                serde_json::json!([
                    {"op": "replace", "path": "userName", "value": "countess@example.com"},
                    {"op": "replace", "path": "displayName", "value": "Augusta King"},
                    {"op": "replace", "path": "emails", "value": [{"value": "augusta@analytical.example", "primary": true}]}
                ]),
            )
            .await;
        assert_eq!(patched.status(), reqwest::StatusCode::OK);
        assert!(found(&app, "lovelace").is_empty(), "the old names are gone");
        assert_eq!(found(&app, "countess"), vec![id.clone()]);
        assert_eq!(found(&app, "AUGUSTA KING"), vec![id.clone()]);
        assert_eq!(found(&app, "analytical.exa"), vec![id.clone()]);
        let deleted = app
            .request(reqwest::Method::DELETE, &format!("/Users/{id}"), None)
            .await;
        assert_eq!(deleted.status(), reqwest::StatusCode::NO_CONTENT);
        assert!(found(&app, "countess").is_empty());
        assert!(found(&app, "analytical").is_empty());
    }
}

/// `EXPLAIN QUERY PLAN` of `sql` on SQLite: each step's detail.
fn sqlite_plan(app: &TestApp, sql: &str) -> String {
    use diesel::RunQueryDsl as _;
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Step {
        #[diesel(sql_type = Text)]
        detail: String,
    }
    let mut conn = app.store.conn().unwrap();
    let steps: Vec<Step> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .load(&mut *conn)
        .unwrap();
    steps
        .into_iter()
        .map(|s| s.detail)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A user's child rows and a group's members are found through their owner, not by walking
/// the org's: SQLite plans without statistics (roster never runs `ANALYZE` on it, and this
/// database has none), and it used to take the index that leads with `org_id`, so a PATCH of
/// one user read every e-mail of its org. PostgreSQL plans by statistics (with none, a table
/// this small is scanned), so this is SQLite's test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_rows_are_found_through_their_owner_without_statistics_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_user("ada@example.com").await;
    for (sql, index) in [
        (
            "DELETE FROM user_emails WHERE org_id = 'default' AND user_id = 'u'",
            "user_emails_user",
        ),
        (
            "DELETE FROM user_phone_numbers WHERE org_id = 'default' AND user_id = 'u'",
            "user_phone_numbers_user",
        ),
        (
            "DELETE FROM user_extension_values WHERE org_id = 'default' AND user_id = 'u'",
            "user_extension_values_user",
        ),
        (
            "SELECT member_id FROM user_emails e JOIN group_members m ON m.member_id = e.user_id \
             WHERE m.org_id = 'default' AND m.group_id = 'g'",
            "group_members_group",
        ),
        (
            "DELETE FROM group_members WHERE org_id = 'default' AND group_id = 'g'",
            "group_members_group",
        ),
    ] {
        let plan = sqlite_plan(&app, sql);
        assert!(
            plan.contains(&format!("INDEX {index} (")),
            "{sql}\nwants {index}, planned: {plan}"
        );
    }
}
