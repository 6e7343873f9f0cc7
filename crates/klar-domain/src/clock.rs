//! Time and randomness are parameters: services take a `&dyn Clock` and an RNG.

use jiff::Timestamp;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The wall clock. The only place in Klar that reads the system time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still, for tests and demo data.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A clock that stands still until it is set or advanced, for tests that need time to pass
/// (expiry, lapse). Shared between threads: clone the `Arc` it lives in.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(std::sync::Mutex::new(start))
    }

    /// Moves the clock forward (or back, with a negative duration). A step beyond jiff's
    /// range leaves the clock where it is.
    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut t = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Ok(next) = t.checked_add(by) {
            *t = next;
        }
    }

    pub fn set(&self, to: Timestamp) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_it_is_advanced_or_set() {
        let start = Timestamp::from_second(1_767_225_600).unwrap();
        let c = ManualClock::new(start);
        assert_eq!(c.now(), start);
        c.advance(jiff::SignedDuration::from_hours(25));
        assert_eq!(c.now(), start + jiff::SignedDuration::from_hours(25));
        c.set(start);
        assert_eq!(c.now(), start);
    }
}
