//! Injected time, so expiry, debounce and retention are tested without sleeping.
//!
//! Every timestamp in Gatehouse is a [`UnixMillis`]: milliseconds since the Unix epoch, UTC, which is
//! what the store keeps in its `INTEGER` time columns.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (UTC).
pub type UnixMillis = i64;

/// One millisecond-resolution duration helper set, to keep call sites readable.
pub const SECOND: i64 = 1_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixMillis;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; cloning shares the same instant.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: UnixMillis) -> Self {
        Self(Arc::new(AtomicI64::new(start)))
    }

    pub fn advance(&self, by_millis: i64) {
        self.0.fetch_add(by_millis, Ordering::SeqCst);
    }

    pub fn set(&self, to: UnixMillis) {
        self.0.store(to, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMillis {
        self.0.load(Ordering::SeqCst)
    }
}

/// The clock handle the rest of the crate passes around.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_time() {
        let clock = ManualClock::new(1_000);
        let other = clock.clone();
        clock.advance(5 * SECOND);
        assert_eq!(other.now(), 6_000, "a clone must see the same instant");
        other.set(42);
        assert_eq!(clock.now(), 42, "set on a clone must move the original");
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(
            SystemClock.now() > 1_704_067_200_000,
            "wall clock should be after 2024-01-01"
        );
    }
}
