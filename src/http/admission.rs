//! Per-organization admission of SCIM requests (docs/limits.md, "Sharing the server between
//! organizations").
//!
//! A middleware on `/scim/v2`, so it runs before any extractor: the handlers' extractors run
//! together (actix polls a handler's arguments at once), so a body extractor would start reading
//! and parsing a body while `Authenticated` is still waiting for the database. Here the
//! organization is taken from the verified bearer token alone (its signature and time window,
//! remembered per token by the verifier: no database trip); the request is refused (429) if its
//! organization is over its rate limit ([`super::rate_limit`]), else it waits for a share of its
//! organization's in-flight allowance ([`Limits::org_requests`]); only once admitted is it
//! handed to its handler, which reads the body, authorizes against the database and does the
//! work. A request that is not admitted within [`Limits::wait`] is answered 503 with
//! `Retry-After` and a SCIM error body, its body never read.
//!
//! Weighted by size: a request counts one, plus one for every [`WEIGHT_BYTES`] of the body it
//! declares (`Content-Length`); a body of unannounced length (chunked) counts as the largest
//! body the server accepts. So an organization's allowance bounds the bytes it has being read
//! and parsed at once, not only its request count; a request never weighs more than the whole
//! allowance, so each can be admitted alone.
//!
//! The allowance is per organization and per process: one organization's requests wait for
//! each other, never for another organization's. A request whose token does not verify is passed
//! on unweighed: its handler refuses it (401) before doing any work for it.
//!
//! Admitted requests run as their organization's ([`crate::provisioning::fairness::serve_for`]), so
//! the shared queues behind them (the SQLite writer, the compute pool) serve organizations in
//! turns, and the time their work holds the database, the writer and the compute pool is
//! charged to the organization's rate limit once it has all ended (docs/limits.md, "Rate
//! limits").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::extract::bearer_token;
use super::{AppState, rate_limit};
use crate::auth::Principal;
use crate::clock;
use crate::ids::OrgId;
use crate::provisioning::fairness;
use crate::scim::ScimError;

/// A request weighs one more for every this many bytes of its declared body.
pub const WEIGHT_BYTES: u64 = 64 * 1024;

/// How much one organization may have in flight, and how long a request waits for its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The weight of the requests one organization may have in flight at once
    /// (`ROSTER_ORG_REQUESTS`).
    pub org_requests: u32,
    /// How long a request waits to be admitted before 503 (`ROSTER_ORG_REQUEST_WAIT`).
    pub wait: Duration,
    /// The largest body any endpoint accepts: what a body of unannounced length weighs.
    pub largest_body: u64,
}

/// The organizations' allowances; one per process, shared by the HTTP workers.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    orgs: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// An admitted request's share of its organization's allowance, given back on drop.
#[derive(Debug)]
pub struct Ticket(#[allow(dead_code)] OwnedSemaphorePermit);

impl Admission {
    /// Allowances of `limits`.
    pub fn new(limits: Limits) -> Admission {
        Admission {
            limits,
            orgs: Mutex::new(HashMap::new()),
        }
    }

    /// What a request with these headers weighs: 1 plus one per [`WEIGHT_BYTES`] of its declared
    /// body (a chunked body: the largest accepted), at most the whole allowance.
    pub fn weight(&self, headers: &HeaderMap) -> u32 {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = match declared {
            Some(bytes) => bytes,
            None if headers.contains_key(header::TRANSFER_ENCODING) => self.limits.largest_body,
            None => 0,
        };
        let weight = 1 + bytes / WEIGHT_BYTES;
        u32::try_from(weight)
            .unwrap_or(u32::MAX)
            .min(self.limits.org_requests.max(1))
    }

    /// Admits a request of `org` weighing `weight`, waiting up to [`Limits::wait`] behind the
    /// organization's other requests (first come, first served within the organization); a 503
    /// with `Retry-After` when the wait runs out.
    pub async fn enter(&self, org: &str, weight: u32) -> Result<Ticket, ScimError> {
        let allowance = {
            let mut orgs = self.orgs.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(orgs.entry(org.to_owned()).or_insert_with(|| {
                Arc::new(Semaphore::new(
                    usize::try_from(self.limits.org_requests.max(1)).unwrap_or(usize::MAX),
                ))
            }))
        };
        let weight = weight.clamp(1, self.limits.org_requests.max(1));
        if let Ok(permit) = Arc::clone(&allowance).try_acquire_many_owned(weight) {
            return Ok(Ticket(permit));
        }
        let waited =
            actix_web::rt::time::timeout(self.limits.wait, allowance.acquire_many_owned(weight))
                .await;
        match waited {
            Ok(Ok(permit)) => Ok(Ticket(permit)),
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(org, weight, "an organization's requests are all in flight");
                Err(ScimError::overloaded(
                    format!(
                        "this organization has {} requests' worth in flight on this server \
                         (ROSTER_ORG_REQUESTS; a request counts one more per {} KiB of body) and \
                         this one waited {} ms without its turn: retry later, or send fewer \
                         requests at once",
                        self.limits.org_requests,
                        WEIGHT_BYTES / 1024,
                        self.limits.wait.as_millis()
                    ),
                    retry_after_secs(self.limits.wait),
                ))
            }
        }
    }
}

/// The `Retry-After` of a refusal: the wait, rounded up to whole seconds, at least one.
fn retry_after_secs(wait: Duration) -> u32 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}

/// The organization of the request's bearer token, when it verifies (signature, issuer,
/// audience, time window); no database trip.
fn organization(req: &HttpRequest) -> Option<OrgId> {
    let state = req.app_data::<web::Data<AppState>>()?;
    let token = bearer_token(req).ok()?;
    let claims = state.verifier.verify(&token, clock::unix_now()).ok()?;
    Some(Principal::from_claims(claims).ok()?.org)
}

/// The middleware (`actix_web::middleware::from_fn`): refuses a request over its organization's
/// rate limit, admits the others within their organization's allowance before their handler
/// runs, runs the handler as that organization's and charges the organization's rate limit for
/// the handler's work.
pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let admission = req.app_data::<web::Data<Admission>>().cloned();
    let org = organization(req.request());
    let (Some(admission), Some(org)) = (admission, org) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // The organization's rate limit, where the scope has one.
    let limits = req
        .app_data::<web::Data<AppState>>()
        .filter(|_| rate_limit::applies(req.request()))
        .cloned();
    // Over its rate limit, refused before anything else: no allowance taken, no body read.
    if let Some(state) = &limits
        && let Err(refused) = rate_limit::check(state, &org)
    {
        return Ok(req.error_response(refused));
    }
    // The request's work is charged to the same limit once it has all ended.
    let charged = org.clone();
    let charge = move |work| {
        if let Some(state) = limits {
            state.connectors.charge(&charged, work);
        }
    };
    let weight = admission.weight(req.headers());
    match admission.enter(org.as_str(), weight).await {
        Ok(ticket) => {
            let response = fairness::serve_for(&org, charge, next.call(req)).await;
            // Held until the handler has answered, even when it failed.
            drop(ticket);
            Ok(response?.map_into_boxed_body())
        }
        Err(refused) => Ok(req.error_response(refused)),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn admission(org_requests: u32) -> Admission {
        Admission::new(Limits {
            org_requests,
            wait: Duration::from_millis(50),
            largest_body: 1024 * 1024,
        })
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    #[test]
    fn weight_grows_with_the_declared_body() {
        let a = admission(32);
        assert_eq!(a.weight(&headers(&[])), 1);
        assert_eq!(a.weight(&headers(&[("content-length", "65535")])), 1);
        assert_eq!(a.weight(&headers(&[("content-length", "65536")])), 2);
        assert_eq!(a.weight(&headers(&[("content-length", "1048576")])), 17);
        assert_eq!(a.weight(&headers(&[("transfer-encoding", "chunked")])), 17);
        // Never more than the whole allowance, so it can always be admitted alone.
        assert_eq!(
            admission(4).weight(&headers(&[("content-length", "1048576")])),
            4
        );
    }

    #[tokio::test]
    async fn an_organization_waits_for_its_own_requests_only() {
        let a = admission(2);
        let first = a.enter("noisy", 1).await.unwrap();
        let _second = a.enter("noisy", 1).await.unwrap();
        let refused = a.enter("noisy", 1).await.unwrap_err();
        assert_eq!(refused.status(), 503);
        assert_eq!(refused.retry_after(), Some(1));
        assert!(a.enter("quiet", 2).await.is_ok());
        drop(first);
        assert!(a.enter("noisy", 1).await.is_ok());
    }

    #[test]
    fn retry_after_rounds_the_wait_up() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
    }
}
