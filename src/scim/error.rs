//! The SCIM error vocabulary (RFC 7644 §3.12).
//!
//! Every failure that reaches a SCIM client is one of these. Each `scimType` of the RFC has a
//! named constructor; the HTTP layer maps the value to a response in one place.
//!
//! A failure of the server rather than of the request (a database error, a full queue) keeps
//! its cause ([`ScimError::caused_by`], [`std::error::Error::source`]): the response stays
//! opaque, and the HTTP edge logs the cause once, with the request id
//! (docs/architecture.md §9).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// URN of the error message schema (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` detail codes of RFC 7644 §3.12 (table 9) and RFC 9865 §2.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    InvalidCursor,
    ExpiredCursor,
    InvalidCount,
}

/// What made the server fail a request: kept with the [`ScimError`], never sent. Shared, so
/// that the error stays `Clone`.
pub type Cause = Arc<dyn StdError + Send + Sync + 'static>;

/// A SCIM error: an HTTP status, an optional `scimType` and a human-readable `detail`, and for a
/// failure of the server its cause.
///
/// Construct it with the named constructors so that status and `scimType` always agree.
/// Equality and `Debug` leave the cause out: two errors that answer the same are equal, and the
/// cause is logged once, at the edge, not with every formatting of the error.
#[derive(Clone, thiserror::Error)]
#[error("{status} {scim_type:?}: {detail}")]
pub struct ScimError {
    status: u16,
    scim_type: Option<ScimType>,
    detail: String,
    /// Seconds after which a retry may succeed (`Retry-After`, RFC 9110 §10.2.3).
    retry_after: Option<u32>,
    /// The failure behind the error, for the log (see [`ScimError::caused_by`]).
    #[source]
    cause: Option<Cause>,
}

impl fmt::Debug for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimError")
            .field("status", &self.status)
            .field("scim_type", &self.scim_type)
            .field("detail", &self.detail)
            .field("retry_after", &self.retry_after)
            .field("has_cause", &self.cause.is_some())
            .finish()
    }
}

impl PartialEq for ScimError {
    fn eq(&self, other: &Self) -> bool {
        (self.status, self.scim_type, &self.detail, self.retry_after)
            == (
                other.status,
                other.scim_type,
                &other.detail,
                other.retry_after,
            )
    }
}

impl Eq for ScimError {}

impl ScimError {
    fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
            cause: None,
        }
    }

    /// The same error, caused by `cause` (a database error, a task that failed, a full queue):
    /// the response does not change; the HTTP edge logs the cause and its own sources once,
    /// with the request id. Any error converts, and so does a message (`&str`, `String`).
    pub fn caused_by(
        mut self,
        cause: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        self.cause = Some(Arc::from(cause.into()));
        self
    }

    /// The failure behind this error, if the server recorded one ([`ScimError::caused_by`]);
    /// the same as [`std::error::Error::source`].
    pub fn cause(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.cause.as_deref()
    }

    /// 400 `invalidFilter`: the filter syntax was invalid or an attribute/operator is unsupported.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::InvalidFilter), detail)
    }
    /// 400 `tooMany`: the filter would return more results than the server allows.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::TooMany), detail)
    }
    /// 409 `uniqueness`: a value that must be unique is already taken.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }
    /// 400 `mutability`: the request tried to change a readOnly or immutable attribute.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::Mutability), detail)
    }
    /// 400 `invalidSyntax`: the body could not be parsed or violates the message schema.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::InvalidSyntax), detail)
    }
    /// 400 `invalidPath`: a PATCH path is malformed or names no attribute.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::InvalidPath), detail)
    }
    /// 400 `noTarget`: a PATCH path or value filter matched nothing it could act on.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::NoTarget), detail)
    }
    /// 400 `invalidValue`: a value is missing, of the wrong type, or not acceptable.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::InvalidValue), detail)
    }
    /// 400 `invalidValue` (`invalidPath` when `in_path`): data under `urn`, an extension schema
    /// the organization has not registered for its `resource_type` resources. RFC 7643 §3.3 lets
    /// a service provider ignore it; roster refuses it, so that an IdP's data is never dropped
    /// without a word, and says how to register the extension.
    pub fn unregistered_extension(resource_type: &str, urn: &str, in_path: bool) -> Self {
        let detail = format!(
            "'{urn}' is not a schema of {resource_type} resources in this organization: an org \
             admin registers an extension schema with POST /admin/v1/schema-extensions \
             (docs/admin-api.md, \"Schema extensions\"); until then, leave its attributes out"
        );
        if in_path {
            Self::invalid_path(detail)
        } else {
            Self::invalid_value(detail)
        }
    }
    /// 400 `invalidVers`: the requested protocol version is not supported.
    pub fn invalid_vers(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::InvalidVers), detail)
    }
    /// 403 `sensitive`: the request carried data the server refuses in a URI.
    pub fn sensitive(detail: impl Into<String>) -> Self {
        Self::new(403, Some(ScimType::Sensitive), detail)
    }
    /// 400 `invalidCursor` (RFC 9865 §2.3).
    pub fn invalid_cursor(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::InvalidCursor), detail)
    }
    /// 400 `expiredCursor` (RFC 9865 §2.3).
    pub fn expired_cursor(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::ExpiredCursor), detail)
    }
    /// 400 `invalidCount` (RFC 9865 §2.3).
    pub fn invalid_count(detail: impl Into<String>) -> Self {
        Self::new(400, Some(ScimType::InvalidCount), detail)
    }
    /// 400 without a `scimType`, for a bad request the RFC has no code for.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, None, detail)
    }
    /// 401: no credentials, or credentials that are not (or no longer) valid.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }
    /// 403: authenticated, but not allowed to do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, None, detail)
    }
    /// 404: the resource or endpoint does not exist (or belongs to another tenant).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    /// 405: the endpoint exists but does not support the method.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(405, None, detail)
    }
    /// 409 without `scimType`: a conflict that is not a uniqueness clash.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, None, detail)
    }
    /// 412: an `If-Match` precondition failed (RFC 7644 §3.14).
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }
    /// 413: the request body or a Bulk request is larger than the server accepts.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, None, detail)
    }
    /// 415: the body is not JSON.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(415, None, detail)
    }
    /// 500: the cause is logged, never sent. Give it with [`ScimError::internal_from`] (or
    /// [`ScimError::caused_by`]) wherever there is one.
    pub fn internal() -> Self {
        Self::new(500, None, "internal server error")
    }
    /// 500 caused by `cause`, which the HTTP edge logs and the client never sees.
    pub fn internal_from(cause: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self::internal().caused_by(cause)
    }
    /// 501: the operation is not implemented.
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(501, None, detail)
    }
    /// 503: the service cannot answer now (for example the database pool is exhausted).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(503, None, detail)
    }
    /// 503 with `Retry-After: retry_after_secs`: the server is at capacity (RFC 9110 §15.6.4).
    pub fn overloaded(detail: impl Into<String>, retry_after_secs: u32) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(503, None, detail)
        }
    }

    /// 429 with `Retry-After: retry_after_secs`: the caller's organization is over its rate
    /// limit (RFC 6585 §4). RFC 7644 defines no `scimType` for it.
    pub fn too_many_requests(detail: impl Into<String>, retry_after_secs: u32) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(429, None, detail)
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }
    /// The `scimType`, when the RFC defines one for this failure.
    pub fn scim_type(&self) -> Option<ScimType> {
        self.scim_type
    }
    /// The human-readable detail.
    pub fn detail(&self) -> &str {
        &self.detail
    }
    /// Seconds after which the client may retry, sent as `Retry-After`.
    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    /// The RFC 7644 §3.12 JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert(
                "scimType".to_owned(),
                serde_json::to_value(t).unwrap_or_default(),
            );
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_status_as_string_and_scim_type() {
        let body = ScimError::uniqueness("userName \"a\" is taken").body();
        assert_eq!(
            body,
            serde_json::json!({
                "schemas": [ERROR_SCHEMA],
                "status": "409",
                "scimType": "uniqueness",
                "detail": "userName \"a\" is taken",
            })
        );
    }

    #[test]
    fn the_cause_is_the_source_and_stays_out_of_the_body_and_debug() {
        let io = std::io::Error::other("disk on fire");
        let err = ScimError::internal_from(io);
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"));
        assert_eq!(
            err.cause().map(ToString::to_string).as_deref(),
            Some("disk on fire")
        );
        assert!(!err.body().to_string().contains("disk"));
        assert!(!format!("{err:?}").contains("disk"));
        assert!(!err.to_string().contains("disk"));
        // Equal to the same answer without a cause; a clone keeps it.
        assert_eq!(err, ScimError::internal());
        assert!(err.clone().cause().is_some());
        assert!(ScimError::internal().cause().is_none());
    }

    #[test]
    fn body_omits_scim_type_when_none() {
        let body = ScimError::not_found("no such user").body();
        assert!(body.get("scimType").is_none());
        assert_eq!(body["status"], "404");
    }
}
