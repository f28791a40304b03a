//! The console's Connectors page (`/admin/connectors`, docs/console.md): the SCIM base URL to
//! give an identity provider, the org's tokens (create, shown once; rotate with an overlap;
//! revoke), its rate limit, and the SCIM request log. The same use cases as `/admin/v1/tokens`,
//! `/admin/v1/rate-limit` and `/admin/v1/scim-requests`, audited with the channel `admin` and
//! the signed-in admin as actor. Changes are JSON `POST`s with the `X-CSRF-Token` header, made
//! by `assets/connectors.js`; a new token is only ever in the answer of the `POST` that mints
//! it, never in a page.

use std::future::Future;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::connectors_html::{self as view, ConnectorsView};
use super::pages::{self, query, when};
use super::session::{Refusal, check_csrf, json_refusal, page_refusal, session};
use crate::auth::Role;
use crate::clock;
use crate::http::AppState;
use crate::http::admin::{Lines, MAX_QUERY_CHARS, check_id, check_text};
use crate::provisioning::console::Session;
use crate::provisioning::rate_limits::Limit;
use crate::provisioning::request_log::{self, Filter};
use crate::provisioning::tokens::{self, TokenRequest};
use crate::scim::ScimError;

/// Request log records per page of the Connectors page.
pub const REQUESTS_PAGE_SIZE: i64 = 50;

/// The script of the Connectors page.
const SCRIPT: &str = include_str!("assets/connectors.js");

/// Registers the Connectors page, relative to `/admin`.
pub fn routes(scope: actix_web::Scope) -> actix_web::Scope {
    scope
        .route("/connectors", web::get().to(connectors_page))
        .route("/connectors/tokens", web::post().to(create_token))
        .route(
            "/connectors/tokens/{jti}/rotate",
            web::post().to(rotate_token),
        )
        .route(
            "/connectors/tokens/{jti}/revoke",
            web::post().to(revoke_token),
        )
        .route("/connectors/rate-limit", web::post().to(set_rate_limit))
        .route("/assets/connectors.js", web::get().to(script))
}

/// Query of the Connectors page.
#[derive(Debug, Default, Deserialize)]
struct ConnectorsQuery {
    /// `1`: only failed requests in the request log.
    failures: Option<String>,
    /// The request log's page cursor: records older than this id.
    before: Option<String>,
}

/// `GET /admin/connectors?failures=1&before=`: the Connectors page.
async fn connectors_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ConnectorsQuery>,
) -> HttpResponse {
    match render(&req, &state, query.into_inner()).await {
        Ok(response) => response,
        Err(refusal) => page_refusal(&req, refusal),
    }
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    params: ConnectorsQuery,
) -> Result<HttpResponse, Refusal> {
    let session = session(req, state).await?;
    let failures_only = match params.failures.as_deref() {
        None | Some("") => false,
        Some("1") => true,
        Some(_) => {
            return Err(Refusal::Failed(ScimError::bad_request(
                "failures must be empty or 1",
            )));
        }
    };
    let before = match params.before.as_deref().filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => Some(b.parse::<i64>().map_err(|_| {
            Refusal::Failed(ScimError::bad_request(
                "the page link is not one the console made; start from the newest requests",
            ))
        })?),
    };
    let org = &session.principal.org;
    let token_list = tokens::list(&state.store, org).await?;
    let limit = state.connectors.rate_limits.get(&state.store, org).await?;
    let mut requests = request_log::list(
        &state.store,
        org,
        Filter {
            failures_only,
            before_id: before,
            newest_first: true,
            limit: REQUESTS_PAGE_SIZE + 1,
            ..Filter::default()
        },
    )
    .await?;
    let more = requests.len() as i64 > REQUESTS_PAGE_SIZE;
    requests.truncate(usize::try_from(REQUESTS_PAGE_SIZE).unwrap_or_default());
    let filter = if failures_only { "1" } else { "" };
    let next = requests.last().filter(|_| more).map(|r| {
        format!(
            "/admin/connectors?{}#requests",
            query(&[("failures", filter), ("before", &r.id.to_string())])
        )
    });
    let base_url = crate::http::scim::base_url(state, req);
    let overlap = humantime::format_duration(state.connectors.rotation_overlap).to_string();
    let body = view::connectors(&ConnectorsView {
        base_url: &base_url,
        tokens: &token_list,
        now: clock::now(),
        can_mint: state.connectors.signer.is_some(),
        default_overlap: &overlap,
        limit: &limit,
        requests: &requests,
        log_enabled: state.connectors.request_log.enabled(),
        failures_only,
        next,
        paged: before.is_some(),
    });
    Ok(super::page(
        &session,
        pages::Nav::Connectors,
        "Connectors",
        body,
    ))
}

/// The answer of a change on the Connectors page.
#[derive(Debug, Default, Serialize)]
struct Answer {
    /// What happened, for the page's notice.
    notice: String,
    /// A token just minted: in this answer only, never in a page.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
}

/// A change of the Connectors page: the session, its CSRF token, then `change`; a JSON answer,
/// or the admin API's error body.
async fn changing<F, Fut>(req: &HttpRequest, state: &AppState, change: F) -> HttpResponse
where
    F: FnOnce(Session) -> Fut,
    Fut: Future<Output = Result<Answer, Refusal>>,
{
    let done = async {
        let session = session(req, state).await?;
        check_csrf(req, state, &session, None)?;
        change(session).await
    };
    match done.await {
        Ok(answer) => HttpResponse::Ok().json(answer),
        Err(refusal) => json_refusal(refusal),
    }
}

/// A lifetime or overlap as typed: `90d`, `12h` (humantime); empty: `None`.
fn duration(field: &str, value: &str) -> Result<Option<Duration>, Refusal> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    check_text(field, value, 32, Lines::Refused)?;
    humantime::parse_duration(value).map(Some).map_err(|e| {
        Refusal::Failed(ScimError::invalid_value(format!(
            "{field} is not a duration such as 90d or 12h: {e}"
        )))
    })
}

fn signer(state: &AppState) -> Result<&std::sync::Arc<crate::auth::Signer>, Refusal> {
    state.connectors.signer.as_ref().ok_or_else(|| {
        Refusal::Failed(ScimError::conflict(
            "this server verifies tokens issued elsewhere and mints none; set ROSTER_JWT_SECRET \
             to create tokens",
        ))
    })
}

/// Body of `POST /admin/connectors/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    role: String,
    /// Empty or absent: the token does not expire.
    ttl: Option<String>,
}

/// `POST /admin/connectors/tokens` (JSON): mints a token; the answer carries it, once.
async fn create_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<CreateBody>,
) -> HttpResponse {
    let CreateBody { name, role, ttl } = body.into_inner();
    let state: &AppState = &state;
    changing(&req, state, |session| async move {
        let role: Role = role.parse().map_err(|_| {
            Refusal::Failed(ScimError::invalid_value(
                "role must be provisioner or admin",
            ))
        })?;
        let name = name.trim().to_owned();
        let ttl = duration("Lifetime", ttl.as_deref().unwrap_or_default())?;
        let minted = tokens::create(
            &state.store,
            signer(state)?,
            &session.actor(),
            TokenRequest {
                name,
                role,
                subject: None,
                ttl,
            },
        )
        .await?;
        let expiry = minted.view.expires_at.map_or_else(
            || "It does not expire.".to_owned(),
            |at| format!("It expires {}.", when(at.naive_utc())),
        );
        Ok(Answer {
            notice: format!(
                "Created the {} token {}. {expiry} Copy it now: it is shown only this once.",
                minted.view.role, minted.view.name
            ),
            jti: Some(minted.view.jti),
            token: Some(minted.token),
        })
    })
    .await
}

/// Body of `POST /admin/connectors/tokens/{jti}/rotate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    /// Empty or absent: the server's default overlap.
    overlap: Option<String>,
}

/// `POST /admin/connectors/tokens/{jti}/rotate` (JSON): a replacement, shown once; the old
/// token keeps working for the overlap.
async fn rotate_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    jti: web::Path<String>,
    body: Option<web::Json<RotateBody>>,
) -> HttpResponse {
    let jti = jti.into_inner();
    let overlap = body.and_then(|b| b.into_inner().overlap);
    let state: &AppState = &state;
    changing(&req, state, |session| async move {
        check_id("jti", &jti)?;
        let overlap = duration("Overlap", overlap.as_deref().unwrap_or_default())?
            .unwrap_or(state.connectors.rotation_overlap);
        let rotated = tokens::rotate(
            &state.store,
            signer(state)?,
            &session.actor(),
            &jti,
            overlap,
        )
        .await?;
        let until = rotated
            .old
            .revoked_at
            .map_or_else(String::new, |at| format!(" until {}", when(at.naive_utc())));
        Ok(Answer {
            notice: format!(
                "Rotated {}. The old token keeps working for {}{until}; put the new one in your \
                 identity provider before then. Copy it now: it is shown only this once.",
                rotated.new.view.name,
                humantime::format_duration(overlap),
            ),
            jti: Some(rotated.new.view.jti),
            token: Some(rotated.new.token),
        })
    })
    .await
}

/// `POST /admin/connectors/tokens/{jti}/revoke` (`X-CSRF-Token`): the token, refused from the
/// next request on, on every node.
async fn revoke_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    jti: web::Path<String>,
) -> HttpResponse {
    let jti = jti.into_inner();
    let state: &AppState = &state;
    changing(&req, state, |session| async move {
        check_id("jti", &jti)?;
        let revoked = tokens::revoke(&state.store, &session.actor(), &jti).await?;
        Ok(Answer {
            notice: format!(
                "Revoked {}: requests with it are refused from now on.",
                revoked.name
            ),
            ..Answer::default()
        })
    })
    .await
}

/// Body of `POST /admin/connectors/rate-limit`: the form's fields as typed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RateLimitBody {
    per_second: String,
    burst: String,
}

fn whole(field: &str, value: &str) -> Result<i64, Refusal> {
    let value = value.trim();
    check_text(field, value, MAX_QUERY_CHARS, Lines::Refused)?;
    value.parse::<i64>().map_err(|_| {
        Refusal::Failed(ScimError::invalid_value(format!(
            "{field} must be a whole number"
        )))
    })
}

/// `POST /admin/connectors/rate-limit` (JSON): the org's own rate limit.
async fn set_rate_limit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RateLimitBody>,
) -> HttpResponse {
    let RateLimitBody { per_second, burst } = body.into_inner();
    let state: &AppState = &state;
    changing(&req, state, |session| async move {
        let limit = Limit::checked(
            whole("Requests per second", &per_second)?,
            whole("Burst", &burst)?,
        )
        .map_err(|e| {
            Refusal::Failed(ScimError::invalid_value(
                e.detail()
                    .replace("'perSecond'", "Requests per second")
                    .replace("'burst'", "Burst"),
            ))
        })?;
        state
            .connectors
            .rate_limits
            .set(&state.store, &session.actor(), limit)
            .await?;
        Ok(Answer {
            notice: format!(
                "The rate limit is now {} requests per second, bursts of {}.",
                limit.per_second, limit.burst
            ),
            ..Answer::default()
        })
    })
    .await
}

/// `GET /admin/assets/connectors.js`.
async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache"))
        .body(SCRIPT)
}
