//! The one place that reads the wall clock (`clippy.toml` forbids it elsewhere), so that
//! timestamps and token expiry can be reasoned about and tested.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time, truncated to microseconds: the precision both databases store, so a value
/// read back equals the value written.
#[allow(clippy::disallowed_methods)]
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The current time as Unix seconds, for JWT `iat`/`exp` checks.
pub fn unix_now() -> i64 {
    now().timestamp()
}

/// A monotonic instant, for deadlines and durations (never for timestamps).
pub fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}
