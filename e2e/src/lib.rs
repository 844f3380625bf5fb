//! Cross-process tests and benchmark tools for Sagaway.
//!
//! - `tests/system/`: every process started on port 0 against real PostgreSQL, Redis and the
//!   broker; `python/`: the same system read from another language.
//! - `src/bin/sagaway-loadgen.rs` (HTTP) and `src/bin/sagaway-grpc-bench.rs` (direct gRPC):
//!   the load generators of `scripts/bench-*.sh`, closed or open loop ([`load`]).
//! - `src/bin/hello-axum.rs`: the axum hello-world the benchmarks use as their ceiling.
//! - [`saga`]: the saga workload and the invariant checker, run by `src/bin/sagaway-saga.rs`
//!   (`scripts/drill.sh`, `scripts/bench-saga.sh`) and by the randomized workload test.
//! - [`topic`]: reading a topic back to its current end, for the tests and the checker.

pub mod load;
pub mod saga;
pub mod topic;

/// The `p`th percentile (0-100) of sorted latencies in microseconds, in milliseconds
/// (nearest rank); 0 when there are none.
pub fn percentile_ms(sorted_micros: &[u32], p: f64) -> f64 {
    if sorted_micros.is_empty() {
        return 0.0;
    }
    let last = sorted_micros.len() - 1;
    let rank = ((p / 100.0) * last as f64).round() as usize;
    f64::from(sorted_micros[rank.min(last)]) / 1000.0
}

/// A latency in whole microseconds, saturating.
pub fn micros(elapsed: std::time::Duration) -> u32 {
    u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::percentile_ms;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&sorted, 50.0), 51.0);
        assert_eq!(percentile_ms(&sorted, 99.0), 99.0);
        assert_eq!(percentile_ms(&sorted, 100.0), 100.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
    }
}
