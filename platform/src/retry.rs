//! What the retry loops of the outbox publisher and the inbox consumer share: exponential
//! backoff, a wait that gives way to shutdown, and error chains for log lines.

use std::future::Future;
use std::time::Duration;

/// Delays that double from `base` up to `max`, restarting after a success.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// A backoff starting at `base` and never waiting longer than `max`.
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            failures: 0,
        }
    }

    /// The delay after the `attempt`-th consecutive failure (1-based).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Records a failure and returns how long to wait before trying again.
    pub(crate) fn fail(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.delay(self.failures)
    }

    /// Records a success: the next failure waits `base` again.
    pub(crate) fn succeed(&mut self) {
        self.failures = 0;
    }
}

/// Waits `delay`, or less if `stop` completes first; true when it was `stop`.
pub(crate) async fn sleep_or_stop(delay: Duration, stop: impl Future<Output = ()>) -> bool {
    tokio::select! {
        () = stop => true,
        () = tokio::time::sleep(delay) => false,
    }
}

/// An error and its causes on one line, `outer: cause: root`, for logs.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_restart_after_success() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<_> = (0..4).map(|_| backoff.fail().as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
        backoff.succeed();
        assert_eq!(backoff.fail(), Duration::from_millis(100));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_millis(350));
    }
}
