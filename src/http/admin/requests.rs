//! `/admin/v1/scim-requests`: the SCIM request log (docs/admin-api.md, "SCIM request log").

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{Admin, AdminError, Lines, check_id, check_text};
use crate::http::AppState;
use crate::provisioning::request_log::{self, Filter, MAX_LIMIT, Record};

const DEFAULT_LIMIT: i64 = 100;

/// Query of `GET /admin/v1/scim-requests`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// `4xx` or `5xx`.
    status: Option<String>,
    /// A token's `jti` or name.
    token: Option<String>,
    /// The id of the SCIM resource the request was about.
    resource_id: Option<String>,
    /// A previous page's `nextCursor`, or an RFC 3339 time.
    after: Option<String>,
    /// Records per page, 1 to 1000 (default 100).
    limit: Option<i64>,
}

/// One record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordJson {
    id: String,
    time: String,
    token: TokenRef,
    method: String,
    path: String,
    status: u16,
    scim_type: Option<String>,
    duration_ms: f64,
    resource_id: Option<String>,
    /// The names of the attributes the body carried; never their values.
    body_attributes: Option<Vec<String>>,
    request_id: Option<String>,
}

/// The token a request was made with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenRef {
    jti: String,
    name: Option<String>,
}

/// One page of the log, oldest first, and the cursor of the next page (`null` on the last one).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestPage {
    pub requests: Vec<RecordJson>,
    pub next_cursor: Option<String>,
}

impl RecordJson {
    fn of(r: Record) -> RecordJson {
        RecordJson {
            id: r.id.to_string(),
            time: r.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            token: TokenRef {
                jti: r.token_jti,
                name: r.token_name,
            },
            method: r.method,
            path: r.path,
            status: r.status,
            scim_type: r.scim_type,
            duration_ms: r.duration_ms,
            resource_id: r.resource_id,
            body_attributes: r.body_attributes,
            request_id: r.request_id,
        }
    }
}

/// `GET /admin/v1/scim-requests?status=4xx|5xx&token=&resource_id=&after=&limit=`: oldest first.
#[utoipa::path(get, path = "/admin/v1/scim-requests", tag = "scim-requests", params(RequestsQuery),
    responses((status = 200, description = "One page of the org's SCIM request log, oldest first", body = RequestPage)))]
pub async fn list(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<RequestsQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let status_class = match query.status.as_deref() {
        None => None,
        Some("4xx") => Some(4),
        Some("5xx") => Some(5),
        Some(_) => return Err(AdminError::invalid("status must be 4xx or 5xx")),
    };
    if let Some(token) = &query.token {
        check_text("token", token, super::MAX_QUERY_CHARS, Lines::Refused)?;
    }
    if let Some(id) = &query.resource_id {
        check_id("resource_id", id)?;
    }
    let (after_id, since) = match query.after.as_deref() {
        None => (None, None),
        Some(a) if !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(a.parse::<i64>().map_err(|_| bad_after())?), None)
        }
        Some(a) => (
            None,
            Some(request_log::parse_time(a).ok_or_else(bad_after)?),
        ),
    };
    let filter = Filter {
        status_class,
        token: query.token,
        resource_id: query.resource_id,
        after_id,
        since,
        limit: limit + 1,
        ..Filter::default()
    };
    let records = request_log::list(&state.store, &admin.0.org, filter).await?;
    let more = records.len() as i64 > limit;
    let records: Vec<RecordJson> = records
        .into_iter()
        .take(usize::try_from(limit).unwrap_or_default())
        .map(RecordJson::of)
        .collect();
    let next_cursor = records.last().filter(|_| more).map(|r| r.id.clone());
    Ok(HttpResponse::Ok().json(RequestPage {
        requests: records,
        next_cursor,
    }))
}

fn bad_after() -> AdminError {
    AdminError::new(
        400,
        "invalid_cursor",
        "after must be a nextCursor this API returned or an RFC 3339 time such as 2026-11-29T12:00:00Z",
    )
}
