//! Recording SCIM requests for the request log ([`crate::provisioning::request_log`]): a
//! middleware on the SCIM scope that, once a request has been answered, records it when it
//! failed (4xx, 5xx) or changed something (a successful POST, PUT, PATCH or DELETE other than a
//! search). It learns the caller from the `Authenticated` extractor ([`caller`]) and the names
//! of the body's attributes from the `ScimJson` extractor ([`body`]); a request with no
//! verified token belongs to no organization and is not recorded.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpRequest, web};
use serde_json::Value;

use super::AppState;
use super::rejection::Rejection;
use crate::auth::Principal;
use crate::clock;
use crate::ids::OrgId;
use crate::provisioning::request_log::{Entry, summarize};
use crate::scim::ScimError;

/// The caller of a request, for its record.
#[derive(Debug, Clone)]
struct Caller {
    org: OrgId,
    jti: String,
}

/// The attribute names of a request's body, for its record.
#[derive(Debug, Clone)]
struct BodySummary(Vec<String>);

fn logging(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.connectors.request_log.enabled())
}

/// Notes the authenticated caller of `req` (called by the `Authenticated` extractor).
pub fn caller(req: &HttpRequest, principal: &Principal) {
    if logging(req) {
        req.extensions_mut().insert(Caller {
            org: principal.org.clone(),
            jti: principal.token_id.clone(),
        });
    }
}

/// Notes the attribute names of `req`'s JSON body (called by the `ScimJson` extractor).
pub fn body(req: &HttpRequest, value: &Value) {
    if logging(req) {
        req.extensions_mut().insert(BodySummary(summarize(value)));
    }
}

/// The middleware: answers the request, then records it if it is to be recorded.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = clock::monotonic();
    let response = next.call(req).await?;
    let status = response.status();
    let request = response.request();
    let changes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) && !request.path().ends_with("/.search");
    if !(status.is_client_error() || status.is_server_error() || (changes && status.is_success())) {
        return Ok(response);
    }
    let Some(state) = request.app_data::<web::Data<AppState>>() else {
        return Ok(response);
    };
    let Some(caller) = request.extensions().get::<Caller>().cloned() else {
        return Ok(response);
    };
    let duration = clock::monotonic().saturating_duration_since(started);
    let scim_type = response.response().error().and_then(|e| {
        let scim = e
            .as_error::<ScimError>()
            .or_else(|| e.as_error::<Rejection>().map(|r| &r.error))?;
        serde_json::to_value(scim.scim_type()?)
            .ok()?
            .as_str()
            .map(str::to_owned)
    });
    let resource_id = request
        .match_info()
        .get("id")
        .map(str::to_owned)
        .or_else(|| {
            let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
            location.rsplit('/').next().map(str::to_owned)
        });
    let body_summary = request
        .extensions()
        .get::<BodySummary>()
        .map(|s| s.0.clone());
    let request_id = request
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(ToString::to_string);
    let at =
        clock::now() - chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::zero());
    state.connectors.request_log.record(Entry {
        org: caller.org,
        at,
        token_jti: caller.jti,
        method: request.method().as_str().to_owned(),
        path: request.path().to_owned(),
        status: status.as_u16(),
        scim_type,
        duration,
        resource_id,
        body_summary,
        request_id,
    });
    Ok(response)
}
