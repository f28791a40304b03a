//! Revoked token ids (`jti`). Revocation is decided in the database so that every node sharing
//! it refuses the token from the next request on.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::revoked_tokens;

/// Records `jti` as revoked. Revoking twice is not an error. Returns whether it was new.
pub fn revoke(conn: &mut DbConnection, jti: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    if is_revoked(conn, jti)? {
        return Ok(false);
    }
    let inserted = diesel::insert_into(revoked_tokens::table)
        .values((
            revoked_tokens::jti.eq(jti),
            revoked_tokens::revoked_at.eq(now.naive_utc()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if super::unique_violation(&e).is_some() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether `jti` has been revoked.
pub fn is_revoked(conn: &mut DbConnection, jti: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        revoked_tokens::table.filter(revoked_tokens::jti.eq(jti)),
    ))
    .get_result(conn)
}

/// Where a token stands, read in one statement: whether its `jti` is revoked and, when it acts
/// as a user, whether that user exists and is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub revoked: bool,
    /// `None`: the token acts as no user. `Some(false)`: its user is deactivated or gone.
    pub subject_active: Option<bool>,
}

/// Reads the [`Standing`] of the token `jti` acting as `subject` (in `org`).
pub fn standing(
    conn: &mut DbConnection,
    jti: &str,
    subject: Option<(&crate::ids::OrgId, &crate::ids::UserId)>,
) -> QueryResult<Standing> {
    use super::schema::users;
    let revoked = diesel::dsl::exists(revoked_tokens::table.filter(revoked_tokens::jti.eq(jti)));
    match subject {
        None => Ok(Standing {
            revoked: native!(conn, |c| diesel::select(revoked).get_result(c))?,
            subject_active: None,
        }),
        Some((org, id)) => {
            // `exists`, not a scalar subquery: diesel gives the latter a bound `LIMIT`, which
            // makes SQLite re-prepare the statement on every request.
            let active = diesel::dsl::exists(
                users::table
                    .filter(users::org_id.eq(org.as_str()))
                    .filter(users::id.eq(id.as_str()))
                    .filter(users::active.eq(true)),
            );
            let (revoked, active): (bool, bool) =
                native!(conn, |c| diesel::select((revoked, active)).get_result(c))?;
            Ok(Standing {
                revoked,
                subject_active: Some(active),
            })
        }
    }
}
