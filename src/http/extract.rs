//! Extractors: the authenticated caller, and request bodies and headers parsed once at the edge.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::mime;
use actix_web::{FromRequest, HttpRequest, web};
use serde_json::Value;

use super::AppState;
pub use super::rejection::Rejection;
use crate::auth::Principal;
use crate::clock;
use crate::provisioning::access;
use crate::provisioning::versioning::{Precondition, parse_etag};
use crate::scim::ScimError;

/// The caller of a request: a verified bearer JWT whose org exists, whose `jti` is not revoked
/// and whose subject (if any) is an active user. Handlers that take it cannot forget auth.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Rejection>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                Rejection::without_token(ScimError::internal_from(
                    "the application state is not registered with the server",
                ))
            })?;
            let token = token.map_err(Rejection::without_token)?;
            let refused = |e: ScimError| Rejection {
                error: e,
                token_presented: true,
            };
            let claims = state
                .verifier
                .verify(&token, clock::unix_now())
                .map_err(|e| refused(ScimError::unauthorized(e.to_string())))?;
            let principal =
                Principal::from_claims(claims).map_err(|e| refused(ScimError::unauthorized(e)))?;
            tracing::Span::current().record("org", principal.org.as_str());
            access::authorize(&state.store, &principal)
                .await
                .map_err(refused)?;
            state.connectors.used(&principal);
            super::request_log::caller(&req, &principal);
            Ok(Authenticated(principal))
        })
    }
}

/// The bearer token of `req`'s `Authorization` header, or why there is none.
pub(super) fn bearer_token(req: &HttpRequest) -> Result<String, ScimError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ScimError::unauthorized("send the token as 'Authorization: Bearer <token>'")
    })?;
    let value = value
        .to_str()
        .map_err(|_| ScimError::unauthorized("the Authorization header is not valid text"))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ScimError::unauthorized(
            "the Authorization header must use the Bearer scheme: 'Authorization: Bearer <token>'",
        ));
    }
    let token = token.trim();
    // Okta admins sometimes paste "Bearer <token>" into a field that already adds the prefix.
    let token = match token.split_once(' ') {
        Some((again, rest)) if again.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => token,
    };
    if token.is_empty() {
        return Err(ScimError::unauthorized("the bearer token is empty"));
    }
    Ok(token.to_owned())
}

/// A JSON request body, size-limited and parsed once. The media type must be
/// `application/scim+json` or `application/json` (RFC 7644 §3.8); a body sent without a
/// `Content-Type` is read as JSON too. Failures are SCIM errors: another media type is 415, the
/// rest as [`super::error::json_error`] maps them.
#[derive(Debug)]
pub struct ScimJson(pub Value);

impl ScimJson {
    /// The parsed body.
    pub fn into_inner(self) -> Value {
        self.0
    }
}

/// Whether `mime` is a JSON media type SCIM clients send.
pub fn is_json_media_type(mime: &mime::Mime) -> bool {
    mime.type_() == mime::APPLICATION
        && (mime.subtype() == mime::JSON || mime.subtype() == "scim")
        && mime.suffix().is_none_or(|s| s == mime::JSON)
}

impl FromRequest for ScimJson {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req.headers().get(header::CONTENT_TYPE).map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|v| v.parse::<mime::Mime>().ok())
                .filter(is_json_media_type)
        });
        if let Some(None) = declared {
            let error = ScimError::unsupported_media_type(
                "send the body as application/scim+json or application/json",
            );
            return Box::pin(async move { Err(error.into()) });
        }
        let body = web::Json::<Value>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let value = body.await?.into_inner();
            super::request_log::body(&req, &value);
            Ok(ScimJson(value))
        })
    }
}

/// The `If-Match` header as a [`Precondition`] (RFC 7644 §3.14, RFC 9110 §13.1.1).
pub fn if_match(req: &HttpRequest) -> Result<Precondition, ScimError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(Precondition::None);
    };
    let value = value
        .to_str()
        .map_err(|_| ScimError::bad_request("the If-Match header is not valid text"))?;
    if value.trim() == "*" {
        return Ok(Precondition::Any);
    }
    let versions = value
        .split(',')
        .map(|tag| {
            parse_etag(tag).ok_or_else(|| {
                ScimError::bad_request(format!(
                    "If-Match '{}' is not an ETag this server issued (they look like W/\"3\")",
                    tag.trim()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Precondition::Versions(versions))
}

/// The version named by `If-None-Match`, when it is a single ETag of ours.
pub fn if_none_match(req: &HttpRequest) -> Option<Vec<i64>> {
    let value = req.headers().get(header::IF_NONE_MATCH)?.to_str().ok()?;
    Some(value.split(',').filter_map(parse_etag).collect())
}
