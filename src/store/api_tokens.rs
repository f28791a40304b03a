//! The registry of tokens roster minted (`api_tokens`): what an org admin lists, rotates and
//! revokes. Whether a token is refused is not decided here but by its revocation
//! ([`super::tokens`]), for tokens in this registry and tokens minted elsewhere alike.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::api_tokens;
use crate::ids::OrgId;

/// A token to record.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewToken<'a> {
    pub jti: &'a str,
    pub org_id: &'a str,
    pub name: &'a str,
    /// `provisioner` or `admin`.
    pub role: &'a str,
    pub subject: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub created_by: &'a str,
    pub expires_at: Option<NaiveDateTime>,
}

/// A recorded token.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub jti: String,
    pub org_id: String,
    pub name: String,
    pub role: String,
    pub subject: Option<String>,
    pub created_at: NaiveDateTime,
    pub created_by: String,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub rotated_to: Option<String>,
}

/// Records a minted token.
pub fn insert(conn: &mut DbConnection, token: &NewToken<'_>) -> QueryResult<()> {
    diesel::insert_into(api_tokens::table)
        .values(token)
        .execute(conn)
        .map(drop)
}

/// The token `jti` of `org`, or of any org when `org` is `None` (the CLI).
pub fn find(
    conn: &mut DbConnection,
    org: Option<&OrgId>,
    jti: &str,
) -> QueryResult<Option<TokenRow>> {
    let mut query = api_tokens::table
        .filter(api_tokens::jti.eq(jti))
        .select(TokenRow::as_select())
        .into_boxed();
    if let Some(org) = org {
        query = query.filter(api_tokens::org_id.eq(org.as_str().to_owned()));
    }
    query.first(conn).optional()
}

/// Tokens of `org`, newest first, at most `limit`.
pub fn list(conn: &mut DbConnection, org: &OrgId, limit: i64) -> QueryResult<Vec<TokenRow>> {
    api_tokens::table
        .filter(api_tokens::org_id.eq(org.as_str()))
        .select(TokenRow::as_select())
        .order((api_tokens::created_at.desc(), api_tokens::jti.desc()))
        .limit(limit)
        .load(conn)
}

/// The tokens of `org` named `name`, or whose `jti` is `name` (the request log's filter).
pub fn jtis_named(conn: &mut DbConnection, org: &OrgId, name: &str) -> QueryResult<Vec<String>> {
    api_tokens::table
        .filter(api_tokens::org_id.eq(org.as_str()))
        .filter(api_tokens::name.eq(name).or(api_tokens::jti.eq(name)))
        .select(api_tokens::jti)
        .load(conn)
}

/// The names of the tokens among `jtis` that are recorded.
pub fn names(conn: &mut DbConnection, jtis: &[String]) -> QueryResult<Vec<(String, String)>> {
    api_tokens::table
        .filter(api_tokens::jti.eq_any(jtis))
        .select((api_tokens::jti, api_tokens::name))
        .load(conn)
}

/// Records that `jti` was replaced by `successor`.
pub fn set_rotated_to(conn: &mut DbConnection, jti: &str, successor: &str) -> QueryResult<()> {
    diesel::update(api_tokens::table.filter(api_tokens::jti.eq(jti)))
        .set(api_tokens::rotated_to.eq(successor))
        .execute(conn)
        .map(drop)
}

/// Records when tokens were last used (to the minute): each `(jti, minute)` moves
/// `last_used_at` forward, never back (another node may have written a later minute).
pub fn touch(conn: &mut DbConnection, used: &[(String, NaiveDateTime)]) -> QueryResult<()> {
    for (jti, at) in used {
        diesel::update(
            api_tokens::table.filter(api_tokens::jti.eq(jti)).filter(
                api_tokens::last_used_at
                    .is_null()
                    .or(api_tokens::last_used_at.lt(*at)),
            ),
        )
        .set(api_tokens::last_used_at.eq(*at))
        .execute(conn)?;
    }
    Ok(())
}
