//! `/admin/v1/rate-limit`: the organization's SCIM rate limit (docs/admin-api.md, "Rate
//! limit"; docs/limits.md, "Rate limits").

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{Admin, AdminError};
use crate::http::AppState;
use crate::provisioning::rate_limits::{Limit, OrgLimit};
use crate::provisioning::{Actor, Channel};

/// Body of `PUT /admin/v1/rate-limit`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetRequest {
    /// Requests per second, 1 to 100000.
    per_second: i64,
    /// Requests in a burst, 1 to 1000000.
    burst: i64,
}

/// The limit as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitJson {
    /// `null`: no limit.
    per_second: Option<u32>,
    burst: Option<u32>,
    /// `org` (its own) or `default` (the server's).
    #[schema(value_type = String)]
    source: &'static str,
    updated_at: Option<String>,
    updated_by: Option<String>,
}

impl LimitJson {
    fn of(limit: OrgLimit) -> LimitJson {
        LimitJson {
            per_second: limit.limit.map(|l| l.per_second.get()),
            burst: limit.limit.map(|l| l.burst.get()),
            source: if limit.own { "org" } else { "default" },
            updated_at: limit
                .updated_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            updated_by: limit.updated_by,
        }
    }
}

/// `GET /admin/v1/rate-limit`
#[utoipa::path(get, path = "/admin/v1/rate-limit", tag = "rate-limit",
    responses((status = 200, description = "The org's SCIM rate limit in force", body = LimitJson)))]
pub async fn get(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let limit = state
        .connectors
        .rate_limits
        .get(&state.store, &admin.0.org)
        .await?;
    Ok(HttpResponse::Ok().json(LimitJson::of(limit)))
}

/// `PUT /admin/v1/rate-limit` with `{"perSecond", "burst"}`: the org's own limit, in force on
/// this node at once and on every node within `ROSTER_RATE_LIMIT_REFRESH`.
#[utoipa::path(put, path = "/admin/v1/rate-limit", tag = "rate-limit", request_body = SetRequest,
    responses((status = 200, description = "The org's own limit, now in force", body = LimitJson)))]
pub async fn put(
    admin: Admin,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, AdminError> {
    let request: SetRequest = serde_json::from_value(body.into_inner()).map_err(|e| {
        AdminError::invalid(format!(
            "the body must be {{\"perSecond\": 100, \"burst\": 200}}: {e}"
        ))
    })?;
    let limit = Limit::checked(request.per_second, request.burst)?;
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    let rate_limits = &state.connectors.rate_limits;
    rate_limits.set(&state.store, &actor, limit).await?;
    let limit = rate_limits.get(&state.store, &admin.0.org).await?;
    Ok(HttpResponse::Ok().json(LimitJson::of(limit)))
}
