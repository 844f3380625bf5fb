//! Cross-process tests and benchmark tools for Sagaway.
//!
//! - `tests/system/`: every process started on port 0 against real PostgreSQL, Redis and the
//!   broker; `python/`: the same system read from another language.
//! - `src/bin/sagaway-loadgen.rs`: a closed-loop HTTP load generator (fixed concurrency,
//!   latency percentiles, optional unique body per request) used by `scripts/bench-*.sh`.
//! - `src/bin/hello-axum.rs`: the axum hello-world the benchmarks use as their ceiling.
