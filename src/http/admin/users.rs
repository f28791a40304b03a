//! `/admin/v1/users`: list, read, deactivate (with or without a hold), activate, release,
//! deleted users and their restore — the "Manage users" screen.

use actix_web::{HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Admin, AdminError, Lines, check_id, check_text};
use crate::http::AppState;
use crate::ids::UserId;
use crate::provisioning::bulk_lifecycle;
use crate::provisioning::deleted_users::{self, RestoreError};
use crate::provisioning::search::AdminUserSearch;
use crate::provisioning::users::{self, etag};
use crate::provisioning::views::{DeletedUserRow, UserRow};
use crate::provisioning::{Actor, Channel};

/// Default and largest page of the admin list.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// A user as the admin console shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUser {
    pub id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub emails: Vec<String>,
    pub active: bool,
    /// RFC 3339; present while the user is deactivated.
    pub deactivated_at: Option<String>,
    /// Who deactivated the user: a token's `sub` or `jti`.
    pub deactivated_by: Option<String>,
    /// Through which surface: `scim` or `admin`.
    pub deactivated_via: Option<String>,
    /// Whether an admin put the user on hold: no SCIM request can reactivate it until an admin
    /// releases the hold or activates the user.
    pub held: bool,
    /// RFC 3339; present while the user is on hold.
    pub held_at: Option<String>,
    /// Who set the hold: the admin token's `sub` or `jti`.
    pub held_by: Option<String>,
    /// The admin's reason for the hold, if given.
    pub hold_reason: Option<String>,
    /// RFC 3339; present for a deleted user only (`status=deleted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// Who deleted the user: a token's `sub` or `jti` (deleted users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
    /// Through which surface it was deleted (deleted users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_via: Option<String>,
    /// The ids of the groups the deletion removed it from (deleted users only); a restore
    /// does not re-add them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_from_groups: Option<Vec<String>>,
    pub created: String,
    pub last_modified: String,
    pub version: String,
}

/// The `value`s of a resource's `emails`.
fn emails_of(resource: &Value) -> Vec<String> {
    resource
        .get("emails")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn time(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl From<&DeletedUserRow> for AdminUser {
    fn from(row: &DeletedUserRow) -> AdminUser {
        AdminUser {
            id: row.id.clone(),
            user_name: row.user_name.clone(),
            display_name: row.display_name.clone(),
            external_id: row.external_id.clone(),
            emails: emails_of(&row.resource.0),
            active: row.active,
            deactivated_at: row.deactivated_at.map(time),
            deactivated_by: row.deactivated_by.clone(),
            deactivated_via: row.deactivated_via.clone(),
            held: row.held_at.is_some(),
            held_at: row.held_at.map(time),
            held_by: row.held_by.clone(),
            hold_reason: row.hold_reason.clone(),
            deleted_at: Some(time(row.deleted_at)),
            deleted_by: Some(row.deleted_by.clone()),
            deleted_via: Some(row.deleted_via.clone()),
            removed_from_groups: Some(row.removed_group_ids()),
            created: time(row.created_at),
            last_modified: time(row.deleted_at),
            version: etag(row.version),
        }
    }
}

impl From<&UserRow> for AdminUser {
    fn from(row: &UserRow) -> AdminUser {
        let emails = emails_of(&row.resource.0);
        AdminUser {
            id: row.id.clone(),
            user_name: row.user_name.clone(),
            display_name: row.display_name.clone(),
            external_id: row.external_id.clone(),
            emails,
            active: row.active,
            deactivated_at: row.deactivated_at.map(time),
            deactivated_by: row.deactivated_by.clone(),
            deactivated_via: row.deactivated_via.clone(),
            held: row.held_at.is_some(),
            held_at: row.held_at.map(time),
            held_by: row.held_by.clone(),
            hold_reason: row.hold_reason.clone(),
            deleted_at: None,
            deleted_by: None,
            deleted_via: None,
            removed_from_groups: None,
            created: time(row.created_at),
            last_modified: time(row.last_modified),
            version: etag(row.version),
        }
    }
}

/// Query of `GET /admin/v1/users`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `active`, `deactivated` or `deleted` (deleted users, restorable until purged); absent:
    /// active and deactivated.
    status: Option<String>,
    /// `true`: only users on hold; `false`: only users not on hold; absent: both.
    held: Option<bool>,
    /// Text to find in userName, displayName or emails.
    q: Option<String>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Users per page, 1 to 500 (default 50).
    limit: Option<i64>,
}

/// One page of the list, and the cursor of the next page (absent on the last one).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub users: Vec<AdminUser>,
    pub next_cursor: Option<String>,
}

/// `GET /admin/v1/users?status=&held=&q=&cursor=&limit=`
#[utoipa::path(get, path = "/admin/v1/users", tag = "users", params(ListQuery),
    responses((status = 200, description = "One page of the org's users", body = UserPage)))]
pub async fn list(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let active = match query.status.as_deref() {
        None | Some("") => None,
        Some("active") => Some(true),
        Some("deactivated") => Some(false),
        Some("deleted") => return list_deleted(admin, state, query).await,
        Some(_) => {
            return Err(AdminError::invalid(
                "status must be 'active', 'deactivated' or 'deleted'",
            ));
        }
    };
    if let Some(q) = &query.q {
        check_text("q", q, super::MAX_QUERY_CHARS, Lines::Refused)?;
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let search = AdminUserSearch {
        active,
        held: query.held,
        text: query.q,
        after,
        // One more than asked tells whether a next page exists.
        limit: limit + 1,
    };
    let rows = users::search(&state.store, &admin.0.org, search).await?;
    Ok(HttpResponse::Ok().json(page(rows, limit, |row| row.id.as_bytes())))
}

/// `GET /admin/v1/users?status=deleted`: the deleted users, in the same page shape.
async fn list_deleted(
    admin: Admin,
    state: web::Data<AppState>,
    query: ListQuery,
) -> Result<HttpResponse, AdminError> {
    if query.q.is_some() || query.held.is_some() {
        return Err(AdminError::invalid(
            "status=deleted takes no 'q' or 'held'; page with 'cursor' and 'limit'",
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let rows = deleted_users::list(&state.store, &admin.0.org, after, limit + 1).await?;
    Ok(HttpResponse::Ok().json(page(rows, limit, |row| row.id.as_bytes())))
}

/// A page of at most `limit` users from `rows`, read one more than asked: the extra row only
/// tells that a next page exists, and the cursor names the last row kept.
fn page<R>(mut rows: Vec<R>, limit: i64, id: impl Fn(&R) -> &[u8]) -> UserPage
where
    for<'a> AdminUser: From<&'a R>,
{
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or_default());
    let next_cursor = rows
        .last()
        .filter(|_| more)
        .map(|row| URL_SAFE_NO_PAD.encode(id(row)));
    UserPage {
        users: rows.iter().map(AdminUser::from).collect(),
        next_cursor,
    }
}

/// `POST /admin/v1/users/{id}/restore`: brings a deleted user back (same id and attributes,
/// the next version); its group memberships are not re-added. 409 `user_name_taken` naming
/// the user that took its userName meanwhile.
#[utoipa::path(post, path = "/admin/v1/users/{id}/restore", tag = "users", params(("id" = String, Path, description = "The deleted user's id")),
    responses((status = 200, description = "The user, restored", body = AdminUser)))]
pub async fn restore(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    check_id("id", &id)?;
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    match deleted_users::restore(&state.store, actor, &id).await {
        Ok(row) => Ok(HttpResponse::Ok().json(AdminUser::from(&row))),
        Err(RestoreError::UserNameTaken { user_name, holder }) => Err(AdminError::new(
            409,
            "user_name_taken",
            match holder {
                Some(holder) => format!(
                    "userName '{user_name}' is now held by user '{holder}'; rename or delete \
                     that user, then restore again"
                ),
                None => format!(
                    "userName '{user_name}' was taken by another user meanwhile; find it with \
                     GET /admin/v1/users?q=, rename or delete it, then restore again"
                ),
            },
        )),
        Err(RestoreError::Failed(e)) => Err(e.into()),
    }
}

/// `GET /admin/v1/users/{id}`
#[utoipa::path(get, path = "/admin/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = AdminUser)))]
pub async fn get(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    check_id("id", &id)?;
    let row = users::get(&state.store, &admin.0.org, &id).await?;
    Ok(HttpResponse::Ok().json(AdminUser::from(&row)))
}

/// Optional body of `POST …/deactivate`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivateBody {
    /// Why, recorded in the audit event (and with the hold).
    reason: Option<String>,
    /// `true`: put the user on hold, so that no SCIM request (an IdP's `active: true`) can
    /// reactivate it until an admin releases the hold or activates the user.
    hold: Option<bool>,
}

/// `POST /admin/v1/users/{id}/deactivate`: idempotent; returns the user.
#[utoipa::path(post, path = "/admin/v1/users/{id}/deactivate", tag = "users", params(("id" = String, Path, description = "The user's id")),
    request_body(content = Option<DeactivateBody>, description = "Optional: why, recorded in the audit event; whether to put the user on hold"),
    responses((status = 200, description = "The user, deactivated", body = AdminUser)))]
pub async fn deactivate(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    check_id("id", &id)?;
    let body = super::read_body(payload).await?;
    // The body is optional; when present it must be the documented JSON.
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        DeactivateBody::default()
    } else {
        serde_json::from_slice::<DeactivateBody>(&body).map_err(|e| {
            AdminError::invalid(format!(
                "the body must be {{\"reason\": \"…\", \"hold\": true|false}} or empty: {e}"
            ))
        })?
    };
    if let Some(reason) = &body.reason {
        check_text("reason", reason, super::MAX_REASON_CHARS, Lines::Allowed)?;
    }
    let hold = body.hold.unwrap_or(false);
    set_active(admin, state, &id, false, body.reason, hold).await
}

/// `POST /admin/v1/users/{id}/release`: lifts the user's hold, leaving it deactivated;
/// idempotent; returns the user.
#[utoipa::path(post, path = "/admin/v1/users/{id}/release", tag = "users", params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user, without a hold (still deactivated)", body = AdminUser)))]
pub async fn release(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    check_id("id", &id)?;
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    let row = users::release(&state.store, actor, &id).await?;
    Ok(HttpResponse::Ok().json(AdminUser::from(&row)))
}

/// `POST /admin/v1/users/{id}/activate`: idempotent; lifts any hold; returns the user.
#[utoipa::path(post, path = "/admin/v1/users/{id}/activate", tag = "users", params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user, active", body = AdminUser)))]
pub async fn activate(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    check_id("id", &id)?;
    set_active(admin, state, &id, true, None, false).await
}

async fn set_active(
    admin: Admin,
    state: web::Data<AppState>,
    id: &str,
    active: bool,
    reason: Option<String>,
    hold: bool,
) -> Result<HttpResponse, AdminError> {
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    let row = users::set_active(&state.store, actor, id, active, reason, hold).await?;
    Ok(HttpResponse::Ok().json(AdminUser::from(&row)))
}

/// Body of `POST /admin/v1/users/deactivate|activate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManyBody {
    /// The users, at most [`bulk_lifecycle::MAX_IDS`].
    ids: Vec<String>,
    /// Why, recorded in each audit event (deactivation only).
    reason: Option<String>,
    /// Deactivation only: `true` puts each user on hold too.
    hold: Option<bool>,
}

/// One user's outcome in the answer of `POST /admin/v1/users/deactivate|activate`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ManyOutcome {
    pub id: String,
    /// `deactivated`, `activated`, `unchanged` (it already had that state) or `failed`.
    #[schema(value_type = String)]
    pub outcome: &'static str,
    /// The user as it is now (absent when failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<AdminUser>,
    /// Why it failed: the admin API's error body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<AdminError>,
}

/// The answer of `POST /admin/v1/users/deactivate|activate`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ManyAnswer {
    pub results: Vec<ManyOutcome>,
}

/// `POST /admin/v1/users/deactivate` with `{"ids": [...], "reason": "…"}`: each user its own
/// lifecycle change and audit event; 200 with each user's outcome.
#[utoipa::path(post, path = "/admin/v1/users/deactivate", tag = "users", request_body = ManyBody,
    responses((status = 200, description = "Each user's outcome", body = ManyAnswer)))]
pub async fn deactivate_many(
    admin: Admin,
    state: web::Data<AppState>,
    body: web::Json<ManyBody>,
) -> Result<HttpResponse, AdminError> {
    set_active_many(admin, state, body.into_inner(), false).await
}

/// `POST /admin/v1/users/activate` with `{"ids": [...]}`.
#[utoipa::path(post, path = "/admin/v1/users/activate", tag = "users", request_body = ManyBody,
    responses((status = 200, description = "Each user's outcome", body = ManyAnswer)))]
pub async fn activate_many(
    admin: Admin,
    state: web::Data<AppState>,
    body: web::Json<ManyBody>,
) -> Result<HttpResponse, AdminError> {
    set_active_many(admin, state, body.into_inner(), true).await
}

async fn set_active_many(
    admin: Admin,
    state: web::Data<AppState>,
    body: ManyBody,
    active: bool,
) -> Result<HttpResponse, AdminError> {
    for id in &body.ids {
        check_id("ids", id)?;
    }
    if let Some(reason) = &body.reason {
        check_text("reason", reason, super::MAX_REASON_CHARS, Lines::Allowed)?;
    }
    if active && body.hold == Some(true) {
        return Err(AdminError::invalid(
            "'hold' applies to a deactivation only; an activation lifts any hold",
        ));
    }
    let hold = body.hold.unwrap_or(false);
    let actor = Actor::from_principal(&admin.0, Channel::Admin);
    let outcomes =
        bulk_lifecycle::set_active_many(&state.store, &actor, &body.ids, active, body.reason, hold)
            .await?;
    Ok(HttpResponse::Ok().json(ManyAnswer {
        results: outcomes
            .into_iter()
            .map(|(id, o)| many_outcome(id, o))
            .collect(),
    }))
}

/// The admin API's view of one [`bulk_lifecycle::Outcome`].
pub fn many_outcome(id: String, outcome: bulk_lifecycle::Outcome) -> ManyOutcome {
    use bulk_lifecycle::Outcome;
    match outcome {
        Outcome::Changed(row) => ManyOutcome {
            id,
            outcome: if row.active {
                "activated"
            } else {
                "deactivated"
            },
            user: Some(AdminUser::from(&row)),
            error: None,
        },
        Outcome::Unchanged(row) => ManyOutcome {
            id,
            outcome: "unchanged",
            user: Some(AdminUser::from(&row)),
            error: None,
        },
        Outcome::Failed(e) => ManyOutcome {
            id,
            outcome: "failed",
            user: None,
            error: Some(AdminError::from(e)),
        },
    }
}

fn decode_cursor(cursor: &str) -> Result<UserId, AdminError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|id| UserId::parse(&id))
        .ok_or_else(|| {
            AdminError::new(
                400,
                "invalid_cursor",
                "the cursor is not one this API returned; start again without it",
            )
        })
}
