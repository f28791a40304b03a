//! Revoked token ids (`jti`). Revocation is decided in the database so that every node sharing
//! it refuses the token from the next request on. A revocation carries the time from which the
//! token is refused, which may lie in the future: the end of a rotation's overlap.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::revoked_tokens;

/// Records `jti` as revoked from `now` on. Revoking twice is not an error. Returns whether it
/// was new: a token only scheduled to retire (the old token of a rotation, [`retire`]) is
/// refused from `now` on, which counts as new.
pub fn revoke(conn: &mut DbConnection, jti: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let now = now.naive_utc();
    let current: Option<NaiveDateTime> = revoked_tokens::table
        .filter(revoked_tokens::jti.eq(jti))
        .select(revoked_tokens::revoked_at)
        .first(conn)
        .optional()?;
    match current {
        Some(at) if at <= now => Ok(false),
        Some(_) => {
            diesel::update(revoked_tokens::table.filter(revoked_tokens::jti.eq(jti)))
                .set(revoked_tokens::revoked_at.eq(now))
                .execute(conn)?;
            Ok(true)
        }
        None => insert(conn, jti, now),
    }
}

/// Schedules `jti` to be refused from `at` on (the end of a rotation's overlap); a token
/// already refused earlier stays so.
pub fn retire(conn: &mut DbConnection, jti: &str, at: DateTime<Utc>) -> QueryResult<()> {
    let at = at.naive_utc();
    let current: Option<NaiveDateTime> = revoked_tokens::table
        .filter(revoked_tokens::jti.eq(jti))
        .select(revoked_tokens::revoked_at)
        .first(conn)
        .optional()?;
    match current {
        Some(earlier) if earlier <= at => Ok(()),
        Some(_) => diesel::update(revoked_tokens::table.filter(revoked_tokens::jti.eq(jti)))
            .set(revoked_tokens::revoked_at.eq(at))
            .execute(conn)
            .map(drop),
        None => insert(conn, jti, at).map(drop),
    }
}

fn insert(conn: &mut DbConnection, jti: &str, at: NaiveDateTime) -> QueryResult<bool> {
    let inserted = diesel::insert_into(revoked_tokens::table)
        .values((
            revoked_tokens::jti.eq(jti),
            revoked_tokens::revoked_at.eq(at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if super::unique_violation(&e).is_some() => Ok(false),
        Err(e) => Err(e),
    }
}

/// When each of `jtis` is (or will be) refused, for those that have a revocation.
pub fn revoked_at(
    conn: &mut DbConnection,
    jtis: &[String],
) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    revoked_tokens::table
        .filter(revoked_tokens::jti.eq_any(jtis))
        .select((revoked_tokens::jti, revoked_tokens::revoked_at))
        .load(conn)
}

/// Whether `jti` is refused at `now`.
pub fn is_revoked(conn: &mut DbConnection, jti: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        revoked_tokens::table
            .filter(revoked_tokens::jti.eq(jti))
            .filter(revoked_tokens::revoked_at.le(now.naive_utc())),
    ))
    .get_result(conn)
}

/// Where a token stands, read in one statement: whether its `jti` is revoked and, when it acts
/// as a user, whether that user exists and is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub revoked: bool,
    /// Whether the org's `schema_version` is the one the caller holds.
    pub schemas_current: bool,
    /// `None`: the token acts as no user. `Some(false)`: its user is deactivated or gone.
    pub subject_active: Option<bool>,
}

/// Reads the [`Standing`] of the token `jti` acting as `subject` (in `org`) at `now`: a
/// revocation dated after `now` (the end of a rotation's overlap) does not count yet.
///
/// In the same statement: whether `org`'s `schema_version` is still `schema_version` (the
/// version of its extension schemas the caller holds).
pub fn standing(
    conn: &mut DbConnection,
    jti: &str,
    org: &crate::ids::OrgId,
    subject: Option<&crate::ids::UserId>,
    schema_version: i64,
    now: DateTime<Utc>,
) -> QueryResult<Standing> {
    use super::schema::{orgs, users};
    let schemas_current = diesel::dsl::exists(
        orgs::table
            .filter(orgs::id.eq(org.as_str()))
            .filter(orgs::schema_version.eq(schema_version)),
    );
    let revoked = diesel::dsl::exists(
        revoked_tokens::table
            .filter(revoked_tokens::jti.eq(jti))
            .filter(revoked_tokens::revoked_at.le(now.naive_utc())),
    );
    match subject {
        None => {
            let (revoked, schemas_current): (bool, bool) =
                native!(conn, |c| diesel::select((revoked, schemas_current))
                    .get_result(c))?;
            Ok(Standing {
                revoked,
                schemas_current,
                subject_active: None,
            })
        }
        Some(id) => {
            // `exists`, not a scalar subquery: diesel gives the latter a bound `LIMIT`, which
            // makes SQLite re-prepare the statement on every request.
            let active = diesel::dsl::exists(
                users::table
                    .filter(users::org_id.eq(org.as_str()))
                    .filter(users::id.eq(id.as_str()))
                    .filter(users::active.eq(true)),
            );
            let (revoked, active, schemas_current): (bool, bool, bool) = native!(conn, |c| {
                diesel::select((revoked, active, schemas_current)).get_result(c)
            })?;
            Ok(Standing {
                revoked,
                schemas_current,
                subject_active: Some(active),
            })
        }
    }
}
