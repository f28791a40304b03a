//! An organization's own extension schemas (RFC 7643 §3.3; docs/admin-api.md, "Schema
//! extensions"): registering, reading and removing them, and the organization's resource types
//! that every SCIM request validates, projects, filters and patches against.
//!
//! Each node keeps every org's resource types it has read ([`Store::cached_schemas`]); the token
//! check of every request ([`super::access::authorize`]) compares the version kept with the
//! org's `schema_version` in the same statement, and reads the registry again when it moved, so
//! a registration or a removal holds on every node from the next request on.

use std::sync::Arc;

use serde_json::Value;

use super::Actor;
use crate::clock;
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::scim::extension::{self, Extension, resource_type_name};
use crate::scim::schema::{OrgSchemas, ResourceKind};
use crate::store::audit::{self, NewEvent};
use crate::store::schema_extensions::{self, ExtensionRow};
use crate::store::{DbConnection, Store, extension_values, unique_violation, write_tx};

/// The most extension schemas an organization may register.
pub const MAX_EXTENSIONS: i64 = 20;

/// The query parameter (and value) that confirms the removal of an extension with data.
pub const CONFIRM_DELETE_DATA: &str = "deleteData";

/// A registered extension, as the admin API shows it.
#[derive(Debug, Clone)]
pub struct ExtensionView {
    pub extension: Extension,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub created_by: String,
}

impl ExtensionView {
    fn of(row: ExtensionRow) -> Result<ExtensionView, ScimError> {
        Ok(ExtensionView {
            // A stored definition was checked when it was registered: failing now is a bug
            // (or a hand-edited row), answered 500 with the cause logged.
            extension: extension::parse(row.definition().clone()).map_err(|e| {
                ScimError::internal_from(format!(
                    "the stored extension schema '{}' no longer reads: {}",
                    row.urn,
                    e.detail()
                ))
            })?,
            created_at: row.created_at.and_utc(),
            created_by: row.created_by,
        })
    }
}

/// Reads the org's resource types on `conn`.
pub(super) fn load(conn: &mut DbConnection, org: &OrgId) -> Result<OrgSchemas, ScimError> {
    let (version, rows) = schema_extensions::load(conn, org)?;
    let mut custom = Vec::with_capacity(rows.len());
    for row in rows {
        let ext = ExtensionView::of(row)?.extension;
        custom.push((ext.resource_type, Arc::new(ext.schema)));
    }
    Ok(OrgSchemas::new(version, custom))
}

/// The version of the org's resource types this node holds (-1: none yet), for the token check.
pub(super) fn held_version(store: &Store, org: &OrgId) -> i64 {
    store.cached_schemas(org).map_or(-1, |s| s.version)
}

/// Reads the org's resource types again on `conn` and keeps them.
pub(super) fn refresh(
    store: &Store,
    conn: &mut DbConnection,
    org: &OrgId,
) -> Result<(), ScimError> {
    store.cache_schemas(org, Arc::new(load(conn, org)?));
    Ok(())
}

/// The org's resource types: those this node holds (current as of this request's token check),
/// else read now.
pub async fn of(store: &Store, org: &OrgId) -> Result<Arc<OrgSchemas>, ScimError> {
    if let Some(schemas) = store.cached_schemas(org) {
        return Ok(schemas);
    }
    let owned = org.clone();
    let schemas = Arc::new(store.run_indexed(move |conn| load(conn, &owned)).await?);
    store.cache_schemas(org, Arc::clone(&schemas));
    Ok(schemas)
}

/// The org's extensions, in the order they were registered.
pub async fn list(store: &Store, org: &OrgId) -> Result<Vec<ExtensionView>, ScimError> {
    let org = org.clone();
    let rows = store
        .run_indexed(move |conn| Ok::<_, ScimError>(schema_extensions::load(conn, &org)?.1))
        .await?;
    rows.into_iter().map(ExtensionView::of).collect()
}

/// The extension `urn` (ignoring case); 404 when the org has not registered it.
pub async fn get(store: &Store, org: &OrgId, urn: &str) -> Result<ExtensionView, ScimError> {
    let (owned, key) = (org.clone(), urn.to_owned());
    let row = store
        .run_indexed(move |conn| Ok::<_, ScimError>(schema_extensions::get(conn, &owned, &key)?))
        .await?;
    ExtensionView::of(row.ok_or_else(|| not_registered(urn))?)
}

fn not_registered(urn: &str) -> ScimError {
    ScimError::not_found(format!(
        "no extension schema '{urn}' is registered in this organization"
    ))
}

/// Registers the extension `body` defines (`POST /admin/v1/schema-extensions`), audited as
/// `schema_extension.create`. 409 `uniqueness` for a URN registered already (ignoring case) or
/// one that contains or is contained in another's (`<urn>:<more>`: attribute paths would be
/// ambiguous); 400 beyond [`MAX_EXTENSIONS`].
pub async fn register(
    store: &Store,
    actor: &Actor,
    body: Value,
) -> Result<ExtensionView, ScimError> {
    let ext = extension::parse(body)?;
    let definition = ext.to_json();
    let now = clock::now();
    let writer = actor.clone();
    let urn = ext.schema.id.clone();
    let kind = resource_type_name(ext.resource_type);
    let schemas = store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                let (_, existing) = schema_extensions::load(conn, &writer.org)?;
                if existing.len() as i64 >= MAX_EXTENSIONS {
                    return Err(ScimError::invalid_value(format!(
                        "this organization has {MAX_EXTENSIONS} extension schemas, the most it \
                         may have; remove one first"
                    )));
                }
                let lower = urn.to_ascii_lowercase();
                if let Some(clash) = existing.iter().find(|e| {
                    lower.starts_with(&format!("{}:", e.urn_ci))
                        || e.urn_ci.starts_with(&format!("{lower}:"))
                }) {
                    return Err(ScimError::uniqueness(format!(
                        "'{urn}' and the registered '{}' would make attribute paths ambiguous \
                         (one is the other followed by ':'); choose another URN",
                        clash.urn
                    )));
                }
                schema_extensions::insert(
                    conn,
                    &writer.org,
                    &urn,
                    kind,
                    &definition,
                    &writer.id,
                    now,
                )
                .map_err(|e| {
                    if unique_violation(&e).is_some() {
                        ScimError::uniqueness(format!(
                            "the extension schema '{urn}' is registered already; to change it, \
                             remove it and register it again"
                        ))
                    } else {
                        e.into()
                    }
                })?;
                schema_extensions::bump_version(conn, &writer.org)?;
                audit::append(
                    conn,
                    &NewEvent {
                        org: &writer.org,
                        occurred_at: now,
                        actor: &writer.id,
                        channel: writer.channel.as_str(),
                        action: "schema_extension.create",
                        target_type: "schema_extension",
                        target_id: &urn,
                        attributes: Vec::new(),
                        detail: Some(serde_json::json!({ "resourceType": kind })),
                    },
                )?;
                // This node's resource types as of this write, so that its next request needs
                // no read; other nodes read them on their next token check.
                load(conn, &writer.org)
            })
        })
        .await?;
    store.cache_schemas(&actor.org, Arc::new(schemas));
    // As stored: the definition's canonical form reads back to `ext` (a unit test holds it).
    Ok(ExtensionView {
        extension: ext,
        created_at: now,
        created_by: actor.id.clone(),
    })
}

/// What removing an extension did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The resources whose data of the extension was removed with it.
    pub resources_changed: usize,
}

/// Removes the extension `urn` (`DELETE /admin/v1/schema-extensions/{urn}`), audited as
/// `schema_extension.delete`. When a user or group holds data of it, the removal needs
/// `confirm` (`?confirm=deleteData`), and removes that data with it, in the same transaction
/// (each resource changed gets a new version); without it: 409, saying how to confirm. 404 when
/// not registered.
pub async fn remove(
    store: &Store,
    actor: &Actor,
    urn: &str,
    confirm: bool,
) -> Result<Removed, ScimError> {
    let now = clock::now();
    let writer = actor.clone();
    let urn = urn.to_owned();
    let (removed, schemas) = store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                let row = schema_extensions::get(conn, &writer.org, &urn)?
                    .ok_or_else(|| not_registered(&urn))?;
                let kind = ExtensionView::of(row.clone())?.extension.resource_type;
                if !confirm && extension_values::has_data(conn, kind, &writer.org, &row.urn)? {
                    return Err(ScimError::conflict(format!(
                        "{}s of this organization hold data of '{}'; removing the extension \
                         removes that data too. To do so, repeat the request with \
                         ?confirm={CONFIRM_DELETE_DATA}",
                        resource_type_name(kind).to_lowercase(),
                        row.urn
                    )));
                }
                let changed = if confirm {
                    extension_values::strip(conn, kind, &writer.org, &row.urn, now)?
                } else {
                    Vec::new()
                };
                schema_extensions::delete(conn, &writer.org, &row.urn)?;
                schema_extensions::bump_version(conn, &writer.org)?;
                audit::append(
                    conn,
                    &NewEvent {
                        org: &writer.org,
                        occurred_at: now,
                        actor: &writer.id,
                        channel: writer.channel.as_str(),
                        action: "schema_extension.delete",
                        target_type: "schema_extension",
                        target_id: &row.urn,
                        attributes: Vec::new(),
                        detail: Some(serde_json::json!({
                            "resourceType": resource_type_name(kind),
                            "resourcesChanged": changed.len(),
                        })),
                    },
                )?;
                let removed = Removed {
                    resources_changed: changed.len(),
                };
                Ok::<_, ScimError>((removed, load(conn, &writer.org)?))
            })
        })
        .await?;
    store.cache_schemas(&actor.org, Arc::new(schemas));
    Ok(removed)
}

/// The org's resource type of `kind`.
pub async fn resource_type(
    store: &Store,
    org: &OrgId,
    kind: ResourceKind,
) -> Result<Arc<crate::scim::schema::ResourceTypeDef>, ScimError> {
    Ok(Arc::clone(of(store, org).await?.of(kind)))
}
