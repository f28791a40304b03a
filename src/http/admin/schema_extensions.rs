//! `/admin/v1/schema-extensions`: the organization's own extension schemas (RFC 7643 §3.3;
//! docs/admin-api.md, "Schema extensions"), which its users and groups may then carry.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Admin, AdminError};
use crate::http::AppState;
use crate::provisioning::schema_extensions::{self, CONFIRM_DELETE_DATA, ExtensionView};
use crate::provisioning::{Actor, Channel};

/// A registered extension as the API shows it: the RFC 7643 §7 schema resource as registered
/// (`id`, `name`, `description`, `attributes`), `resourceType`, and who registered it when.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionJson {
    /// The schema resource with `resourceType` (`User` or `Group`).
    #[schema(value_type = Object)]
    definition: Value,
    created_at: String,
    created_by: String,
}

impl ExtensionJson {
    fn of(view: ExtensionView) -> ExtensionJson {
        ExtensionJson {
            definition: view.extension.to_json(),
            created_at: view
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            created_by: view.created_by,
        }
    }
}

/// The org's extensions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExtensionList {
    extensions: Vec<ExtensionJson>,
}

/// Query of `DELETE /admin/v1/schema-extensions/{urn}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// `deleteData`: remove the extension although users or groups hold data of it, and that
    /// data with it.
    confirm: Option<String>,
}

/// `GET /admin/v1/schema-extensions`
#[utoipa::path(get, path = "/admin/v1/schema-extensions", tag = "schema-extensions",
    responses((status = 200, description = "The org's extension schemas, in the order they were registered", body = ExtensionList)))]
pub async fn list(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let views = schema_extensions::list(&state.store, &admin.0.org).await?;
    Ok(HttpResponse::Ok().json(ExtensionList {
        extensions: views.into_iter().map(ExtensionJson::of).collect(),
    }))
}

/// `POST /admin/v1/schema-extensions` with an RFC 7643 §7 schema resource and `resourceType`:
/// registers it (audited `schema_extension.create`); from the next request on, on every node,
/// the org's `/Schemas` and `/ResourceTypes` show it and its users (or groups) carry it.
#[utoipa::path(post, path = "/admin/v1/schema-extensions", tag = "schema-extensions",
    request_body(content = Object, description = "An RFC 7643 §7 schema resource (`id` = the extension's URN, `name`, `description`, `attributes`) with `resourceType`: `User` or `Group`"),
    responses(
        (status = 201, description = "Registered", body = ExtensionJson),
        (status = 400, description = "The definition is not one roster accepts; the message names the field", body = AdminError),
        (status = 409, description = "The URN is registered already", body = AdminError)))]
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, AdminError> {
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    let view = schema_extensions::register(&state.store, &actor, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(ExtensionJson::of(view)))
}

/// `GET /admin/v1/schema-extensions/{urn}`
#[utoipa::path(get, path = "/admin/v1/schema-extensions/{urn}", tag = "schema-extensions",
    params(("urn" = String, Path, description = "The extension's URN (any case)")),
    responses(
        (status = 200, description = "The extension", body = ExtensionJson),
        (status = 404, description = "Not registered in this org", body = AdminError)))]
pub async fn get(
    admin: Admin,
    state: web::Data<AppState>,
    urn: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let view = schema_extensions::get(&state.store, &admin.0.org, &urn).await?;
    Ok(HttpResponse::Ok().json(ExtensionJson::of(view)))
}

/// `DELETE /admin/v1/schema-extensions/{urn}[?confirm=deleteData]`: removes the extension
/// (audited `schema_extension.delete`). When users or groups hold data of it, 409 unless
/// `confirm=deleteData`, which removes that data too.
#[utoipa::path(delete, path = "/admin/v1/schema-extensions/{urn}", tag = "schema-extensions",
    params(("urn" = String, Path, description = "The extension's URN (any case)"), DeleteQuery),
    responses(
        (status = 204, description = "Removed (with its data, when confirmed)"),
        (status = 404, description = "Not registered in this org", body = AdminError),
        (status = 409, description = "Users or groups hold data of it: repeat with ?confirm=deleteData", body = AdminError)))]
pub async fn delete(
    admin: Admin,
    state: web::Data<AppState>,
    urn: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, AdminError> {
    let confirm = match query.confirm.as_deref() {
        None => false,
        Some(CONFIRM_DELETE_DATA) => true,
        Some(other) => {
            return Err(AdminError::invalid(format!(
                "confirm={other}: the only confirmation is confirm={CONFIRM_DELETE_DATA}"
            )));
        }
    };
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    schema_extensions::remove(&state.store, &actor, &urn, confirm).await?;
    Ok(HttpResponse::NoContent().finish())
}
