//! Bulk import of users straight into the store: multi-row inserts in large transactions, for
//! seeding a benchmark with a million users or loading an organization from another system.
//! It writes the same rows as [`super::users::insert`] (hot columns, resource JSON, child
//! tables) without audit events, so it is for an operator, never a request.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::DbConnection;
use super::json::Doc;
use super::schema::{user_emails, users};
use super::users::{UserData, user_name_key};
use crate::ids::{OrgId, UserId};

/// Rows per INSERT statement (well under SQLite's bound-parameter limit).
const ROWS_PER_STATEMENT: usize = 500;

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    id: &'a str,
    org_id: &'a str,
    user_name: &'a str,
    user_name_ci: String,
    external_id: Option<&'a str>,
    display_name: Option<&'a str>,
    active: bool,
    resource: Doc,
    version: i64,
    created_at: chrono::NaiveDateTime,
    last_modified: chrono::NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = user_emails)]
struct NewEmail<'a> {
    user_id: &'a str,
    org_id: &'a str,
    value: &'a str,
    value_ci: String,
    kind: Option<&'a str>,
    is_primary: bool,
}

/// Inserts `batch` in one transaction. A taken userName fails the whole batch.
pub fn insert_users(
    conn: &mut DbConnection,
    org: &OrgId,
    batch: &[(UserId, UserData)],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let now = now.naive_utc();
    let rows: Vec<NewUser<'_>> = batch
        .iter()
        .map(|(id, data)| NewUser {
            id: id.as_str(),
            org_id: org.as_str(),
            user_name: &data.user_name,
            user_name_ci: user_name_key(&data.user_name),
            external_id: data.external_id.as_deref(),
            display_name: data.display_name.as_deref(),
            active: data.active,
            resource: Doc(Value::Object(data.resource.clone())),
            version: 1,
            created_at: now,
            last_modified: now,
        })
        .collect();
    let emails: Vec<NewEmail<'_>> = batch
        .iter()
        .flat_map(|(id, data)| {
            data.resource
                .get("emails")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(move |e| {
                    let value = e.get("value")?.as_str()?;
                    Some(NewEmail {
                        user_id: id.as_str(),
                        org_id: org.as_str(),
                        value,
                        value_ci: value.to_lowercase(),
                        kind: e.get("type").and_then(Value::as_str),
                        is_primary: e.get("primary").and_then(Value::as_bool).unwrap_or(false),
                    })
                })
        })
        .collect();
    super::write_tx(conn, |conn| {
        // Multi-row inserts need the concrete connection (diesel's MultiConnection cannot
        // batch them).
        match conn {
            DbConnection::Pg(c) => {
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    diesel::insert_into(users::table).values(chunk).execute(c)?;
                }
                for chunk in emails.chunks(ROWS_PER_STATEMENT) {
                    diesel::insert_into(user_emails::table)
                        .values(chunk)
                        .execute(c)?;
                }
            }
            DbConnection::Sqlite(c) => {
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    diesel::insert_into(users::table).values(chunk).execute(c)?;
                }
                for chunk in emails.chunks(ROWS_PER_STATEMENT) {
                    diesel::insert_into(user_emails::table)
                        .values(chunk)
                        .execute(c)?;
                }
            }
        }
        Ok(())
    })
}

/// Ends a load: refreshes PostgreSQL's statistics of the tables [`insert_users`] wrote, so that
/// the next queries are planned for the rows now there. PostgreSQL plans by these statistics
/// (how many rows an org has, how common a text is in a column); autovacuum refreshes them some
/// time after a large change, and never when it is off. Planned without them, a `WHERE org_id
/// = …` is taken for a few hundred rows, and the console's search collects every match of a
/// common text through its trigram index (55 ms at 100,000 users) instead of walking the id
/// order to the page's 50th (docs/performance.md). PostgreSQL's manual advises the same after a
/// bulk load ("Populating a Database": run `ANALYZE` afterwards).
///
/// On SQLite, nothing: its plans here come from the schema (indexes, the FTS5 trigram tables),
/// and `ANALYZE` would make it plan by collected statistics instead, a change of its own.
pub fn analyze(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection as _;
    match conn {
        DbConnection::Pg(c) => c.batch_execute("ANALYZE users, user_emails"),
        DbConnection::Sqlite(_) => Ok(()),
    }
}
