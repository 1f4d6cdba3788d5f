//! SIGINT / SIGTERM become a flag that every wait loop checks, so a run
//! stops promptly, kills its sandboxes, removes its cgroups and saves what
//! it completed (exit 130 / 143).

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe: one atomic store.
    SIGNAL.store(sig, Ordering::SeqCst);
}

/// Installs the handlers (idempotent).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction with a handler that only stores an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The signal that asked us to stop, if any.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Marks a stop request as if a signal arrived (tests, internal aborts).
pub fn request(sig: i32) {
    SIGNAL.store(sig, Ordering::SeqCst);
}

/// The process exit code for a stop by `sig` (128 + signal number).
pub fn exit_code(sig: i32) -> u8 {
    (128 + sig).clamp(0, 255) as u8
}

/// Sleeps up to `d`, returning early with `Err(signal)` on a stop request.
pub fn sleep(d: Duration) -> Result<(), i32> {
    let end = Instant::now() + d;
    loop {
        if let Some(s) = requested() {
            return Err(s);
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}
