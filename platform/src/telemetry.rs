//! Structured logging: JSON lines by default (`SAGAWAY_LOG_FORMAT=pretty` for humans), filtered
//! by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

use crate::config::Env;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(env: &Env) {
    let filter = EnvFilter::try_new(env.string("RUST_LOG", "info"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let result = if env.string("SAGAWAY_LOG_FORMAT", "json") == "pretty" {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    };
    // A subscriber may already be installed (several apps in one test process): keep it.
    drop(result);
}
