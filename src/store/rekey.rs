//! Re-keying names at start: `users.user_name_ci` and `groups.display_name_ci` hold caseless
//! keys that only Rust can compute ([`crate::scim::caseless`]), so when the rule changes
//! ([`caseless::KEY_VERSION`]) a SQL migration cannot recompute them. [`run`] does, after the
//! migrations, in batches, and records the version in the `settings` table so that it runs once.
//!
//! Two rows that were distinct under the old rule may be one name under the new one (`Straße`
//! and `Strasse`). Start-up does not fail on that, and neither row is changed beyond its key:
//! the row that could not take its new key keeps its old one, and a warning names both ids so an
//! admin can rename or remove one. Until then `eq` on either spelling finds the row that holds
//! the new key, and writing the other row's name answers 409 `uniqueness`.

use diesel::prelude::*;
use diesel::result::Error as DieselError;

use super::schema::{groups, settings, users};
use super::{Backend, DbConnection, Store, StoreError, unique_violation, write_tx};
use crate::scim::caseless;

/// The `settings` row holding the key version.
const SETTING: &str = "name_key_version";
/// Rows read and rewritten per transaction.
const BATCH: i64 = 1000;
/// The PostgreSQL advisory lock nodes starting together take, so one of them re-keys.
const PG_LOCK: i64 = 0x726f_7374_6572;

/// What a run changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rekeyed {
    /// Rows whose key changed.
    pub changed: usize,
    /// Rows that kept their old key because another row of their org holds the new one.
    pub collisions: Vec<Collision>,
}

/// Two rows of one org that are one name under the current rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// `users` or `groups`.
    pub table: &'static str,
    /// Their org.
    pub org_id: String,
    /// The row that kept its old key.
    pub kept_old_key: String,
    /// The row that holds the new key.
    pub holder: String,
}

/// A row's id, org, name and stored key.
type Row = (String, String, String, String);

/// One keyed table.
struct Keyed {
    name: &'static str,
    load: fn(&mut DbConnection, &str) -> QueryResult<Vec<Row>>,
    set: fn(&mut DbConnection, &Row, &str) -> QueryResult<usize>,
    holder: fn(&mut DbConnection, &str, &str) -> QueryResult<Option<String>>,
}

const USERS: Keyed = Keyed {
    name: "users",
    load: |conn, after| {
        users::table
            .filter(users::id.gt(after))
            .order(users::id)
            .limit(BATCH)
            .select((
                users::id,
                users::org_id,
                users::user_name,
                users::user_name_ci,
            ))
            .load(conn)
    },
    set: |conn, (id, org, _, _), key| {
        diesel::update(users::table)
            .filter(users::org_id.eq(org))
            .filter(users::id.eq(id))
            .set(users::user_name_ci.eq(key))
            .execute(conn)
    },
    holder: |conn, org, key| {
        users::table
            .filter(users::org_id.eq(org))
            .filter(users::user_name_ci.eq(key))
            .select(users::id)
            .first(conn)
            .optional()
    },
};

const GROUPS: Keyed = Keyed {
    name: "groups",
    load: |conn, after| {
        groups::table
            .filter(groups::id.gt(after))
            .order(groups::id)
            .limit(BATCH)
            .select((
                groups::id,
                groups::org_id,
                groups::display_name,
                groups::display_name_ci,
            ))
            .load(conn)
    },
    set: |conn, (id, org, _, _), key| {
        diesel::update(groups::table)
            .filter(groups::org_id.eq(org))
            .filter(groups::id.eq(id))
            .set(groups::display_name_ci.eq(key))
            .execute(conn)
    },
    holder: |conn, org, key| {
        groups::table
            .filter(groups::org_id.eq(org))
            .filter(groups::display_name_ci.eq(key))
            .select(groups::id)
            .first(conn)
            .optional()
    },
};

/// Recomputes every stored name key when they were computed by an older rule than
/// [`caseless::KEY_VERSION`]; does nothing otherwise. Safe to run on several nodes at once.
pub fn run(store: &Store) -> Result<Rekeyed, StoreError> {
    let mut conn = store.conn()?;
    let conn: &mut DbConnection = &mut conn;
    if store.backend() == Backend::Postgres {
        diesel::sql_query(format!("SELECT pg_advisory_lock({PG_LOCK})")).execute(conn)?;
    }
    let result = rekey(conn);
    if store.backend() == Backend::Postgres {
        diesel::sql_query(format!("SELECT pg_advisory_unlock({PG_LOCK})")).execute(conn)?;
    }
    result
}

fn rekey(conn: &mut DbConnection) -> Result<Rekeyed, StoreError> {
    let stored: i64 = settings::table
        .find(SETTING)
        .select(settings::value)
        .first::<String>(conn)
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut report = Rekeyed::default();
    if stored > caseless::KEY_VERSION {
        tracing::warn!(
            stored,
            current = caseless::KEY_VERSION,
            "name keys were computed by a newer roster; `eq` on userName may miss names until it runs again"
        );
    }
    if stored >= caseless::KEY_VERSION {
        return Ok(report);
    }
    for table in [USERS, GROUPS] {
        rekey_table(conn, &table, &mut report)?;
    }
    let version = caseless::KEY_VERSION.to_string();
    let updated = diesel::update(settings::table.find(SETTING))
        .set(settings::value.eq(&version))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(settings::table)
            .values((settings::name.eq(SETTING), settings::value.eq(&version)))
            .execute(conn)?;
    }
    tracing::info!(
        changed = report.changed,
        collisions = report.collisions.len(),
        from = stored,
        to = caseless::KEY_VERSION,
        "name keys recomputed"
    );
    Ok(report)
}

fn rekey_table(
    conn: &mut DbConnection,
    table: &Keyed,
    report: &mut Rekeyed,
) -> Result<(), StoreError> {
    // Rows whose new key was taken when their turn came; another row may give it up later in
    // the pass (its own key changing), so they are tried again at the end.
    let mut taken: Vec<(Row, String)> = Vec::new();
    let mut after = String::new();
    loop {
        let rows = (table.load)(conn, &after)?;
        let Some(last) = rows.last() else { break };
        after = last.0.clone();
        write_tx(conn, |conn| -> Result<(), DieselError> {
            for row in rows {
                let key = caseless::key(&row.2);
                if key == row.3 {
                    continue;
                }
                match write_tx(conn, |conn| (table.set)(conn, &row, &key)) {
                    Ok(_) => report.changed += 1,
                    Err(e) if unique_violation(&e).is_some() => taken.push((row, key)),
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })?;
    }
    for (row, key) in taken {
        match write_tx(conn, |conn| (table.set)(conn, &row, &key)) {
            Ok(_) => report.changed += 1,
            Err(e) if unique_violation(&e).is_some() => {
                let holder = (table.holder)(conn, &row.1, &key)?.unwrap_or_default();
                tracing::warn!(
                    table = table.name,
                    org = %row.1,
                    kept_old_key = %row.0,
                    holder = %holder,
                    "two names are one under the caseless rule; both are kept, and the first \
                     keeps its old key until an admin renames or removes one of them \
                     (docs/limits.md, Names)"
                );
                report.collisions.push(Collision {
                    table: table.name,
                    org_id: row.1,
                    kept_old_key: row.0,
                    holder,
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
