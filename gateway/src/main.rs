//! Runs the gateway: reads its configuration from the environment and serves until SIGTERM or
//! Ctrl-C.

use anyhow::Context as _;
use sagaway_platform::config::Env;

/// Every request allocates and frees many small buffers across worker threads (headers, JSON,
/// protobuf, futures); mimalloc serves that pattern with less CPU than the system allocator
/// (see docs/benchmarks.md, "Where the gateway's CPU goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = Env::from_process();
    let telemetry = sagaway_platform::telemetry::init(&env);
    let config = sagaway_gateway::Config::from_env(&env).context("reading configuration")?;
    let app = sagaway_gateway::Application::build(config).await?;
    let result = app
        .run_until_stopped(sagaway_platform::shutdown::signal())
        .await;
    telemetry.shutdown();
    result
}
