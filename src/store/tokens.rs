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
