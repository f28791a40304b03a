//! The admin console's sessions (docs/console.md): signing in with an admin token or a one-time
//! console link, checking a session on every request, signing out.
//!
//! A session is a random 256-bit id in an `HttpOnly` cookie; the database keeps only its
//! SHA-256, with the org, the token behind it (`jti`, and the admin `sub` when the token acts as
//! a user) and a CSRF token. Every request checks the session's expiry and then the token's
//! standing with [`access::authorize`]: a revoked token or a deactivated admin ends the session
//! on its next request, on every node, exactly as it refuses the token itself.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::access;
use super::{Actor, Channel};
use crate::auth::{Principal, Role, Verifier};
use crate::clock;
use crate::ids::{OrgId, UserId};
use crate::scim::ScimError;
use crate::store::console::{self as db, NewSession};
use crate::store::{Store, orgs, write_tx};

/// The rows the console's pages render, as the use cases here return them.
pub use crate::store::audit::EventRow;
pub use crate::store::console::AuditFilter;
pub use crate::store::events::SubscriptionRow;
pub use crate::store::users::{Search, UserRow};

/// The longest lifetime of a console link.
pub const MAX_LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// How often a session's `last_seen_at` is written at most (or every half idle timeout, if
/// that is shorter): a page view within this long of the last write writes nothing.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// How long sessions last (`ROSTER_CONSOLE_IDLE_TIMEOUT`, `ROSTER_CONSOLE_SESSION_LIFETIME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not (and never after its token expires).
    pub lifetime: Duration,
}

/// A session just opened: the raw id for the cookie (never stored) and its CSRF token.
#[derive(Debug, Clone)]
pub struct Opened {
    pub session_id: String,
    pub csrf_token: String,
}

/// A valid session, as a request sees it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The admin: the token (or link) behind the session.
    pub principal: Principal,
    /// The token every state-changing request must carry.
    pub csrf_token: String,
    /// When the session ends at the latest.
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// The actor of the session's changes: the admin, through the `admin` channel.
    pub fn actor(&self) -> Actor {
        Actor::from_principal(&self.principal, Channel::Admin)
    }
}

/// A one-time sign-in link just made: the secret for the URL and the `jti` that revokes the
/// sessions it opens.
#[derive(Debug, Clone)]
pub struct Link {
    pub secret: String,
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

/// 256 random bits, base64url.
fn random_secret() -> Result<String, ScimError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        tracing::error!(error = %e, "the system's random source failed");
        ScimError::internal()
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a session id or link secret: lowercase hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn add(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Signs in with an admin token (`Admin token` on the sign-in page): the token is verified as
/// every bearer token is (signature, algorithm, `iss`, `aud`, time window), must have the role
/// `admin` (a provisioner token gets 403 with a message saying so), and must stand (org exists,
/// not revoked, its `sub` active). The session ends when the token expires at the latest.
pub async fn sign_in_with_token(
    store: &Store,
    verifier: &Verifier,
    policy: SessionPolicy,
    token: &str,
) -> Result<Opened, ScimError> {
    let token = token.trim();
    let token = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .unwrap_or(token)
        .trim();
    if token.is_empty() {
        return Err(ScimError::unauthorized("paste an admin token to sign in"));
    }
    let claims = verifier
        .verify(token, clock::unix_now())
        .map_err(|e| ScimError::unauthorized(format!("this token cannot sign in: {e}")))?;
    let token_exp = claims.exp;
    let principal = Principal::from_claims(claims).map_err(ScimError::unauthorized)?;
    if principal.role != Role::Admin {
        return Err(ScimError::forbidden(format!(
            "only admin tokens can sign in to the console; this token's role is '{}' (a \
             provisioner token is for an identity provider's connector)",
            principal.role
        )));
    }
    access::authorize(store, &principal).await?;
    let token_expiry = token_exp.and_then(|exp| DateTime::<Utc>::from_timestamp(exp, 0));
    open(store, policy, principal, token_expiry).await
}

/// Makes a one-time console link for `org` (`roster console-link`): valid for `ttl` (at most
/// [`MAX_LINK_TTL`]), usable once. It opens a session as the org's admin whose `jti` is the
/// link's.
pub async fn create_link(store: &Store, org: &OrgId, ttl: Duration) -> Result<Link, ScimError> {
    if ttl.is_zero() || ttl > MAX_LINK_TTL {
        return Err(ScimError::bad_request(
            "a console link lives at least 1 s and at most 24h; choose a --ttl in between",
        ));
    }
    let secret = random_secret()?;
    let jti = format!("console-link-{}", uuid::Uuid::new_v4());
    let hash = hash_secret(&secret);
    let org = org.clone();
    let link_jti = jti.clone();
    let now = clock::now();
    let expires_at = add(now, ttl);
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                if !orgs::exists(conn, &org)? {
                    return Err(ScimError::not_found(format!(
                        "organization '{org}' does not exist: create it with `roster org create {org}`"
                    )));
                }
                db::insert_link(conn, &hash, &org, &link_jti, now, expires_at)?;
                Ok(())
            })
        })
        .await?;
    Ok(Link {
        secret,
        jti,
        expires_at,
    })
}

/// Opens a session with a console link's secret; the link is used up, even if the session
/// cannot be opened. An unknown, used or expired link is 401.
pub async fn redeem_link(
    store: &Store,
    policy: SessionPolicy,
    secret: &str,
) -> Result<Opened, ScimError> {
    let hash = hash_secret(secret.trim());
    let now = clock::now();
    let redeemed = store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                Ok::<_, ScimError>(db::redeem_link(conn, &hash, now)?)
            })
        })
        .await?;
    let Some((org, jti)) = redeemed else {
        return Err(ScimError::unauthorized(
            "this console link is not valid: it was already used, has expired, or was mistyped; \
             ask for a new one with `roster console-link`",
        ));
    };
    let principal = Principal {
        org: OrgId::from_db(org),
        role: Role::Admin,
        subject: None,
        token_id: jti,
    };
    access::authorize(store, &principal).await?;
    open(store, policy, principal, None).await
}

async fn open(
    store: &Store,
    policy: SessionPolicy,
    principal: Principal,
    token_expiry: Option<DateTime<Utc>>,
) -> Result<Opened, ScimError> {
    let session_id = random_secret()?;
    let csrf_token = random_secret()?;
    let hash = hash_secret(&session_id);
    let csrf = csrf_token.clone();
    let now = clock::now();
    let mut expires_at = add(now, policy.lifetime);
    if let Some(exp) = token_expiry {
        expires_at = expires_at.min(exp);
    }
    let idle_expires_at = add(now, policy.idle_timeout).min(expires_at);
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                Ok::<_, ScimError>(db::insert_session(
                    conn,
                    &NewSession {
                        id_hash: &hash,
                        org: &principal.org,
                        admin_sub: principal.subject.as_ref().map(UserId::as_str),
                        token_jti: &principal.token_id,
                        csrf_token: &csrf,
                        now,
                        idle_expires_at,
                        expires_at,
                    },
                )?)
            })
        })
        .await?;
    Ok(Opened {
        session_id,
        csrf_token,
    })
}

/// The session of a request's cookie, if it is still valid: unexpired (idle and absolute), and
/// the token behind it still standing. A session that is no longer valid is deleted and the
/// answer is 401 with the reason.
pub async fn check(
    store: &Store,
    policy: SessionPolicy,
    session_id: &str,
) -> Result<Session, ScimError> {
    let hash = hash_secret(session_id);
    let lookup = hash.clone();
    let row = store
        .run_indexed(move |conn| db::find_session(conn, &lookup).map_err(ScimError::from))
        .await?
        .ok_or_else(|| ScimError::unauthorized("you are signed out; sign in again"))?;
    let now = clock::now();
    let naive_now = now.naive_utc();
    let ended = if naive_now >= row.expires_at {
        Some("your session has reached its time limit; sign in again")
    } else if naive_now >= row.idle_expires_at {
        Some("your session ended after a period of inactivity; sign in again")
    } else {
        None
    };
    if let Some(why) = ended {
        end(store, hash).await;
        return Err(ScimError::unauthorized(why));
    }
    let subject = row.admin_sub.as_deref().and_then(UserId::parse);
    let principal = Principal {
        org: OrgId::from_db(row.org_id.clone()),
        role: Role::Admin,
        subject,
        token_id: row.token_jti.clone(),
    };
    if let Err(e) = access::authorize(store, &principal).await {
        if e.status() == 401 {
            end(store, hash).await;
            return Err(ScimError::unauthorized(format!(
                "your session has ended: {}; sign in again",
                e.detail()
            )));
        }
        return Err(e);
    }
    let expires_at = row.expires_at.and_utc();
    let since = now.naive_utc() - row.last_seen_at;
    if since.to_std().unwrap_or_default() >= TOUCH_EVERY.min(policy.idle_timeout / 2) {
        let idle = add(now, policy.idle_timeout).min(expires_at);
        // A failed touch only shortens the session; the request goes on.
        let touched = store
            .run_write(move |conn| {
                write_tx(conn, |conn| db::touch_session(conn, &hash, now, idle))
                    .map_err(ScimError::from)
            })
            .await;
        if let Err(e) = touched {
            tracing::warn!(error = %e, "could not record the console session's use");
        }
    }
    Ok(Session {
        principal,
        csrf_token: row.csrf_token,
        expires_at,
    })
}

/// Signs out: the session is deleted.
pub async fn sign_out(store: &Store, session_id: &str) {
    end(store, hash_secret(session_id)).await;
}

async fn end(store: &Store, hash: String) {
    let ended = store
        .run_write(move |conn| {
            write_tx(conn, |conn| db::delete_session(conn, &hash)).map_err(ScimError::from)
        })
        .await;
    if let Err(e) = ended {
        tracing::warn!(error = %e, "could not delete an ended console session");
    }
}

/// Compares a presented CSRF token with the session's in constant time.
pub fn csrf_matches(session: &Session, presented: &str) -> bool {
    let expected = session.csrf_token.as_bytes();
    let presented = presented.as_bytes();
    expected.len() == presented.len()
        && expected
            .iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The audit actions of the lifecycle of a user, which the console shows as its history (the
/// first three make a row's "last change").
pub const LIFECYCLE_ACTIONS: [&str; 8] = [
    "user.create",
    "user.deactivate",
    "user.reactivate",
    "user.delete",
    "user.hold",
    "user.release",
    "user.reactivate_refused",
    "user.restore",
];

/// A page of `org`'s audit log, newest first (the console's Audit log page).
pub async fn audit_page(
    store: &Store,
    org: &OrgId,
    filter: AuditFilter,
) -> Result<Vec<EventRow>, ScimError> {
    let owned = org.clone();
    store
        .scan(org, move |conn| Ok(db::audit_page(conn, &owned, &filter)?))
        .await
}

/// The last lifecycle change (creation, deactivation, reactivation) of each of `ids`: who and
/// when, for the "last change" column of Manage users.
pub async fn last_changes(
    store: &Store,
    org: &OrgId,
    ids: Vec<String>,
) -> Result<Vec<EventRow>, ScimError> {
    let owned = org.clone();
    store
        .scan(org, move |conn| {
            Ok(db::latest_events(
                conn,
                &owned,
                &ids,
                &LIFECYCLE_ACTIONS[..3],
            )?)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = random_secret().unwrap();
        let b = random_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let hash = hash_secret(&a);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, a);
        assert_eq!(hash, hash_secret(&a));
    }

    #[test]
    fn csrf_comparison() {
        let session = Session {
            principal: Principal {
                org: OrgId::parse("default").unwrap(),
                role: Role::Admin,
                subject: None,
                token_id: "j".into(),
            },
            csrf_token: "abc".into(),
            expires_at: clock::now(),
        };
        assert!(csrf_matches(&session, "abc"));
        assert!(!csrf_matches(&session, "abd"));
        assert!(!csrf_matches(&session, "ab"));
        assert!(!csrf_matches(&session, ""));
    }
}
