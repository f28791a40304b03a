//! `/admin/v1/event-subscriptions`: an org's lifecycle event subscriptions, their deliveries,
//! test pings and re-enabling (docs/events.md).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{Admin, AdminError};
use crate::config::EventSettings;
use crate::http::AppState;
use crate::provisioning::events::{self, Subscription};
use crate::provisioning::views::{DELIVERY_PENDING, DeliveryRow, SubscriptionRow};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
const MAX_URL_LENGTH: usize = 2048;
const MAX_DESCRIPTION_LENGTH: usize = 1000;

/// Body of `POST /admin/v1/event-subscriptions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The receiver: `https`, a public address (docs/events.md).
    url: String,
    /// `webhook` (the default).
    format: Option<String>,
    /// Absent: every type, including types added later.
    events: Option<Vec<String>>,
    description: Option<String>,
    /// `set` only: the `aud` of its SETs (default: the receiver URL).
    audience: Option<String>,
}

/// A subscription as the API shows it. The webhook secret only in the answer to its creation;
/// `audience` for `set` subscriptions only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub id: String,
    pub url: String,
    pub format: String,
    /// `null`: every type.
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// `active` or `disabled`.
    pub status: String,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    /// Since when deliveries have been failing without a success, if they are.
    pub failing_since: Option<String>,
    pub created_at: String,
    /// The `aud` of a `set` subscription's SETs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl SubscriptionView {
    fn of(row: SubscriptionRow, with_secret: bool) -> SubscriptionView {
        let audience = (row.format == events::SET).then(|| row.set_audience().to_owned());
        SubscriptionView {
            events: row
                .events
                .map(|e| e.split(' ').map(str::to_owned).collect()),
            disabled_at: row.disabled_at.map(time),
            failing_since: row.failing_since.map(time),
            created_at: time(row.created_at),
            audience,
            secret: (with_secret && !row.secret.is_empty()).then_some(row.secret),
            id: row.id,
            url: row.url,
            format: row.format,
            description: row.description,
            status: row.status,
            disabled_reason: row.disabled_reason,
        }
    }
}

/// One delivery of one event to the subscription's receiver.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    /// The `webhook-id`, the same on every attempt.
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// `pending` or `delivered`.
    pub status: String,
    pub attempts: i32,
    pub created_at: String,
    pub last_attempt_at: Option<String>,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// The first 256 bytes of the receiver's last response body.
    pub response_excerpt: Option<String>,
    /// When a pending delivery is tried next (behind the deliveries before it).
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
}

impl DeliveryView {
    fn of(row: DeliveryRow) -> DeliveryView {
        let pending = row.status == DELIVERY_PENDING;
        DeliveryView {
            id: row.id.to_string(),
            event_id: row.event_id,
            event_type: row.event_type,
            attempts: row.attempts,
            created_at: time(row.created_at),
            last_attempt_at: row.last_attempt_at.map(time),
            last_status: row.last_status,
            last_error: row.last_error,
            response_excerpt: row.response_excerpt,
            next_attempt_at: pending.then(|| time(row.next_attempt_at)),
            delivered_at: row.delivered_at.map(time),
            status: row.status,
        }
    }
}

/// The org's subscriptions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<SubscriptionView>,
}

/// A subscription's newest deliveries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
}

fn time(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `POST /admin/v1/event-subscriptions`: 201 with the subscription and its signing secret,
/// shown this once.
#[utoipa::path(post, path = "/admin/v1/event-subscriptions", tag = "events", request_body = CreateRequest,
    responses((status = 201, description = "The subscription, with its signing secret (shown this once)", body = SubscriptionView)))]
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    settings: web::Data<EventSettings>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let request: CreateRequest = serde_json::from_slice(&body).map_err(|e| {
        AdminError::invalid(format!(
            "the body must be {{\"url\": \"https://…\", \"format\": \"webhook\" | \"set\", \"events\": [\"user.deactivated\", …], \"description\": \"…\", \"audience\": \"…\" (set only)}}: {e}"
        ))
    })?;
    if request.url.len() > MAX_URL_LENGTH {
        return Err(AdminError::new(
            400,
            "invalid_url",
            format!("url is longer than {MAX_URL_LENGTH} bytes"),
        ));
    }
    if request
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LENGTH)
    {
        return Err(AdminError::invalid(format!(
            "description is longer than {MAX_DESCRIPTION_LENGTH} characters"
        )));
    }
    let subscription = Subscription::parse(
        &request.url,
        request.format.as_deref(),
        request.events,
        request.description,
        request.audience,
        settings.allow_insecure,
    )
    .map_err(|refused| AdminError::new(400, refused.code, refused.message))?;
    let row = events::create(&state.store, &admin.0.org, subscription).await?;
    Ok(HttpResponse::Created().json(SubscriptionView::of(row, true)))
}

/// `GET /admin/v1/event-subscriptions`
#[utoipa::path(get, path = "/admin/v1/event-subscriptions", tag = "events",
    responses((status = 200, description = "The org's subscriptions", body = SubscriptionList)))]
pub async fn list(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let rows = events::list(&state.store, &admin.0.org).await?;
    let subscriptions: Vec<SubscriptionView> = rows
        .into_iter()
        .map(|r| SubscriptionView::of(r, false))
        .collect();
    Ok(HttpResponse::Ok().json(SubscriptionList { subscriptions }))
}

/// `GET /admin/v1/event-subscriptions/{id}`
#[utoipa::path(get, path = "/admin/v1/event-subscriptions/{id}", tag = "events", params(("id" = String, Path, description = "The subscription's id")),
    responses((status = 200, description = "The subscription", body = SubscriptionView)))]
pub async fn get(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let row = events::get(&state.store, &admin.0.org, &id).await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::of(row, false)))
}

/// `DELETE /admin/v1/event-subscriptions/{id}`: 204; its undelivered events go with it.
#[utoipa::path(delete, path = "/admin/v1/event-subscriptions/{id}", tag = "events", params(("id" = String, Path, description = "The subscription's id")),
    responses((status = 204, description = "Deleted, with its undelivered events")))]
pub async fn delete(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    events::delete(&state.store, &admin.0.org, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /admin/v1/event-subscriptions/{id}/enable`: the subscription, active again.
#[utoipa::path(post, path = "/admin/v1/event-subscriptions/{id}/enable", tag = "events", params(("id" = String, Path, description = "The subscription's id")),
    responses((status = 200, description = "The subscription, active again", body = SubscriptionView)))]
pub async fn enable(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let row = events::enable(&state.store, &admin.0.org, &id).await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::of(row, false)))
}

/// `POST /admin/v1/event-subscriptions/{id}/test`: 202 with the queued `ping` delivery.
#[utoipa::path(post, path = "/admin/v1/event-subscriptions/{id}/test", tag = "events", params(("id" = String, Path, description = "The subscription's id")),
    responses((status = 202, description = "The queued `ping` delivery", body = DeliveryView)))]
pub async fn test(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let row = events::ping(&state.store, &admin.0.org, &id).await?;
    Ok(HttpResponse::Accepted().json(DeliveryView::of(row)))
}

/// Query of `GET /admin/v1/event-subscriptions/{id}/deliveries`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Deliveries to return, 1 to 1000 (default 100).
    limit: Option<i64>,
}

/// `GET /admin/v1/event-subscriptions/{id}/deliveries?limit=`: the newest deliveries first.
#[utoipa::path(get, path = "/admin/v1/event-subscriptions/{id}/deliveries", tag = "events",
    params(("id" = String, Path, description = "The subscription's id"), DeliveriesQuery),
    responses((status = 200, description = "The newest deliveries first", body = DeliveryList)))]
pub async fn deliveries(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, AdminError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let rows = events::deliveries(&state.store, &admin.0.org, &id, limit).await?;
    let deliveries: Vec<DeliveryView> = rows.into_iter().map(DeliveryView::of).collect();
    Ok(HttpResponse::Ok().json(DeliveryList { deliveries }))
}
