//! `POST /Bulk` (RFC 7644 §3.7).
//!
//! The body is read here, not by the JSON extractor, because its limit is
//! `bulk.maxPayloadSize` (`ROSTER_BULK_MAX_PAYLOAD_BYTES`) rather than the general
//! `ROSTER_MAX_BODY_BYTES`; a larger body is a SCIM 413 (RFC 7644 §3.7.4).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, mime, web};
use serde_json::Value;

use super::{base_url, respond};
use crate::http::AppState;
use crate::http::extract::{Authenticated, is_json_media_type};
use crate::provisioning::bulk::{self, BulkRequest};
use crate::provisioning::{Actor, Channel};
use crate::scim::ScimError;

/// `POST /Bulk`: 200 with a BulkResponse, whatever the operations' own statuses; 413 when the
/// body is larger than `maxPayloadSize` or carries more than `maxOperations` operations.
pub async fn post(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let limits = state.capabilities.bulk.ok_or_else(|| {
        ScimError::not_implemented("/Bulk is disabled on this server (bulk.supported is false)")
    })?;
    let declared = req.headers().get(header::CONTENT_TYPE).map(|value| {
        value
            .to_str()
            .ok()
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .filter(is_json_media_type)
    });
    if let Some(None) = declared {
        return Err(ScimError::unsupported_media_type(
            "send the body as application/scim+json or application/json",
        ));
    }
    let max = usize::try_from(limits.max_payload_size).unwrap_or(usize::MAX);
    let too_large = || {
        ScimError::payload_too_large(format!(
            "the Bulk request is larger than the {max} bytes this server accepts \
             (bulk.maxPayloadSize in /ServiceProviderConfig): split it into smaller requests"
        ))
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > limits.max_payload_size) {
        return Err(too_large());
    }
    let body = payload
        .to_bytes_limited(max)
        .await
        .map_err(|_| too_large())?
        .map_err(|e| ScimError::bad_request(format!("the request body could not be read: {e}")))?;
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}"))
    })?;
    let request = BulkRequest::from_json(body, limits.max_operations)?;
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let base = base_url(&state, &req);
    let results = bulk::process(&state.store, actor, request, &base).await;
    // Each failed operation is answered inside the 200: log the causes here, the edge.
    for error in results.iter().filter_map(|r| r.error.as_ref()) {
        crate::http::error::log_cause(error);
    }
    Ok(respond(StatusCode::OK, &bulk::response(&results)))
}
