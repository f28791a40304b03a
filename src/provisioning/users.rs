//! User use cases: create, read, list, replace (PUT), patch (PATCH), delete, and the admin's
//! activate/deactivate. Every write of an existing user goes through [`save`], which applies
//! the lifecycle rule and writes the audit events in the same transaction.

use std::collections::BTreeSet;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use serde_json::{Map, Value};

use super::lifecycle::{self, HoldChange, HoldIntent, Transition};
use super::membership;
use super::versioning::{self, Attempt};

use super::{Actor, Channel, audit};
use crate::clock;
use crate::ids::{OrgId, UserId};
use crate::scim::ScimError;
use crate::scim::patch::{self, PatchRequest};
use crate::scim::resource;
use crate::scim::schema::{ResourceKind, ResourceTypeDef, USER_RESOURCE};
use crate::store::deleted_users;
use crate::store::filter::SqlBool;
use crate::store::users::{self, Deactivation, Page, UserData, UserRow};
use crate::store::{Store, unique_violation, write_tx};
use std::sync::Arc;

pub use super::versioning::{Precondition, etag};

/// The org's User resource type (with its own extension schemas) that `actor` writes against.
async fn user_type(store: &Store, actor: &Actor) -> Result<Arc<ResourceTypeDef>, ScimError> {
    super::schema_extensions::resource_type(store, &actor.org, ResourceKind::User).await
}

/// `POST /Users` (RFC 7644 §3.3).
pub async fn create(store: &Store, actor: Actor, body: Value) -> Result<UserRow, ScimError> {
    let rt = user_type(store, &actor).await?;
    let validated = resource::validate_create(&rt, body)?;
    patch::check_value_counts(&rt, &validated.resource)?;
    let password_hash = hash_password(store, validated.password).await?;
    let mut attributes = validated.resource;
    // A user created without `active` has access; say so in the representation (Okta checks it).
    attributes.entry("active").or_insert(Value::Bool(true));
    let data = UserData::from_resource(attributes);
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                let now = clock::now();
                let id = UserId::generate();
                let deactivation = match Transition::between(true, data.active) {
                    Some(t) => t.record(&actor, now),
                    None => Deactivation::default(),
                };
                let row = users::insert(
                    conn,
                    &actor.org,
                    &id,
                    &data,
                    password_hash.as_deref(),
                    &deactivation,
                    now,
                )
                .map_err(|e| write_error(e, &data))?;
                let mut changed: Vec<String> = data.resource.keys().cloned().collect();
                if password_hash.is_some() {
                    changed.push("password".to_owned());
                }
                audit::record(
                    conn,
                    &actor,
                    "user.create",
                    ("User", id.as_str()),
                    changed,
                    None,
                    now,
                )?;
                Ok(row)
            })
        })
        .await
}

/// `GET /Users/{id}`.
pub async fn get(store: &Store, org: &OrgId, id: &str) -> Result<UserRow, ScimError> {
    let id = parse_id(id)?;
    let org = org.clone();
    store
        .run_indexed(move |conn| users::find(conn, &org, &id)?.ok_or_else(|| not_found(&id)))
        .await
}

/// `GET /Users/{id}` with the user's `groups` (RFC 7643 §4.1.2) when `groups_base` (the SCIM
/// base URL for their `$ref`) is given: one trip to the database for both.
pub async fn read(
    store: &Store,
    org: &OrgId,
    id: &str,
    groups_base: Option<String>,
) -> Result<(UserRow, Vec<Value>), ScimError> {
    let id = parse_id(id)?;
    let org = org.clone();
    store
        .run_indexed(move |conn| {
            let row = users::find(conn, &org, &id)?.ok_or_else(|| not_found(&id))?;
            let groups = match groups_base {
                Some(base) => {
                    super::groups::groups_of_users_in(conn, &org, std::slice::from_ref(&id), &base)?
                        .remove(&id)
                        .unwrap_or_default()
                }
                None => Vec::new(),
            };
            Ok((row, groups))
        })
        .await
}

/// A cursor page (RFC 9865) of the users matching `filter`, after the user `after`.
pub async fn page_after(
    store: &Store,
    org: &OrgId,
    filter: Option<SqlBool>,
    after: Option<String>,
    limit: i64,
) -> Result<Vec<UserRow>, ScimError> {
    let owned = org.clone();
    store
        .scan(org, move |conn| {
            Ok(users::page_after(
                conn,
                &owned,
                filter.as_ref(),
                after.as_deref(),
                limit,
            )?)
        })
        .await
}

/// `GET /Users` (RFC 7644 §3.4.2): one page of the users matching `filter`.
pub async fn list(store: &Store, org: &OrgId, query: users::ListQuery) -> Result<Page, ScimError> {
    let owned = org.clone();
    store
        .read(org, query.point, move |conn| {
            Ok(users::list(conn, &owned, &query)?)
        })
        .await
}

/// The admin "Manage users" list.
pub async fn search(
    store: &Store,
    org: &OrgId,
    search: users::Search,
) -> Result<Vec<UserRow>, ScimError> {
    let owned = org.clone();
    store
        .scan(org, move |conn| Ok(users::search(conn, &owned, &search)?))
        .await
}

/// `PUT /Users/{id}` (RFC 7644 §3.5.1): full replace.
pub async fn replace(
    store: &Store,
    actor: Actor,
    id: &str,
    body: Value,
    precondition: Precondition,
) -> Result<UserRow, ScimError> {
    let id = parse_id(id)?;
    // Validate once against the current state to hash the password outside the transaction;
    // the validation is repeated inside it against the state actually replaced.
    let current = get(store, &actor.org, id.as_str()).await?;
    let rt = user_type(store, &actor).await?;
    let password = resource::validate_replace(&rt, &current.attributes(), body.clone())?.password;
    let password_hash = hash_password(store, password).await?;
    update(
        store,
        actor,
        id,
        precondition,
        password_hash,
        None,
        HoldIntent::Keep,
        move |current| {
            let validated = resource::validate_replace(&rt, current, body.clone())?;
            patch::check_value_counts(&rt, &validated.resource)?;
            let mut next = validated.resource;
            // PUT without `active` leaves the state as it is rather than deactivating: AIW Okta apps
            // drop it from profile updates (docs/idp-behaviour.md, "Okta", "Update: PUT or PATCH").
            if !next.contains_key("active")
                && let Some(active) = current.get("active")
            {
                next.insert("active".to_owned(), active.clone());
            }
            Ok(next)
        },
    )
    .await
}

/// `PATCH /Users/{id}` (RFC 7644 §3.5.2): every operation or none.
pub async fn patch(
    store: &Store,
    actor: Actor,
    id: &str,
    request: PatchRequest,
    precondition: Precondition,
) -> Result<UserRow, ScimError> {
    let id = parse_id(id)?;
    let password = patch_password(&request)?;
    let password_hash = hash_password(store, password).await?;
    let rt = user_type(store, &actor).await?;
    update(
        store,
        actor,
        id,
        precondition,
        password_hash,
        None,
        HoldIntent::Keep,
        move |current| {
            let mut next = patch::apply(&rt, current, &request)?;
            next.remove("password");
            // PUT and PATCH share validation: the patched resource must be
            // one a PUT would accept (required attributes, types, immutability, one primary).
            let validated = resource::validate_replace(&rt, current, Value::Object(next))?;
            // Unlike PUT, a PATCH names what it changes: one that removes `active` leaves it
            // unassigned (RFC 7643 §2.5), which roster reads as active, the state of a user
            // created without it; the change goes through the lifecycle rule like any other.
            Ok(validated.resource)
        },
    )
    .await
}

/// Sets `active` on behalf of an admin (`POST /admin/v1/users/{id}/deactivate|activate`).
/// Idempotent: the current state asked again changes nothing. A deactivation with `hold` also
/// puts the user on hold (a hold already there is replaced); an activation lifts any hold.
pub async fn set_active(
    store: &Store,
    actor: Actor,
    id: &str,
    active: bool,
    reason: Option<String>,
    hold: bool,
) -> Result<UserRow, ScimError> {
    let id = parse_id(id)?;
    let intent = match (active, hold) {
        (true, _) => HoldIntent::Release,
        (false, true) => HoldIntent::Set {
            reason: reason.clone(),
        },
        (false, false) => HoldIntent::Keep,
    };
    let detail = reason.map(|r| serde_json::json!({ "reason": r }));
    update(
        store,
        actor,
        id,
        Precondition::None,
        None,
        detail,
        intent,
        move |current| {
            let mut next = current.clone();
            next.insert("active".to_owned(), Value::Bool(active));
            Ok(next)
        },
    )
    .await
}

/// Lifts an admin's hold (`POST /admin/v1/users/{id}/release`), leaving the user as it is
/// (still deactivated: the IdP's next `active: true`, or an admin, reactivates it). Audited as
/// `user.release`; idempotent: a user without a hold is returned unchanged, and nothing is
/// recorded.
pub async fn release(store: &Store, actor: Actor, id: &str) -> Result<UserRow, ScimError> {
    let id = parse_id(id)?;
    update(
        store,
        actor,
        id,
        Precondition::None,
        None,
        None,
        HoldIntent::Release,
        |current| Ok(current.clone()),
    )
    .await
}

/// `DELETE /Users/{id}` (RFC 7644 §3.6). Audited; the user's tokens stop working. The user
/// moves to the deleted users (`store::deleted_users`) in the same transaction: gone for SCIM
/// (404 from now on), every list, filter, group and token check, its `userName` free at once,
/// and restorable by an admin until purged (`super::deleted_users`).
pub async fn delete(
    store: &Store,
    actor: Actor,
    id: &str,
    precondition: Precondition,
) -> Result<(), ScimError> {
    let id = parse_id(id)?;
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                let current = users::find(conn, &actor.org, &id)?.ok_or_else(|| not_found(&id))?;
                precondition.check("user", current.version)?;
                let now = clock::now();
                // Its memberships go in the same transaction; each group it was in gets a new
                // version and a `group.update` event. A restore does not re-add them: the audit
                // event of the deletion lists them.
                let removed = membership::detach_member(conn, &actor, id.as_str(), now)?;
                // Recorded before the row goes, so that its event can name the user.
                audit::record(
                    conn,
                    &actor,
                    "user.delete",
                    ("User", id.as_str()),
                    Vec::new(),
                    (!removed.is_empty())
                        .then(|| serde_json::json!({ "removedFromGroups": removed })),
                    now,
                )?;
                let deletion = deleted_users::Deletion {
                    at: now,
                    by: &actor.id,
                    via: actor.channel.as_str(),
                    removed_groups: &removed,
                };
                deleted_users::keep(conn, &current, &deletion)?;
                users::delete(conn, &actor.org, &id)?;
                Ok(())
            })
        })
        .await
}

/// Reads the user, computes its next attributes with `next`, and saves them if anything
/// changed, retrying when a concurrent write got there first.
///
/// Compute first, then write: the read, `next` (the patch engine, validation) and the diff run
/// here, outside the database's write lock (on SQLite, off the writer thread, whose batch every
/// other org's writes wait for); the write is a short statement conditional on the version read
/// ([`users::update`]). A write that lost the race reads again and recomputes, at most
/// [`versioning::MAX_WRITE_ATTEMPTS`] times, on both backends ([`versioning::retry`]).
///
/// A write that would reactivate a user on hold, other than an admin's activation, is refused
/// as a whole ([`lifecycle::hold_refusal`]), and the refusal is recorded in the audit log by a
/// transaction of its own. The hold is decided on the version read, and setting a hold bumps
/// the version, so a hold set meanwhile makes the write lose its race and be decided again.
#[allow(clippy::too_many_arguments)]
async fn update<F>(
    store: &Store,
    actor: Actor,
    id: UserId,
    precondition: Precondition,
    password_hash: Option<String>,
    detail: Option<Value>,
    hold: HoldIntent,
    next: F,
) -> Result<UserRow, ScimError>
where
    F: Fn(&Map<String, Value>) -> Result<Map<String, Value>, ScimError>,
{
    let (actor, precondition, next) = (&actor, &precondition, &next);
    let (password_hash, detail, hold) = (&password_hash, &detail, &hold);
    versioning::retry("user", id.as_str(), || async {
        let current = get(store, &actor.org, id.as_str()).await?;
        precondition.check("user", current.version)?;
        let attributes = next(&current.attributes())?;
        let Some(plan) = Plan::of(&current, attributes, password_hash.is_some(), hold) else {
            return Ok(Attempt::Done(current));
        };
        let lifts = plan.hold == Some(HoldChange::Release);
        if lifecycle::refused_by_hold(&current, plan.transition, actor, lifts) {
            record_refusal(store, actor, &current, &plan).await?;
            return Err(lifecycle::hold_refusal(&current));
        }
        let (actor, password_hash, detail) = (actor.clone(), password_hash.clone(), detail.clone());
        let saved = store
            .run_write(move |conn| {
                write_tx(conn, |conn| {
                    save(
                        conn,
                        &actor,
                        &current,
                        &plan,
                        password_hash.as_deref(),
                        detail,
                    )
                })
            })
            .await?;
        Ok(saved.map_or(Attempt::Lost, Attempt::Done))
    })
    .await
}

/// Records, in a transaction of its own (the refused write changed nothing), that `actor` tried
/// to reactivate `current` while it is on hold: `user.reactivate_refused`, naming the
/// attributes the request would have changed and the hold.
async fn record_refusal(
    store: &Store,
    actor: &Actor,
    current: &UserRow,
    plan: &Plan,
) -> Result<(), ScimError> {
    let actor = actor.clone();
    let id = current.id.clone();
    let mut attributes: Vec<String> = plan.changed.iter().cloned().collect();
    attributes.push("active".to_owned());
    let detail = serde_json::json!({ "hold": lifecycle::hold_detail(current) });
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                audit::record(
                    conn,
                    &actor,
                    lifecycle::REFUSED_ACTION,
                    ("User", &id),
                    attributes,
                    Some(detail),
                    clock::now(),
                )
            })
        })
        .await
}

/// What a write of an existing user changes, computed before the write.
#[derive(Debug)]
struct Plan {
    data: UserData,
    /// The attributes an `user.update` event names (`active` goes to the lifecycle event).
    changed: BTreeSet<String>,
    transition: Option<Transition>,
    /// A change of the admin's hold.
    hold: Option<HoldChange>,
}

impl Plan {
    /// The change from `current` to `attributes` (and of its hold by `hold`); `None` when
    /// nothing changes.
    fn of(
        current: &UserRow,
        attributes: Map<String, Value>,
        new_password: bool,
        hold: &HoldIntent,
    ) -> Option<Plan> {
        let mut changed = changed_attributes(&current.attributes(), &attributes);
        let data = UserData::from_resource(attributes);
        let transition = Transition::between(current.active, data.active);
        if transition.is_some() {
            changed.remove("active");
        }
        if new_password {
            changed.insert("password".to_owned());
        }
        let hold = HoldChange::of(hold, current);
        if changed.is_empty() && transition.is_none() && hold.is_none() {
            return None;
        }
        Some(Plan {
            data,
            changed,
            transition,
            hold,
        })
    }
}

/// The one write of an existing user. Applies the lifecycle rule to a change of `active`, bumps
/// the version, and records one audit event per kind of change, in the caller's transaction.
/// `Ok(None)`: the user is no longer at `current`'s version (a concurrent write, or deleted);
/// the caller reads again.
fn save(
    conn: &mut crate::store::DbConnection,
    actor: &Actor,
    current: &UserRow,
    plan: &Plan,
    password_hash: Option<&str>,
    detail: Option<Value>,
) -> Result<Option<UserRow>, ScimError> {
    let id = current.user_id();
    let now = clock::now();
    let deactivation = plan.transition.map(|t| t.record(actor, now));
    let hold = plan.hold.as_ref().map(|h| h.record(actor, now));
    let change = users::Change {
        data: &plan.data,
        password_hash,
        deactivation: deactivation.as_ref(),
        hold: hold.as_ref(),
    };
    let Some(updated) =
        users::update(conn, current, &change, now).map_err(|e| write_error(e, &plan.data))?
    else {
        return Ok(None);
    };
    if !plan.changed.is_empty() {
        audit::record(
            conn,
            actor,
            "user.update",
            ("User", id.as_str()),
            plan.changed.iter().cloned().collect(),
            None,
            now,
        )?;
    }
    // A release comes before the reactivation it allows; a hold after the deactivation it keeps.
    if plan.hold == Some(HoldChange::Release) {
        audit::record(
            conn,
            actor,
            HoldChange::Release.action(),
            ("User", id.as_str()),
            Vec::new(),
            Some(serde_json::json!({ "hold": lifecycle::hold_detail(current) })),
            now,
        )?;
    }
    if let Some(t) = plan.transition {
        audit::record(
            conn,
            actor,
            t.action(),
            ("User", id.as_str()),
            vec!["active".to_owned()],
            detail,
            now,
        )?;
    }
    if let Some(set @ HoldChange::Set(reason)) = &plan.hold {
        audit::record(
            conn,
            actor,
            set.action(),
            ("User", id.as_str()),
            Vec::new(),
            reason.as_ref().map(|r| serde_json::json!({ "reason": r })),
            now,
        )?;
    }
    Ok(Some(updated))
}

/// Top-level attribute names whose values differ (extension attributes as `urn:…:name`).
fn changed_attributes(before: &Map<String, Value>, after: &Map<String, Value>) -> BTreeSet<String> {
    let mut changed = BTreeSet::new();
    for key in before.keys().chain(after.keys()) {
        if key == "schemas" || before.get(key) == after.get(key) {
            continue;
        }
        match (before.get(key), after.get(key)) {
            (Some(Value::Object(b)), Some(Value::Object(a))) if key.starts_with("urn:") => {
                for sub in changed_attributes(b, a) {
                    changed.insert(format!("{key}:{sub}"));
                }
            }
            _ => {
                changed.insert(key.clone());
            }
        }
    }
    changed
}

/// The cleartext password a PATCH sets, if any, so it can be hashed before the transaction.
fn patch_password(request: &PatchRequest) -> Result<Option<String>, ScimError> {
    let empty = Map::new();
    let patched = patch::apply(
        &USER_RESOURCE,
        &empty,
        &PatchRequest {
            operations: request
                .operations
                .iter()
                .filter(|op| op.targets_attribute(&USER_RESOURCE, "password"))
                .cloned()
                .collect(),
        },
    );
    match patched {
        Ok(map) => Ok(map
            .get("password")
            .and_then(Value::as_str)
            .map(str::to_owned)),
        // Errors surface when the whole request is applied to the real user.
        Err(_) => Ok(None),
    }
}

/// Hashes a password with argon2id on the store's compute pool: it is deliberately slow (tens
/// of milliseconds of a core), and on the threads database work runs on a flood of them would
/// delay every org's reads. A full pool answers 503 with `Retry-After`.
async fn hash_password(
    store: &Store,
    password: Option<String>,
) -> Result<Option<String>, ScimError> {
    let Some(password) = password else {
        return Ok(None);
    };
    let hashed = store
        .run_cpu(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2::Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await?;
    hashed
        .map(Some)
        .map_err(|e| ScimError::internal_from(format!("password hashing failed: {e}")))
}

fn parse_id(id: &str) -> Result<UserId, ScimError> {
    UserId::parse(id).ok_or_else(|| ScimError::not_found(format!("no user with id '{id}'")))
}

fn not_found(id: &UserId) -> ScimError {
    ScimError::not_found(format!("no user with id '{id}'"))
}

/// Maps a failed insert or update: uniqueness clashes become 409 `uniqueness` naming the
/// attribute; anything else is a database failure.
fn write_error(err: diesel::result::Error, data: &UserData) -> ScimError {
    match unique_violation(&err) {
        Some(_) => ScimError::uniqueness(format!(
            "userName '{}' is already taken in this organization (userName is unique ignoring case)",
            data.user_name
        )),
        None => ScimError::from(err),
    }
}

/// The channel SCIM requests act through; kept here so handlers need not know the enum.
pub fn scim_channel() -> Channel {
    Channel::Scim
}
