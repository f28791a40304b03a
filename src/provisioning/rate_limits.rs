//! Per-org rate limits on the SCIM API (docs/limits.md, "Rate limits"): a token bucket per
//! organization and node, of the configured default size (`ROSTER_RATE_LIMIT_PER_SECOND`,
//! `ROSTER_RATE_LIMIT_BURST`) or the organization's own (`PUT /admin/v1/rate-limit`, stored, and
//! read again by every node every `ROSTER_RATE_LIMIT_REFRESH`). A request over the limit is
//! 429 with `Retry-After`.
//!
//! The bucket counts work, not only requests: a request takes one when it is admitted, and once
//! it has been answered, one more for every `ROSTER_RATE_LIMIT_WORK` (5 ms) its work occupied
//! the database, the SQLite writer or the compute pool ([`RateLimits::charge`]). That second
//! charge can take the bucket below empty: the organization then owes the time, and its next
//! requests are refused until it has been paid back. So an organization's share of the server is
//! bounded by what its requests cost, whatever their kind: a `/Bulk` of 1,000 creates, a search
//! no index serves or a password hash each pay for the time they took, while a lookup or a
//! create without a password still counts one.
//!
//! The bucket is the generic cell rate algorithm (GCRA): one instant per organization, the time
//! at which its bucket will be full again. The `governor` crate, which roster used before, keeps
//! the same algorithm but cannot charge after the fact beyond what the bucket holds, which is
//! what a request that turned out to be costly needs.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

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
/// The most an organization can owe beyond an empty bucket: however costly its requests were,
/// it is refused for at most this long.
pub const MAX_DEBT: Duration = Duration::from_secs(60);

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

    /// The time one request's room takes to come back.
    fn interval(self) -> Duration {
        Duration::from_secs(1) / self.per_second.get()
    }

    /// The time a whole bucket takes to come back.
    fn capacity(self) -> Duration {
        self.interval() * self.burst.get()
    }
}

/// One organization's bucket, and the limit it was made for.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: Limit,
    /// When the bucket is full again (GCRA's "theoretical arrival time"): at or before now, it
    /// is full; `capacity` after now, empty; beyond that, the organization owes the difference.
    full_at: Instant,
}

impl Bucket {
    /// Takes one request's room at `now`, or says how long until there is one.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let interval = self.limit.interval();
        // Room for one more when, after taking it, the bucket would still not be over empty.
        let latest = now + self.limit.capacity().saturating_sub(interval);
        if self.full_at > latest {
            return Err(self.full_at - latest);
        }
        self.full_at = self.full_at.max(now) + interval;
        Ok(())
    }

    /// Takes `requests` more requests' room at `now`, below empty if need be, but never owing
    /// more than [`MAX_DEBT`].
    fn owe(&mut self, requests: u32, now: Instant) {
        let most = now + self.limit.capacity() + MAX_DEBT;
        let owed = self.limit.interval().saturating_mul(requests);
        self.full_at = (self.full_at.max(now) + owed).min(most);
    }
}

#[derive(Default)]
struct State {
    /// The organizations' own limits, as last read (or set on this node).
    overrides: HashMap<String, Limit>,
    /// Grows with the organizations that have made requests; orgs are few and never deleted.
    buckets: HashMap<String, Bucket>,
    /// Counts the limits set on this node ([`RateLimits::set`]).
    sets: u64,
    /// The organizations whose limit was set on this node, with the count at the time, until a
    /// read of the database that began after it has replaced it.
    set_here: HashMap<String, u64>,
}

impl State {
    /// `org`'s bucket under its limit (its own, else `default`), made full when it is new or its
    /// limit changed; `None` when the organization has no limit.
    fn bucket(&mut self, org: &OrgId, default: Option<Limit>, now: Instant) -> Option<&mut Bucket> {
        let limit = self.overrides.get(org.as_str()).copied().or(default)?;
        let fresh = Bucket {
            limit,
            full_at: now,
        };
        // The org's name is copied only the first time: this runs on every request.
        if !self.buckets.contains_key(org.as_str()) {
            self.buckets.insert(org.as_str().to_owned(), fresh);
        }
        let bucket = self.buckets.get_mut(org.as_str())?;
        if bucket.limit != limit {
            *bucket = fresh;
        }
        Some(bucket)
    }
}

/// The rate limits of one node.
pub struct RateLimits {
    default: Option<Limit>,
    /// A request counts one more for every this much of its work; `None`: requests count one.
    work: Option<Duration>,
    state: Mutex<State>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("default", &self.default)
            .field("work", &self.work)
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
    /// Limits whose default is `default` (`None`: no limit unless an org sets its own), where a
    /// request counts one more for every `work` of its work (zero: every request counts one).
    pub fn new(default: Option<Limit>, work: Duration) -> RateLimits {
        RateLimits {
            default,
            work: (!work.is_zero()).then_some(work),
            state: Mutex::new(State::default()),
        }
    }

    /// Takes one request from `org`'s bucket, or refuses it with 429 and the seconds after
    /// which one will be there again.
    pub fn check(&self, org: &OrgId) -> Result<(), ScimError> {
        self.check_at(org, Instant::now())
    }

    fn check_at(&self, org: &OrgId, now: Instant) -> Result<(), ScimError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(bucket) = state.bucket(org, self.default, now) else {
            return Ok(());
        };
        let limit = bucket.limit;
        bucket.take(now).map_err(|wait| {
            // Whole seconds, rounded up: a client that waits that long finds a request's room.
            let secs = u32::try_from(wait.as_millis().div_ceil(1000))
                .unwrap_or(u32::MAX)
                .max(1);
            ScimError::too_many_requests(
                format!(
                    "this organization is over its rate limit of {} requests per second \
                     (bursts of {}; a request counts one more for each {} ms of database or \
                     compute time it took); retry after {secs} s",
                    limit.per_second,
                    limit.burst,
                    self.work.map_or(0, |work| work.as_millis()),
                ),
                secs,
            )
        })
    }

    /// Charges `org` for a request whose work took `work` (its [`super::fairness::serve_for`]
    /// time): one more request for every `ROSTER_RATE_LIMIT_WORK` of it, taken even below
    /// empty (at most [`MAX_DEBT`]), so that its next requests wait until it is paid back.
    pub fn charge(&self, org: &OrgId, work: Duration) {
        self.charge_at(org, work, Instant::now());
    }

    fn charge_at(&self, org: &OrgId, work: Duration, now: Instant) {
        let Some(unit) = self.work else {
            return;
        };
        let requests = u32::try_from(work.as_nanos() / unit.as_nanos()).unwrap_or(u32::MAX);
        if requests == 0 {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bucket) = state.bucket(org, self.default, now) {
            bucket.owe(requests, now);
        }
    }

    /// Replaces every organization's own limit by `overrides`, as read from the database by a
    /// read that began when [`State::sets`] was `sets_before`: a limit set on this node since
    /// then is newer than the read and stays.
    fn set_overrides(&self, mut overrides: HashMap<String, Limit>, sets_before: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.set_here.retain(|_, set| *set > sets_before);
        for org in state.set_here.keys() {
            if let Some(limit) = state.overrides.get(org) {
                overrides.insert(org.clone(), *limit);
            }
        }
        state.overrides = overrides;
    }

    /// Sets `org`'s own limit on this node at once (other nodes read it within the refresh).
    fn set_override(&self, org: &OrgId, limit: Limit) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.sets += 1;
        let set = state.sets;
        state.set_here.insert(org.as_str().to_owned(), set);
        state.overrides.insert(org.as_str().to_owned(), limit);
    }

    /// Reads every organization's own limit from the database.
    pub async fn refresh(&self, store: &Store) -> Result<(), ScimError> {
        let sets_before = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sets;
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
        self.set_overrides(overrides, sets_before);
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
        let limits = RateLimits::new(Limit::new(1, 3), Duration::from_millis(5));
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
    fn a_request_pays_for_its_work_and_its_organization_waits_until_it_has() {
        // 10 requests a second, bursts of 5: a request's room comes back every 100 ms.
        let limits = RateLimits::new(Limit::new(10, 5), Duration::from_millis(5));
        let a = OrgId::parse("a").unwrap();
        let b = OrgId::parse("b").unwrap();
        let now = Instant::now();
        limits.check_at(&a, now).unwrap();
        // Less than a unit of work costs nothing more.
        limits.charge_at(&a, Duration::from_millis(4), now);
        limits.check_at(&a, now).unwrap();
        // 50 ms of work is ten more requests: far beyond the three left in the bucket.
        limits.charge_at(&a, Duration::from_millis(50), now);
        let refused = limits.check_at(&a, now).unwrap_err();
        assert_eq!(refused.status(), 429);
        // Owed: 2 taken + 10 charged = 12 requests of room, 1.2 s; the bucket holds 5, so the
        // next room comes 1.2 s - 0.4 s = 0.8 s from now.
        assert_eq!(refused.retry_after(), Some(1));
        assert!(
            limits
                .check_at(&a, now + Duration::from_millis(790))
                .is_err()
        );
        limits
            .check_at(&a, now + Duration::from_millis(800))
            .unwrap();
        // Another organization pays nothing for it.
        for _ in 0..5 {
            limits.check_at(&b, now).unwrap();
        }
        // However costly, a request is refused for at most MAX_DEBT beyond an empty bucket.
        limits.charge_at(&a, Duration::from_secs(3600), now);
        let refused = limits.check_at(&a, now).unwrap_err();
        assert_eq!(refused.retry_after(), Some(61));
        limits
            .check_at(&a, now + Duration::from_millis(60_500))
            .unwrap();
    }

    #[test]
    fn work_is_not_charged_when_it_is_turned_off_or_the_organization_has_no_limit() {
        let a = OrgId::parse("a").unwrap();
        let now = Instant::now();
        let off = RateLimits::new(Limit::new(10, 1), Duration::ZERO);
        off.charge_at(&a, Duration::from_secs(10), now);
        off.check_at(&a, now).unwrap();
        let unlimited = RateLimits::new(None, Duration::from_millis(5));
        unlimited.charge_at(&a, Duration::from_secs(10), now);
        unlimited.check_at(&a, now).unwrap();
    }

    #[test]
    fn a_refresh_that_read_before_a_limit_was_set_here_does_not_undo_it() {
        let limits = RateLimits::new(Limit::new(1, 1), Duration::ZERO);
        let a = OrgId::parse("a").unwrap();
        let raised = Limit::new(1000, 1000).unwrap();
        // A refresh reads the database (no row for `a` yet), an admin's raise lands meanwhile.
        let sets_before = limits.state.lock().unwrap().sets;
        limits.set_override(&a, raised);
        limits.set_overrides(HashMap::new(), sets_before);
        for _ in 0..10 {
            limits.check(&a).unwrap();
        }
        // The next refresh began after the raise: the database is the truth again.
        let sets_before = limits.state.lock().unwrap().sets;
        limits.set_overrides(HashMap::new(), sets_before);
        assert!(limits.state.lock().unwrap().set_here.is_empty());
        limits.check(&a).unwrap();
        assert!(limits.check(&a).is_err());
    }

    #[test]
    fn no_default_means_no_limit() {
        let limits = RateLimits::new(None, Duration::from_millis(5));
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
