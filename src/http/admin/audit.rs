//! `/admin/v1/audit-events`: the audit log, oldest first.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Admin, AdminError, check_id};
use crate::http::AppState;
use crate::provisioning::audit;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// Query of `GET /admin/v1/audit-events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events about this user.
    user_id: Option<String>,
    /// The `nextCursor` of the previous page.
    after: Option<String>,
    /// Events per page, 1 to 1000 (default 100).
    limit: Option<i64>,
}

/// One audit event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    pub occurred_at: String,
    pub actor: String,
    pub channel: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// Names of the attributes the change touched; never their values.
    pub attributes: Value,
    pub detail: Option<Value>,
}

/// A page of events and the cursor of the next one (absent on the last page).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// `GET /admin/v1/audit-events?user_id=&after=&limit=`
#[utoipa::path(get, path = "/admin/v1/audit-events", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "One page of the org's audit events, oldest first", body = AuditPage)))]
pub async fn list(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    if let Some(user_id) = &query.user_id {
        check_id("user_id", user_id)?;
    }
    let after = query
        .after
        .as_deref()
        .map(|a| {
            a.parse::<i64>().map_err(|_| {
                AdminError::new(
                    400,
                    "invalid_cursor",
                    "the cursor is not one this API returned; start again without it",
                )
            })
        })
        .transpose()?;
    let rows = audit::list(&state.store, &admin.0.org, query.user_id, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let events: Vec<AuditEvent> = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or_default())
        .map(|e| AuditEvent {
            id: e.id.to_string(),
            occurred_at: e
                .occurred_at
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            actor: e.actor,
            channel: e.channel,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            attributes: e.attributes.0,
            detail: e.detail.map(|d| d.0),
        })
        .collect();
    let next_cursor = events.last().filter(|_| more).map(|e| e.id.clone());
    Ok(HttpResponse::Ok().json(AuditPage {
        events,
        next_cursor,
    }))
}
