//! Per-org rate limits on the SCIM API (docs/limits.md, "Rate limits"): a token bucket per
//! organization and node (the `governor` crate's GCRA, which is a token bucket kept in one
//! atomic), of the configured default size (`ROSTER_RATE_LIMIT_PER_SECOND`,
//! `ROSTER_RATE_LIMIT_BURST`) or the organization's own (`PUT /admin/v1/rate-limit`, stored, and
//! read again by every node every `ROSTER_RATE_LIMIT_REFRESH`). A request over the limit is
//! 429 with `Retry-After`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::Actor;
use crate::clock;
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::store::audit::{self, NewEvent};
use crate::store::{Store, rate_limits, write_tx};

/// The largest `perSecond` an organization may be given.
pub const MAX_PER_SECOND: u32 = 100_000;
/// The largest `burst` an organization may be given.
pub const MAX_BURST: u32 = 1_000_000;

/// A bucket's size: requests per second, and how many may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Limit {
    /// A limit, or `None` when `per_second` or `burst` is 0 (no limit).
    pub fn new(per_second: u32, burst: u32) -> Option<Limit> {
        Some(Limit {
            per_second: NonZeroU32::new(per_second)?,
            burst: NonZeroU32::new(burst)?,
        })
    }

    /// Checks what an admin asks for: each at least 1 and at most [`MAX_PER_SECOND`] /
    /// [`MAX_BURST`].
    pub fn checked(per_second: i64, burst: i64) -> Result<Limit, ScimError> {
        let per_second = u32::try_from(per_second)
            .ok()
            .filter(|n| (1..=MAX_PER_SECOND).contains(n))
            .ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "'perSecond' must be between 1 and {MAX_PER_SECOND}"
                ))
            })?;
        let burst = u32::try_from(burst)
            .ok()
            .filter(|n| (1..=MAX_BURST).contains(n))
            .ok_or_else(|| {
                ScimError::invalid_value(format!("'burst' must be between 1 and {MAX_BURST}"))
            })?;
        Limit::new(per_second, burst).ok_or_else(|| ScimError::invalid_value("zero limit"))
    }
}

/// One organization's bucket, and the limit it was made for.
struct Bucket {
    limit: Limit,
    limiter: DefaultDirectRateLimiter,
}

#[derive(Default)]
struct State {
    /// The organizations' own limits, as last read (or set on this node).
    overrides: HashMap<String, Limit>,
    /// Grows with the organizations that have made requests; orgs are few and never deleted.
    buckets: HashMap<String, Arc<Bucket>>,
}

/// The rate limits of one node.
pub struct RateLimits {
    default: Option<Limit>,
    state: Mutex<State>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

/// An organization's limit as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgLimit {
    /// `None`: no limit (the default is 0).
    pub limit: Option<Limit>,
    /// Whether it is the organization's own (else the configured default).
    pub own: bool,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_by: Option<String>,
}

impl RateLimits {
    /// Limits whose default is `default` (`None`: no limit unless an org sets its own).
    pub fn new(default: Option<Limit>) -> RateLimits {
        RateLimits {
            default,
            state: Mutex::new(State::default()),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from `org`'s bucket, or refuses it with 429 and the seconds after
    /// which one will be there again.
    pub fn check(&self, org: &OrgId) -> Result<(), ScimError> {
        let bucket = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(limit) = state.overrides.get(org.as_str()).copied().or(self.default) else {
                return Ok(());
            };
            match state.buckets.get(org.as_str()) {
                Some(bucket) if bucket.limit == limit => Arc::clone(bucket),
                _ => {
                    let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
                    let bucket = Arc::new(Bucket {
                        limit,
                        limiter: RateLimiter::direct(quota),
                    });
                    state
                        .buckets
                        .insert(org.as_str().to_owned(), Arc::clone(&bucket));
                    bucket
                }
            }
        };
        bucket.limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Whole seconds, rounded up: a client that waits that long finds a request's room.
            let secs = u32::try_from(wait.as_millis().div_ceil(1000))
                .unwrap_or(u32::MAX)
                .max(1);
            ScimError::too_many_requests(
                format!(
                    "this organization is over its rate limit of {} requests per second \
                     (bursts of {}); retry after {secs} s",
                    bucket.limit.per_second, bucket.limit.burst
                ),
                secs,
            )
        })
    }

    /// Replaces every organization's own limit by `overrides` (as read from the database).
    fn set_overrides(&self, overrides: HashMap<String, Limit>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.overrides = overrides;
    }

    /// Sets `org`'s own limit on this node at once (other nodes read it within the refresh).
    fn set_override(&self, org: &OrgId, limit: Limit) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.overrides.insert(org.as_str().to_owned(), limit);
    }

    /// Reads every organization's own limit from the database.
    pub async fn refresh(&self, store: &Store) -> Result<(), ScimError> {
        let rows = store
            .run(|conn| Ok::<_, ScimError>(rate_limits::all(conn)?))
            .await?;
        let overrides = rows
            .into_iter()
            .filter_map(|row| {
                let limit = Limit::new(
                    u32::try_from(row.per_second).ok()?,
                    u32::try_from(row.burst).ok()?,
                )?;
                Some((row.org_id, limit))
            })
            .collect();
        self.set_overrides(overrides);
        Ok(())
    }

    /// `org`'s limit: its own when it has one, else the default.
    pub async fn get(&self, store: &Store, org: &OrgId) -> Result<OrgLimit, ScimError> {
        let org = org.clone();
        let row = store
            .run_indexed(move |conn| Ok::<_, ScimError>(rate_limits::find(conn, &org)?))
            .await?;
        Ok(match row {
            Some(row) => OrgLimit {
                limit: Limit::new(
                    u32::try_from(row.per_second).unwrap_or(0),
                    u32::try_from(row.burst).unwrap_or(0),
                ),
                own: true,
                updated_at: Some(row.updated_at.and_utc()),
                updated_by: Some(row.updated_by),
            },
            None => OrgLimit {
                limit: self.default,
                own: false,
                updated_at: None,
                updated_by: None,
            },
        })
    }

    /// Sets `actor`'s organization's own limit, audited (`org.rate_limit`); in force on this
    /// node at once, on the others within `ROSTER_RATE_LIMIT_REFRESH`.
    pub async fn set(&self, store: &Store, actor: &Actor, limit: Limit) -> Result<(), ScimError> {
        let now = clock::now();
        let writer = actor.clone();
        store
            .run_write(move |conn| {
                write_tx(conn, |conn| {
                    let per_second = i32::try_from(limit.per_second.get()).unwrap_or(i32::MAX);
                    let burst = i32::try_from(limit.burst.get()).unwrap_or(i32::MAX);
                    rate_limits::upsert(
                        conn,
                        &writer.org,
                        per_second,
                        burst,
                        now.naive_utc(),
                        &writer.id,
                    )?;
                    audit::append(
                        conn,
                        &NewEvent {
                            org: &writer.org,
                            occurred_at: now,
                            actor: &writer.id,
                            channel: writer.channel.as_str(),
                            action: "org.rate_limit",
                            target_type: "org",
                            target_id: writer.org.as_str(),
                            attributes: vec!["perSecond".to_owned(), "burst".to_owned()],
                            detail: Some(serde_json::json!({
                                "perSecond": per_second,
                                "burst": burst,
                            })),
                        },
                    )?;
                    Ok::<_, ScimError>(())
                })
            })
            .await?;
        self.set_override(&actor.org, limit);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_limit_is_refused_with_a_wait_and_other_orgs_are_not() {
        let limits = RateLimits::new(Limit::new(1, 3));
        let a = OrgId::parse("a").unwrap();
        let b = OrgId::parse("b").unwrap();
        for _ in 0..3 {
            limits.check(&a).unwrap();
        }
        let refused = limits.check(&a).unwrap_err();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.retry_after(), Some(1));
        limits.check(&b).unwrap();
        // An org's own limit replaces the default.
        limits.set_override(&b, Limit::new(1, 1).unwrap());
        assert!(limits.check(&b).is_ok());
        assert!(limits.check(&b).is_err());
    }

    #[test]
    fn no_default_means_no_limit() {
        let limits = RateLimits::new(None);
        let a = OrgId::parse("a").unwrap();
        for _ in 0..10_000 {
            limits.check(&a).unwrap();
        }
    }

    #[test]
    fn admins_limits_are_bounded() {
        assert!(Limit::checked(0, 1).is_err());
        assert!(Limit::checked(1, 0).is_err());
        assert!(Limit::checked(i64::from(MAX_PER_SECOND) + 1, 1).is_err());
        assert_eq!(Limit::checked(5, 10).unwrap(), Limit::new(5, 10).unwrap());
    }
}
