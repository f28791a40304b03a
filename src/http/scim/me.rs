//! `/Me` (RFC 7644 §3.11): the user the token acts as (its `sub`), served directly rather than
//! redirected. A token that acts as no user (an IdP connector's) gets 501, as the RFC allows
//! when the authenticated subject is not a SCIM resource.

use actix_web::{HttpRequest, HttpResponse, web};

use super::ResourceQuery;
use super::users;
use crate::http::AppState;
use crate::http::extract::{Authenticated, ScimJson};
use crate::scim::ScimError;

fn subject(auth: &Authenticated) -> Result<web::Path<String>, ScimError> {
    auth.0
        .subject
        .as_ref()
        .map(|s| web::Path::from(s.to_string()))
        .ok_or_else(|| {
            ScimError::not_implemented(
                "this token acts as no user (it has no `sub` claim), so /Me has nothing to show; \
                 mint one with `roster token create --sub <user id>`",
            )
        })
}

/// `GET /Me`
pub async fn get(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ResourceQuery>,
) -> Result<HttpResponse, ScimError> {
    let id = subject(&auth)?;
    users::get(auth, state, req, id, query).await
}

/// `PUT /Me`
pub async fn replace(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ResourceQuery>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let id = subject(&auth)?;
    users::replace(auth, state, req, id, query, body).await
}

/// `PATCH /Me`
pub async fn patch(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ResourceQuery>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let id = subject(&auth)?;
    users::patch(auth, state, req, id, query, body).await
}

/// `DELETE /Me`
pub async fn delete(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let id = subject(&auth)?;
    users::delete(auth, state, req, id).await
}
