//! The indexes meant for what connectors query are used by the SQL the filter translator really
//! writes: `EXPLAIN` (PostgreSQL) / `EXPLAIN QUERY PLAN` (SQLite) of the statements
//! `store::users::list` runs, on a few thousand users, on both backends.

use roster::ids::OrgId;
use roster::scim::filter::Filter;
use roster::scim::schema::USER_RESOURCE;
use roster::store::filter::{self, SortOrder};
use roster::store::users::{ListQuery, explain_list};

use crate::helpers::*;

const USERS: i64 = 5000;

/// Users `user1` … `user5000` (every tenth inactive), one work email each, one minute apart,
/// written straight into the tables, then `ANALYZE`d.
fn seed(app: &TestApp) {
    use diesel::connection::SimpleConnection;
    let mut conn = app.store.conn().unwrap();
    let sql = match app.backend {
        Backend::Postgres => format!(
            "INSERT INTO users (id, org_id, user_name, user_name_ci, external_id, display_name, active, \
               resource, version, created_at, last_modified) \
             SELECT 'u' || lpad(g::text, 6, '0'), 'default', 'user' || g, 'user' || g, 'ext-' || g, \
               'User ' || g, g % 10 <> 0, jsonb_build_object('userName', 'user' || g), 1, \
               timestamp '2020-01-01' + g * interval '1 minute', timestamp '2020-01-01' + g * interval '1 minute' \
             FROM generate_series(1, {USERS}) g; \
             INSERT INTO user_emails (user_id, org_id, value, value_ci, type, is_primary) \
             SELECT 'u' || lpad(g::text, 6, '0'), 'default', 'user' || g || '@example.com', \
               'user' || g || '@example.com', 'work', true FROM generate_series(1, {USERS}) g; \
             ANALYZE;"
        ),
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {USERS}) \
             INSERT INTO users (id, org_id, user_name, user_name_ci, external_id, display_name, active, \
               resource, version, created_at, last_modified) \
             SELECT printf('u%06d', g), 'default', 'user' || g, 'user' || g, 'ext-' || g, 'User ' || g, \
               g % 10 <> 0, json_object('userName', 'user' || g), 1, \
               datetime('2020-01-01', '+' || g || ' minutes'), datetime('2020-01-01', '+' || g || ' minutes') FROM s; \
             WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {USERS}) \
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
    let parsed: Filter = filter.parse().unwrap();
    let validated = parsed.validate(&USER_RESOURCE).unwrap();
    let query = ListQuery {
        filter: Some(filter::translate(&USER_RESOURCE, &validated).unwrap()),
        order: Some(filter::sort(&USER_RESOURCE, None, SortOrder::Ascending).unwrap()),
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
