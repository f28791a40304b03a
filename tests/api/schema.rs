//! `src/store/schema.rs` is written by hand for diesel's multi-backend types, so nothing
//! generates it from the migrations: this test migrates both backends and checks that their
//! tables and columns are exactly the ones schema.rs declares.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use roster::store::DbConnection;
use roster::store::schema::*;

type Tables = BTreeMap<String, BTreeSet<String>>;

/// The tables and columns of schema.rs, read from the SQL diesel generates for them.
fn declared() -> Tables {
    macro_rules! selects {
        ($($table:ident),* $(,)?) => {
            [$(diesel::debug_query::<Sqlite, _>(&$table::table.select($table::all_columns)).to_string()),*]
        };
    }
    // Every table of schema.rs; a table added there and not here fails the comparison below.
    let selects = selects![
        orgs,
        users,
        user_emails,
        user_phone_numbers,
        revoked_tokens,
        audit_events,
        groups,
        group_members,
        settings,
        event_subscriptions,
        event_deliveries,
        api_tokens,
        org_rate_limits,
        scim_requests,
        console_sessions,
        console_links,
        deleted_users,
        org_deleted_user_retention,
        schema_extensions,
        user_extension_values,
    ];
    let mut tables = Tables::new();
    for sql in selects {
        // SELECT `t`.`a`, `t`.`b` FROM `t` -- binds: []
        let columns = sql
            .trim_start_matches("SELECT ")
            .split(" FROM ")
            .next()
            .unwrap();
        for column in columns.split(", ") {
            let (table, name) = column.split_once('.').unwrap();
            tables
                .entry(table.trim_matches('`').to_owned())
                .or_default()
                .insert(name.trim_matches('`').to_owned());
        }
    }
    tables
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// The tables and columns the migrations created. On SQLite, the user search's FTS5 tables
/// (virtual, and their shadow tables) and `user_search_keys` are left out: only triggers and
/// the search's SQL (`store::filter::search`) name them, never diesel.
fn migrated(conn: &mut DbConnection) -> Tables {
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT m.name AS table_name, p.name AS column_name \
             FROM sqlite_master m JOIN pragma_table_list t ON t.schema = 'main' AND t.name = m.name \
             JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND t.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name NOT LIKE '__diesel%' AND m.name <> 'user_search_keys'"
        }
        DbConnection::Pg(_) => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name NOT LIKE '__diesel%'"
        }
    };
    let mut tables = Tables::new();
    for c in diesel::sql_query(sql).load::<Column>(conn).unwrap() {
        tables
            .entry(c.table_name)
            .or_default()
            .insert(c.column_name);
    }
    tables
}

both_backends! {
    async fn migrations_match_schema_rs(app) {
        let store = app.store.clone();
        let actual = tokio::task::spawn_blocking(move || migrated(&mut store.conn().unwrap()))
            .await
            .unwrap();
        assert_eq!(actual, declared());
    }
}
