//! The CPU priority of roster's background threads (docs/limits.md, "Sharing the server between
//! organizations"): work that is long or that no request waits on as it is served (scans whose
//! cost grows with the data, password hashing, the event delivery worker) runs on threads of
//! its own at a lower priority, so that while the cores are contended the kernel gives them
//! first to every organization's short requests, and while they are not the background threads
//! still have them all.

/// How much lower a background thread's CPU priority is (Linux `nice`, 0 to 19): at 10 a thread
/// gets about a tenth of the CPU time of a thread of the default priority it competes with.
pub const NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`NICE`]. On Linux a thread's `nice` is its own
/// (setpriority on its thread id); lowering it needs no privilege. If it fails, the thread
/// works at the default priority, and `what` names it in the warning.
#[cfg(target_os = "linux")]
pub fn lower(what: &str) {
    let thread = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(thread), NICE) {
        tracing::warn!(error = %e, "could not lower the CPU priority of {what}");
    }
}

/// Elsewhere background threads keep the default priority.
#[cfg(not(target_os = "linux"))]
pub fn lower(_what: &str) {}
