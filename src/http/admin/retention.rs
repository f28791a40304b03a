//! `/admin/v1/deleted-user-retention`: how long the organization's deleted users stay
//! restorable before the purge job removes them (docs/admin-api.md, "Deleted users").

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{Admin, AdminError};
use crate::http::AppState;
use crate::provisioning::retention::{self, Retention};
use crate::provisioning::{Actor, Channel};

/// Body of `PUT /admin/v1/deleted-user-retention`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRetention {
    /// Days a deleted user stays restorable, 1 to 3650.
    days: i64,
}

/// The retention as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetentionJson {
    /// Days a deleted user stays restorable before it is purged.
    days: i64,
    /// `org` (its own) or `default` (30 days).
    #[schema(value_type = String)]
    source: &'static str,
    updated_at: Option<String>,
    updated_by: Option<String>,
}

impl RetentionJson {
    fn of(retention: Retention) -> RetentionJson {
        RetentionJson {
            days: retention.days,
            source: if retention.own { "org" } else { "default" },
            updated_at: retention
                .updated_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            updated_by: retention.updated_by,
        }
    }
}

/// `GET /admin/v1/deleted-user-retention`
#[utoipa::path(get, path = "/admin/v1/deleted-user-retention", tag = "deleted-user-retention",
    responses((status = 200, description = "The org's retention of deleted users", body = RetentionJson)))]
pub async fn get(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let retention = retention::get(&state.store, &admin.0.org).await?;
    Ok(HttpResponse::Ok().json(RetentionJson::of(retention)))
}

/// `PUT /admin/v1/deleted-user-retention` with `{"days": N}`: the org's own retention, applied
/// by the purge job's next round (audited `org.deleted_user_retention`).
#[utoipa::path(put, path = "/admin/v1/deleted-user-retention", tag = "deleted-user-retention",
    request_body = SetRetention,
    responses((status = 200, description = "The org's own retention, now in force", body = RetentionJson)))]
pub async fn put(
    admin: Admin,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, AdminError> {
    let request: SetRetention = serde_json::from_value(body.into_inner())
        .map_err(|e| AdminError::invalid(format!("the body must be {{\"days\": 30}}: {e}")))?;
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    let retention = retention::set(&state.store, &actor, request.days).await?;
    Ok(HttpResponse::Ok().json(RetentionJson::of(retention)))
}
