//! `/admin/v1/tokens`: an org's bearer tokens — minting (the token shown once), listing with
//! when each was last used, rotating with an overlap, revoking (docs/admin-api.md, "Tokens").

use std::time::Duration;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Admin, AdminError, check_id, read_body};
use crate::auth::{Role, Signer};
use crate::clock;
use crate::http::AppState;
use crate::provisioning::tokens::{self, Minted, TokenRequest, TokenView};
use crate::provisioning::{Actor, Channel};

/// Body of `POST /admin/v1/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// What the token is for, e.g. the IdP's name.
    name: String,
    /// `provisioner` or `admin`.
    role: String,
    /// `"90d"`, `"12h"` or a number of seconds; absent: the token does not expire.
    ttl: Option<Value>,
}

/// Body of `POST /admin/v1/tokens/{jti}/rotate` (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the old token keeps working: `"24h"` or seconds.
    overlap: Option<Value>,
}

/// A token as the API shows it; `token` only in the answer that mints it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenJson {
    /// The token itself: only in the answer that mints it, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub jti: String,
    pub name: String,
    pub role: String,
    /// `active`, `retiring` (a rotation's overlap), `revoked` or `expired`.
    #[schema(value_type = String)]
    pub status: &'static str,
    pub created_at: String,
    pub created_by: String,
    /// To the minute.
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked: bool,
    /// When it was, or will be, refused.
    pub revoked_at: Option<String>,
    pub rotated_to: Option<String>,
}

/// The org's tokens, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenJson>,
}

/// The answer of a rotation: the replacement (with its token, shown this once) and, under
/// `replaces`, the old token, which keeps working until its `revokedAt`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Rotated {
    #[serde(flatten)]
    pub new: TokenJson,
    pub replaces: TokenJson,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl TokenJson {
    fn of(view: TokenView, token: Option<String>) -> TokenJson {
        let now = clock::now();
        let revoked = view.revoked(now);
        let status = if revoked {
            "revoked"
        } else if view.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else if view.revoked_at.is_some() {
            "retiring"
        } else {
            "active"
        };
        TokenJson {
            token,
            status,
            revoked,
            created_at: time(view.created_at),
            last_used_at: view.last_used_at.map(time),
            expires_at: view.expires_at.map(time),
            revoked_at: view.revoked_at.map(time),
            jti: view.jti,
            name: view.name,
            role: view.role,
            created_by: view.created_by,
            rotated_to: view.rotated_to,
        }
    }

    fn minted(minted: Minted) -> TokenJson {
        TokenJson::of(minted.view, Some(minted.token))
    }
}

/// A duration given as `"90d"` (humantime) or a number of seconds.
fn duration(field: &str, value: &Value) -> Result<Duration, AdminError> {
    match value {
        Value::Number(n) => n.as_u64().map(Duration::from_secs).ok_or_else(|| {
            AdminError::invalid(format!("'{field}' must be a whole number of seconds"))
        }),
        Value::String(s) if s.len() <= 64 => humantime::parse_duration(s).map_err(|e| {
            AdminError::invalid(format!("'{field}' is not a duration such as \"90d\": {e}"))
        }),
        _ => Err(AdminError::invalid(format!(
            "'{field}' must be a duration such as \"90d\" or a number of seconds"
        ))),
    }
}

fn signer(state: &AppState) -> Result<&std::sync::Arc<Signer>, AdminError> {
    state.connectors.signer.as_ref().ok_or_else(|| {
        AdminError::new(
            409,
            "no_signing_key",
            "this server verifies tokens issued elsewhere (public keys only) and mints none; \
             set ROSTER_JWT_SECRET to mint tokens",
        )
    })
}

/// `POST /admin/v1/tokens`: 201 with the token, shown this once, and its `jti`.
#[utoipa::path(post, path = "/admin/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, description = "The token, with the token itself (shown this once)", body = TokenJson)))]
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let body = read_body(payload).await?;
    let request: CreateTokenRequest = serde_json::from_slice(&body).map_err(|e| {
        AdminError::invalid(format!(
            "the body must be {{\"name\": \"Okta\", \"role\": \"provisioner\", \"ttl\": \"90d\"}} (ttl optional): {e}"
        ))
    })?;
    let role: Role = request
        .role
        .parse()
        .map_err(|e: crate::auth::ParseRoleError| AdminError::invalid(e.to_string()))?;
    let ttl = request
        .ttl
        .as_ref()
        .filter(|v| !v.is_null())
        .map(|v| duration("ttl", v))
        .transpose()?;
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    let minted = tokens::create(
        &state.store,
        signer(&state)?,
        &actor,
        TokenRequest {
            name: request.name,
            role,
            subject: None,
            ttl,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(TokenJson::minted(minted)))
}

/// `GET /admin/v1/tokens`: the org's tokens, newest first.
#[utoipa::path(get, path = "/admin/v1/tokens", tag = "tokens",
    responses((status = 200, description = "The org's tokens, newest first", body = TokenList)))]
pub async fn list(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let views = tokens::list(&state.store, &admin.0.org).await?;
    let tokens: Vec<TokenJson> = views.into_iter().map(|v| TokenJson::of(v, None)).collect();
    Ok(HttpResponse::Ok().json(TokenList { tokens }))
}

/// `DELETE /admin/v1/tokens/{jti}`: the token, refused from the next request on, every node.
#[utoipa::path(delete, path = "/admin/v1/tokens/{jti}", tag = "tokens", params(("jti" = String, Path, description = "The token's `jti`")),
    responses((status = 200, description = "The token, revoked", body = TokenJson)))]
pub async fn revoke(
    admin: Admin,
    state: web::Data<AppState>,
    jti: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    check_id("jti", &jti)?;
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    let view = tokens::revoke(&state.store, &actor, &jti).await?;
    Ok(HttpResponse::Ok().json(TokenJson::of(view, None)))
}

/// `POST /admin/v1/tokens/{jti}/rotate`: 201 with the replacement (shown this once) and the
/// old token, which keeps working until its `revokedAt`.
#[utoipa::path(post, path = "/admin/v1/tokens/{jti}/rotate", tag = "tokens", params(("jti" = String, Path, description = "The token's `jti`")),
    request_body(content = Option<RotateRequest>, description = "Optional: how long the old token keeps working"),
    responses((status = 201, description = "The replacement (its token shown this once) and, under `replaces`, the old token", body = Rotated)))]
pub async fn rotate(
    admin: Admin,
    state: web::Data<AppState>,
    jti: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    check_id("jti", &jti)?;
    let body = read_body(payload).await?;
    let request: RotateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RotateRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            AdminError::invalid(format!(
                "the body must be empty or {{\"overlap\": \"24h\"}}: {e}"
            ))
        })?
    };
    let overlap = match &request.overlap {
        Some(v) if !v.is_null() => duration("overlap", v)?,
        _ => state.connectors.rotation_overlap,
    };
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    let rotated = tokens::rotate(&state.store, signer(&state)?, &actor, &jti, overlap).await?;
    Ok(HttpResponse::Created().json(Rotated {
        new: TokenJson::minted(rotated.new),
        replaces: TokenJson::of(rotated.old, None),
    }))
}
