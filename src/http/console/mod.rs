//! The admin console under `/admin` (docs/console.md): "Manage users" in a browser, served by
//! roster. Server-rendered HTML ([`pages`], maud) with one small JavaScript module and one
//! style sheet, both embedded in the binary. Handlers parse, call `provisioning`, and render,
//! as the admin API's do; the console's changes go through the same use cases, audited with the
//! channel `admin` and the signed-in admin as actor.
//!
//! Security: a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` when `ROSTER_BASE_URL`
//! is https) checked on every request, with the token standing rule
//! ([`crate::provisioning::console::check`]); a CSRF token on every state change (a form field
//! or the `X-CSRF-Token` header) and a cross-origin `Origin` refused; a strict
//! Content-Security-Policy (scripts and styles from `/admin/assets/` only, no inline script),
//! `frame-ancestors 'none'`, `no-store` on every page.

mod connectors;
mod connectors_html;
pub mod pages;
mod session;

use session::*;
pub use session::{COOKIE, ConsoleConfig};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::admin::{Lines, MAX_QUERY_CHARS, MAX_REASON_CHARS, check_id, check_text};
use crate::ids::UserId;
use crate::provisioning::bulk_lifecycle::{self, Outcome};
use crate::provisioning::console::{self, AuditFilter, LIFECYCLE_ACTIONS, Search, Session};
use crate::provisioning::{events as subscriptions, users};
use crate::scim::ScimError;

/// Users per page of Manage users.
pub const PAGE_SIZE: i64 = 50;
/// Audit events per page of the Audit log.
pub const AUDIT_PAGE_SIZE: i64 = 100;
/// The longest admin token the sign-in form takes, in bytes (the verifier's own limit is 16 KiB).
const MAX_FORM_BYTES: usize = 32 * 1024;

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";

const STYLE: &str = include_str!("assets/console.css");
const SCRIPT: &str = include_str!("assets/console.js");

/// Registers the console, relative to `/admin`. Register it after `/admin/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let scope = connectors::routes(web::scope("/admin"));
    cfg.service(
        scope
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CSP))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .app_data(web::FormConfig::default().limit(MAX_FORM_BYTES))
            .app_data(super::admin::json_config())
            .route("", web::get().to(index))
            .route("/", web::get().to(index))
            .route("/sign-in", web::post().to(sign_in))
            .route("/link", web::get().to(link_page))
            .route("/link", web::post().to(redeem_link))
            .route("/sign-out", web::post().to(sign_out))
            .route("/users", web::get().to(users_page))
            .route("/users/bulk", web::post().to(bulk_action))
            .route("/users/{id}", web::get().to(user_page))
            .route("/users/{id}/{action}", web::post().to(user_action))
            .route("/audit", web::get().to(audit_page))
            .route("/events", web::get().to(events_page))
            .route("/assets/console.css", web::get().to(style))
            .route("/assets/console.js", web::get().to(script))
            .default_service(web::to(not_found)),
    );
}

/// `GET /admin`: the sign-in page, or Manage users when signed in.
async fn index(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match session(&req, &state).await {
        Ok(_) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/admin/users"))
            .finish(),
        Err(Refusal::SignedOut(why)) => {
            let why = (!why.is_empty()).then_some(why);
            html(StatusCode::OK, pages::sign_in(why.as_deref()))
        }
        Err(Refusal::Failed(e)) => error_page(&e, false),
    }
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
struct SignInForm {
    token: String,
}

/// A new session's answer: the cookie, and on to Manage users.
fn signed_in(opened: &console::Opened, config: &ConsoleConfig) -> HttpResponse {
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/users"))
        .finish();
    if let Ok(v) = HeaderValue::from_str(&session_cookie(&opened.session_id, config)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// `POST /admin/sign-in` with `token`.
async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    let config = config(&req);
    match console::sign_in_with_token(&state.store, &state.verifier, config.policy, &form.token)
        .await
    {
        Ok(opened) => signed_in(&opened, &config),
        Err(e) if matches!(e.status(), 401 | 403) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            html(status, pages::sign_in(Some(e.detail())))
        }
        Err(e) => error_page(&e, false),
    }
}

/// `GET /admin/link`: the page a console link opens.
async fn link_page() -> HttpResponse {
    html(StatusCode::OK, pages::link(None))
}

/// The console link form.
#[derive(Debug, Deserialize)]
struct LinkForm {
    secret: String,
}

/// `POST /admin/link` with the link's secret.
async fn redeem_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LinkForm>,
) -> HttpResponse {
    let config = config(&req);
    if form.secret.trim().is_empty() {
        return html(
            StatusCode::BAD_REQUEST,
            pages::link(Some(
                "this page needs the whole link, including the part after '#'; open the link \
                 exactly as `roster console-link` printed it",
            )),
        );
    }
    match console::redeem_link(&state.store, config.policy, &form.secret).await {
        Ok(opened) => signed_in(&opened, &config),
        Err(e) if e.status() == 401 => {
            html(StatusCode::UNAUTHORIZED, pages::link(Some(e.detail())))
        }
        Err(e) => error_page(&e, false),
    }
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /admin/sign-out`.
async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let config = config(&req);
    let session = match session(&req, &state).await {
        Ok(session) => session,
        Err(refusal) => return page_refusal(&req, refusal),
    };
    if let Err(refusal) = check_csrf(&req, &state, &session, form.csrf.as_deref()) {
        return page_refusal(&req, refusal);
    }
    if let Some(id) = cookie_session_id(&req) {
        console::sign_out(&state.store, &id).await;
    }
    let mut response = html(StatusCode::OK, pages::sign_in(Some("You are signed out.")));
    if let Ok(v) = HeaderValue::from_str(&clear_cookie(&config)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// Query of Manage users.
#[derive(Debug, Default, Deserialize)]
struct UsersQuery {
    q: Option<String>,
    status: Option<String>,
    after: Option<String>,
}

/// `GET /admin/users?q=&status=&after=`: Manage users.
async fn users_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<UsersQuery>,
) -> HttpResponse {
    match render_users(&req, &state, query.into_inner()).await {
        Ok(response) => response,
        Err(refusal) => page_refusal(&req, refusal),
    }
}

async fn render_users(
    req: &HttpRequest,
    state: &AppState,
    query: UsersQuery,
) -> Result<HttpResponse, Refusal> {
    let session = session(req, state).await?;
    let q = query.q.unwrap_or_default();
    check_text("q", &q, MAX_QUERY_CHARS, Lines::Refused)?;
    let status = query.status.unwrap_or_default();
    let active = match status.as_str() {
        "" => None,
        "active" => Some(true),
        "deactivated" => Some(false),
        _ => {
            return Err(Refusal::Failed(ScimError::bad_request(
                "status must be empty, 'active' or 'deactivated'",
            )));
        }
    };
    let after = match query.after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(UserId::parse(a).ok_or_else(|| {
            Refusal::Failed(ScimError::bad_request(
                "the page link is not one the console made; start from the first page",
            ))
        })?),
    };
    let paged = after.is_some();
    let search = Search {
        active,
        held: None,
        text: (!q.is_empty()).then(|| q.clone()),
        after,
        limit: PAGE_SIZE + 1,
    };
    let org = &session.principal.org;
    let mut rows = users::search(&state.store, org, search).await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(usize::try_from(PAGE_SIZE).unwrap_or_default());
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut events = console::last_changes(&state.store, org, ids).await?;
    let users: Vec<_> = rows
        .into_iter()
        .map(|row| {
            let event = events
                .iter()
                .position(|e| e.target_id == row.id)
                .map(|i| events.swap_remove(i));
            (row, event)
        })
        .collect();
    let next = users.last().filter(|_| more).map(|(row, _)| {
        format!(
            "/admin/users?{}",
            pages::query(&[("q", &q), ("status", &status), ("after", &row.id)])
        )
    });
    let view = pages::UsersView {
        users: &users,
        q: &q,
        status: &status,
        next,
        paged,
    };
    Ok(page(
        &session,
        pages::Nav::Users,
        "Manage users",
        pages::users(&view),
    ))
}

fn page(session: &Session, nav: pages::Nav, title: &str, body: Markup) -> HttpResponse {
    let admin = session
        .principal
        .subject
        .as_ref()
        .map_or(session.principal.token_id.as_str(), UserId::as_str);
    let chrome = pages::Chrome {
        org: session.principal.org.as_str(),
        admin,
        csrf: &session.csrf_token,
    };
    html(StatusCode::OK, pages::layout(&chrome, nav, title, body))
}

/// `GET /admin/users/{id}`: a user's page.
async fn user_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let rendered = async {
        let session = session(&req, &state).await?;
        check_id("id", &id)?;
        let org = &session.principal.org;
        let groups_base = format!("{}/scim/v2", request_origin(&req, &state));
        let (row, groups) = users::read(&state.store, org, &id, Some(groups_base)).await?;
        let history = console::audit_page(
            &state.store,
            org,
            AuditFilter {
                target_id: Some(row.id.clone()),
                actions: LIFECYCLE_ACTIONS.iter().map(|a| (*a).to_owned()).collect(),
                channel: None,
                before: None,
                limit: AUDIT_PAGE_SIZE,
            },
        )
        .await?;
        let title = row.user_name.clone();
        Ok::<_, Refusal>(page(
            &session,
            pages::Nav::Users,
            &title,
            pages::user(&row, &groups, &history),
        ))
    };
    match rendered.await {
        Ok(response) => response,
        Err(refusal) => page_refusal(&req, refusal),
    }
}

/// Body of the console's `POST /admin/users/{id}/deactivate|activate`.
#[derive(Debug, Default, Deserialize)]
struct ActionBody {
    reason: Option<String>,
    /// Deactivation only: put the user on hold.
    hold: Option<bool>,
}

/// A user row after a change, for the script to update the row in place.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RowUpdate {
    id: String,
    user_name: String,
    active: bool,
    status: &'static str,
    last_change: String,
}

/// The answer of a console change: the rows and a notice to show.
#[derive(Debug, Serialize)]
struct ChangeAnswer {
    notice: String,
    users: Vec<RowUpdate>,
    /// Users whose change failed, with why.
    failures: Vec<Failure>,
}

#[derive(Debug, Serialize)]
struct Failure {
    id: String,
    message: String,
}

fn parse_action(action: &str) -> Result<bool, Refusal> {
    match action {
        "deactivate" => Ok(false),
        "activate" => Ok(true),
        _ => Err(Refusal::Failed(ScimError::not_found(format!(
            "no console action '{action}'; use deactivate or activate"
        )))),
    }
}

/// `POST /admin/users/{id}/deactivate|activate` (JSON, `X-CSRF-Token`): one user's change.
async fn user_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: Option<web::Json<ActionBody>>,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    let body = body.map(|b| b.into_inner()).unwrap_or_default();
    let hold = body.hold.unwrap_or(false);
    match change(&req, &state, vec![id], &action, body.reason, hold, false).await {
        Ok(answer) => answer,
        Err(refusal) => json_refusal(refusal),
    }
}

/// Body of `POST /admin/users/bulk`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    action: String,
    ids: Vec<String>,
    reason: Option<String>,
    hold: Option<bool>,
}

/// `POST /admin/users/bulk` (JSON, `X-CSRF-Token`): "Deactivate selected" / "Activate
/// selected"; each user its own change and audit event.
async fn bulk_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<BulkBody>,
) -> HttpResponse {
    let BulkBody {
        action,
        ids,
        reason,
        hold,
    } = body.into_inner();
    let hold = hold.unwrap_or(false);
    match change(&req, &state, ids, &action, reason, hold, true).await {
        Ok(answer) => answer,
        Err(refusal) => json_refusal(refusal),
    }
}

async fn change(
    req: &HttpRequest,
    state: &AppState,
    ids: Vec<String>,
    action: &str,
    reason: Option<String>,
    hold: bool,
    bulk: bool,
) -> Result<HttpResponse, Refusal> {
    let session = session(req, state).await?;
    check_csrf(req, state, &session, None)?;
    let active = parse_action(action)?;
    for id in &ids {
        check_id("ids", id)?;
    }
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(reason) = &reason {
        check_text("reason", reason, MAX_REASON_CHARS, Lines::Allowed)?;
    }
    let actor = session.actor();
    let outcomes = bulk_lifecycle::set_active_many(
        &state.store,
        &actor,
        &ids,
        active,
        reason,
        hold && !active,
    )
    .await?;
    if !bulk && let Some((_, Outcome::Failed(e))) = outcomes.first() {
        return Err(Refusal::Failed(e.clone()));
    }
    let org = &session.principal.org;
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut changed = 0usize;
    for (id, outcome) in outcomes {
        match outcome {
            Outcome::Changed(row) => {
                changed += 1;
                rows.push(row);
            }
            Outcome::Unchanged(row) => rows.push(row),
            Outcome::Failed(e) => failures.push(Failure {
                id,
                message: e.detail().to_owned(),
            }),
        }
    }
    let mut events = console::last_changes(
        &state.store,
        org,
        rows.iter().map(|r| r.id.clone()).collect(),
    )
    .await?;
    let users: Vec<RowUpdate> = rows
        .iter()
        .map(|row| {
            let event = events
                .iter()
                .position(|e| e.target_id == row.id)
                .map(|i| events.swap_remove(i));
            RowUpdate {
                id: row.id.clone(),
                user_name: row.user_name.clone(),
                active: row.active,
                status: pages::status_label(row.active),
                last_change: pages::last_change(row, event.as_ref()),
            }
        })
        .collect();
    let verb = if active { "Activated" } else { "Deactivated" };
    let notice = match (bulk, users.first()) {
        (false, Some(user)) if changed == 1 => format!("{verb} {}.", user.user_name),
        (false, Some(user)) => format!(
            "{} was already {}; nothing changed.",
            user.user_name,
            pages::status_label(active).to_lowercase()
        ),
        _ => {
            let mut notice = format!(
                "{verb} {changed} user{}.",
                if changed == 1 { "" } else { "s" }
            );
            let unchanged = users.len() - changed;
            if unchanged > 0 {
                notice.push_str(&format!(" {unchanged} already had that status."));
            }
            if !failures.is_empty() {
                notice.push_str(&format!(" {} could not be changed.", failures.len()));
            }
            notice
        }
    };
    Ok(HttpResponse::Ok().json(ChangeAnswer {
        notice,
        users,
        failures,
    }))
}

/// Query of the Audit log.
#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    user: Option<String>,
    action: Option<String>,
    channel: Option<String>,
    before: Option<String>,
}

/// `GET /admin/audit?user=&action=&channel=&before=`: the Audit log, newest first.
async fn audit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> HttpResponse {
    let query = query.into_inner();
    let rendered = async {
        let session = session(&req, &state).await?;
        let user = query.user.unwrap_or_default().trim().to_owned();
        check_id("user", &user)?;
        let action = query.action.unwrap_or_default();
        if !action.is_empty() && !pages::ACTIONS.contains(&action.as_str()) {
            return Err(Refusal::Failed(ScimError::bad_request(format!(
                "action must be one of {}",
                pages::ACTIONS.join(", ")
            ))));
        }
        let channel = query.channel.unwrap_or_default();
        if !channel.is_empty() && !pages::CHANNELS.contains(&channel.as_str()) {
            return Err(Refusal::Failed(ScimError::bad_request(
                "channel must be scim, admin or cli",
            )));
        }
        let before = match query.before.as_deref().filter(|b| !b.is_empty()) {
            None => None,
            Some(b) => Some(b.parse::<i64>().map_err(|_| {
                Refusal::Failed(ScimError::bad_request(
                    "the page link is not one the console made; start from the newest events",
                ))
            })?),
        };
        let mut events = console::audit_page(
            &state.store,
            &session.principal.org,
            AuditFilter {
                target_id: (!user.is_empty()).then(|| user.clone()),
                actions: if action.is_empty() {
                    Vec::new()
                } else {
                    vec![action.clone()]
                },
                channel: (!channel.is_empty()).then(|| channel.clone()),
                before,
                limit: AUDIT_PAGE_SIZE + 1,
            },
        )
        .await?;
        let more = events.len() as i64 > AUDIT_PAGE_SIZE;
        events.truncate(usize::try_from(AUDIT_PAGE_SIZE).unwrap_or_default());
        let next = events.last().filter(|_| more).map(|e| {
            format!(
                "/admin/audit?{}",
                pages::query(&[
                    ("user", &user),
                    ("action", &action),
                    ("channel", &channel),
                    ("before", &e.id.to_string())
                ])
            )
        });
        let view = pages::AuditView {
            events: &events,
            user: &user,
            action: &action,
            channel: &channel,
            next,
            paged: before.is_some(),
        };
        Ok::<_, Refusal>(page(
            &session,
            pages::Nav::Audit,
            "Audit log",
            pages::audit(&view),
        ))
    };
    match rendered.await {
        Ok(response) => response,
        Err(refusal) => page_refusal(&req, refusal),
    }
}

/// `GET /admin/events`: the org's event subscriptions.
async fn events_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let rendered = async {
        let session = session(&req, &state).await?;
        let list = subscriptions::list(&state.store, &session.principal.org).await?;
        Ok::<_, Refusal>(page(
            &session,
            pages::Nav::Events,
            "Event subscriptions",
            pages::events(&list),
        ))
    };
    match rendered.await {
        Ok(response) => response,
        Err(refusal) => page_refusal(&req, refusal),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// `GET /admin/assets/console.css`.
async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// `GET /admin/assets/console.js`.
async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    error_page(
        &ScimError::not_found(format!("the console has no page {}", req.path())),
        false,
    )
}
