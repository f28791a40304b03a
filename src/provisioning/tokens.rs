//! Tokens an org admin runs alone (docs/admin-api.md, "Tokens"): minting a token (shown once),
//! listing the org's tokens with when each was last used, rotating one with an overlap during
//! which the old and the new token both work, and revoking one. `roster token create` and
//! `roster token revoke` go through the same functions. Every change is an audit event
//! (`token.create`, `token.rotate`, `token.revoke`) in the transaction of the change.
//!
//! A token is refused by its revocation (`store::tokens`), read on every request by
//! [`super::access`]: a revocation holds on every node from the next request on, and a
//! rotation's old token is a revocation dated at the end of the overlap.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{Actor, Channel};
use crate::auth::{Role, Signer};
use crate::clock;
use crate::ids::{OrgId, UserId};
use crate::scim::ScimError;
use crate::store::api_tokens::{self, NewToken, TokenRow};
use crate::store::audit::{self, NewEvent};
use crate::store::{Store, orgs, tokens, users, write_tx};

/// The longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest lifetime a token may be given.
pub const MAX_TTL: Duration = Duration::from_secs(10 * 366 * 24 * 3600);
/// The longest overlap of a rotation.
pub const MAX_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most tokens one listing returns.
pub const MAX_LISTED: i64 = 1000;

/// What to mint.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// What the admin calls it ("Okta production").
    pub name: String,
    pub role: Role,
    /// The user the token acts as (the CLI's `--sub`); the admin API mints none.
    pub subject: Option<UserId>,
    /// `None`: the token does not expire (what IdP connectors expect).
    pub ttl: Option<Duration>,
}

/// A token as an admin sees it; never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenView {
    pub jti: String,
    pub org: String,
    pub name: String,
    pub role: String,
    pub subject: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// To the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// From when the token is refused: past for a revoked token, future during a rotation's
    /// overlap.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The token that replaced this one.
    pub rotated_to: Option<String>,
}

impl TokenView {
    fn of(row: TokenRow, revoked_at: Option<NaiveDateTime>) -> TokenView {
        TokenView {
            jti: row.jti,
            org: row.org_id,
            name: row.name,
            role: row.role,
            subject: row.subject,
            created_at: row.created_at.and_utc(),
            created_by: row.created_by,
            last_used_at: row.last_used_at.map(|t| t.and_utc()),
            expires_at: row.expires_at.map(|t| t.and_utc()),
            revoked_at: revoked_at.map(|t| t.and_utc()),
            rotated_to: row.rotated_to,
        }
    }

    /// Whether the token is refused at `now` (revoked, or past its rotation's overlap).
    pub fn revoked(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_some_and(|at| at <= now)
    }
}

/// A newly minted token: the bearer token, shown this once, and its record.
#[derive(Debug, Clone)]
pub struct Minted {
    pub token: String,
    pub view: TokenView,
}

/// The outcome of a rotation.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The replacement, shown this once.
    pub new: Minted,
    /// The old token, refused from its `revoked_at` on.
    pub old: TokenView,
}

/// Checks a token name: 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn check_name(name: &str) -> Result<(), ScimError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(ScimError::invalid_value("'name' must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ScimError::invalid_value(format!(
            "'name' is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ScimError::invalid_value(
            "'name' contains a control character; remove it",
        ));
    }
    Ok(())
}

/// Checks a lifetime: at least a minute, at most [`MAX_TTL`].
pub fn check_ttl(ttl: Duration) -> Result<(), ScimError> {
    if ttl < Duration::from_secs(60) || ttl > MAX_TTL {
        return Err(ScimError::invalid_value(format!(
            "'ttl' must be between 1m and {}; leave it out for a token that does not expire",
            humantime::format_duration(MAX_TTL)
        )));
    }
    Ok(())
}

/// Checks a rotation's overlap: at most [`MAX_OVERLAP`].
pub fn check_overlap(overlap: Duration) -> Result<(), ScimError> {
    if overlap > MAX_OVERLAP {
        return Err(ScimError::invalid_value(format!(
            "'overlap' must be at most {}",
            humantime::format_duration(MAX_OVERLAP)
        )));
    }
    Ok(())
}

fn at(secs: i64) -> Result<DateTime<Utc>, ScimError> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| ScimError::invalid_value("the token's lifetime is out of range"))
}

/// Mints a token and records it, in one transaction with its audit event.
fn mint(
    conn: &mut crate::store::DbConnection,
    signer: &Signer,
    actor: &Actor,
    request: &TokenRequest,
    now: DateTime<Utc>,
    rotated_from: Option<&str>,
) -> Result<Minted, ScimError> {
    let (token, claims) = signer
        .issue(
            actor.org.as_str(),
            request.role,
            request.subject.as_ref().map(UserId::as_str),
            request.ttl,
            now.timestamp(),
        )
        .map_err(|e| {
            tracing::error!(error = %e, "minting a token failed");
            ScimError::internal()
        })?;
    let expires_at = claims.exp.map(at).transpose()?;
    let created_by = match actor.channel {
        Channel::Cli => "cli".to_owned(),
        _ => actor.id.clone(),
    };
    let row = NewToken {
        jti: &claims.jti,
        org_id: actor.org.as_str(),
        name: request.name.trim(),
        role: request.role.as_str(),
        subject: request.subject.as_ref().map(UserId::as_str),
        created_at: now.naive_utc(),
        created_by: &created_by,
        expires_at: expires_at.map(|t| t.naive_utc()),
    };
    api_tokens::insert(conn, &row)?;
    let mut detail = serde_json::json!({
        "name": row.name,
        "role": row.role,
        "expiresAt": expires_at.map(|t| t.to_rfc3339()),
    });
    if let Some(old) = rotated_from {
        detail["rotatedFrom"] = serde_json::Value::from(old);
    }
    audit::append(
        conn,
        &NewEvent {
            org: &actor.org,
            occurred_at: now,
            actor: &actor.id,
            channel: actor.channel.as_str(),
            action: "token.create",
            target_type: "Token",
            target_id: &claims.jti,
            attributes: Vec::new(),
            detail: Some(detail),
        },
    )?;
    let view = TokenView {
        jti: claims.jti.clone(),
        org: actor.org.to_string(),
        name: row.name.to_owned(),
        role: row.role.to_owned(),
        subject: row.subject.map(str::to_owned),
        created_at: now,
        created_by,
        last_used_at: None,
        expires_at,
        revoked_at: None,
        rotated_to: None,
    };
    Ok(Minted { token, view })
}

/// Mints a token in `actor`'s org: 201 material for `POST /admin/v1/tokens` and
/// `roster token create`. The org must exist; so must the user a token acts as.
pub async fn create(
    store: &Store,
    signer: &Arc<Signer>,
    actor: &Actor,
    request: TokenRequest,
) -> Result<Minted, ScimError> {
    check_name(&request.name)?;
    if let Some(ttl) = request.ttl {
        check_ttl(ttl)?;
    }
    let signer = Arc::clone(signer);
    let actor = actor.clone();
    let now = clock::now();
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                if !orgs::exists(conn, &actor.org)? {
                    return Err(ScimError::not_found(format!(
                        "organization '{org}' does not exist: create it with `roster org create {org}`",
                        org = actor.org
                    )));
                }
                if let Some(sub) = &request.subject
                    && users::find(conn, &actor.org, sub)?.is_none()
                {
                    return Err(ScimError::not_found(format!(
                        "organization '{}' has no user with id '{sub}'",
                        actor.org
                    )));
                }
                mint(conn, &signer, &actor, &request, now, None)
            })
        })
        .await
}

/// The tokens of `org`, newest first (at most [`MAX_LISTED`]).
pub async fn list(store: &Store, org: &OrgId) -> Result<Vec<TokenView>, ScimError> {
    let org = org.clone();
    store
        .scan(&org.clone(), move |conn| {
            let rows = api_tokens::list(conn, &org, MAX_LISTED)?;
            let jtis: Vec<String> = rows.iter().map(|r| r.jti.clone()).collect();
            let revoked: std::collections::HashMap<String, NaiveDateTime> =
                tokens::revoked_at(conn, &jtis)?.into_iter().collect();
            Ok(rows
                .into_iter()
                .map(|row| {
                    let at = revoked.get(&row.jti).copied();
                    TokenView::of(row, at)
                })
                .collect())
        })
        .await
}

fn not_found(jti: &str) -> ScimError {
    ScimError::not_found(format!("this organization has no token '{jti}'"))
}

/// Revokes the token `jti` of `actor`'s org: refused from the next request on, on every node.
/// Revoking a revoked token changes nothing and records nothing.
pub async fn revoke(store: &Store, actor: &Actor, jti: &str) -> Result<TokenView, ScimError> {
    let (_, view) = revoke_scoped(store, Some(actor.org.clone()), actor, jti).await?;
    view.ok_or_else(|| not_found(jti))
}

/// `roster token revoke`: revokes the token `jti` of any org, or one roster has no record of
/// (minted before the registry, or elsewhere). Audited with channel `cli` and actor
/// [`super::operator::OPERATOR`]: in the token's own org when it is recorded, else in `org`
/// (the org the operator names), which must exist. Returns whether the token was not refused
/// before; revoking a revoked token changes and records nothing.
pub async fn revoke_by_operator(store: &Store, org: &OrgId, jti: &str) -> Result<bool, ScimError> {
    let actor = Actor::operator(org.clone());
    let (changed, _) = revoke_scoped(store, None, &actor, jti).await?;
    Ok(changed)
}

async fn revoke_scoped(
    store: &Store,
    scope: Option<OrgId>,
    actor: &Actor,
    jti: &str,
) -> Result<(bool, Option<TokenView>), ScimError> {
    let actor = actor.clone();
    let jti = jti.to_owned();
    let now = clock::now();
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                if scope.is_none() && !orgs::exists(conn, &actor.org)? {
                    return Err(ScimError::not_found(format!(
                        "organization '{}' does not exist: create it with `roster org create {}`",
                        actor.org, actor.org
                    )));
                }
                let row = api_tokens::find(conn, scope.as_ref(), &jti)?;
                if row.is_none() && scope.is_some() {
                    return Err(not_found(&jti));
                }
                let changed = tokens::revoke(conn, &jti, now)?;
                if changed && let Some(row) = &row {
                    let org = OrgId::parse(&row.org_id).map_err(ScimError::invalid_value)?;
                    audit::append(
                        conn,
                        &NewEvent {
                            org: &org,
                            occurred_at: now,
                            actor: &actor.id,
                            channel: actor.channel.as_str(),
                            action: "token.revoke",
                            target_type: "Token",
                            target_id: &jti,
                            attributes: Vec::new(),
                            detail: Some(serde_json::json!({ "name": row.name })),
                        },
                    )?;
                }
                if changed && row.is_none() {
                    // A token roster has no record of: recorded in the org the operator named.
                    audit::append(
                        conn,
                        &NewEvent {
                            org: &actor.org,
                            occurred_at: now,
                            actor: &actor.id,
                            channel: actor.channel.as_str(),
                            action: "token.revoke",
                            target_type: "Token",
                            target_id: &jti,
                            attributes: Vec::new(),
                            detail: None,
                        },
                    )?;
                }
                let revoked_at = revoked_at(conn, &jti)?;
                Ok((changed, row.map(|row| TokenView::of(row, revoked_at))))
            })
        })
        .await
}

fn revoked_at(
    conn: &mut crate::store::DbConnection,
    jti: &str,
) -> Result<Option<NaiveDateTime>, ScimError> {
    Ok(tokens::revoked_at(conn, &[jti.to_owned()])?
        .into_iter()
        .next()
        .map(|(_, at)| at))
}

/// Replaces the token `jti` of `actor`'s org by a new one of the same name, role and lifetime;
/// the old one keeps working for `overlap`, then is refused on every node. A revoked token,
/// or one already rotated, cannot be rotated.
pub async fn rotate(
    store: &Store,
    signer: &Arc<Signer>,
    actor: &Actor,
    jti: &str,
    overlap: Duration,
) -> Result<Rotated, ScimError> {
    check_overlap(overlap)?;
    let signer = Arc::clone(signer);
    let actor = actor.clone();
    let jti = jti.to_owned();
    let now = clock::now();
    let retires = now
        + chrono::Duration::from_std(overlap)
            .map_err(|_| ScimError::invalid_value("'overlap' is out of range"))?;
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                let Some(row) = api_tokens::find(conn, Some(&actor.org), &jti)? else {
                    return Err(not_found(&jti));
                };
                if tokens::is_revoked(conn, &jti, now)? {
                    return Err(ScimError::conflict(format!(
                        "token '{jti}' is revoked; create a new token instead"
                    )));
                }
                if let Some(successor) = &row.rotated_to {
                    return Err(ScimError::conflict(format!(
                        "token '{jti}' was already rotated to '{successor}'; rotate that one"
                    )));
                }
                let role: Role = row
                    .role
                    .parse()
                    .map_err(|_| ScimError::invalid_value("the token's role is unknown"))?;
                let ttl = row
                    .expires_at
                    .map(|exp| (exp - row.created_at).to_std().unwrap_or(Duration::ZERO));
                let request = TokenRequest {
                    name: row.name.clone(),
                    role,
                    subject: row.subject.as_deref().and_then(UserId::parse),
                    ttl,
                };
                let new = mint(conn, &signer, &actor, &request, now, Some(&jti))?;
                tokens::retire(conn, &jti, retires)?;
                api_tokens::set_rotated_to(conn, &jti, &new.view.jti)?;
                audit::append(
                    conn,
                    &NewEvent {
                        org: &actor.org,
                        occurred_at: now,
                        actor: &actor.id,
                        channel: actor.channel.as_str(),
                        action: "token.rotate",
                        target_type: "Token",
                        target_id: &jti,
                        attributes: Vec::new(),
                        detail: Some(serde_json::json!({
                            "name": row.name,
                            "replacement": new.view.jti,
                            "overlapSeconds": overlap.as_secs(),
                            "retiresAt": retires.to_rfc3339(),
                        })),
                    },
                )?;
                let revoked_at = revoked_at(conn, &jti)?;
                let mut old = TokenView::of(row, revoked_at);
                old.rotated_to = Some(new.view.jti.clone());
                Ok(Rotated { new, old })
            })
        })
        .await
}
