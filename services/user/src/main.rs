//! Runs the user service: reads its configuration from the environment and serves until
//! SIGTERM or Ctrl-C.

use anyhow::Context as _;
use sagaway_platform::config::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = Env::from_process();
    let telemetry = sagaway_platform::telemetry::init(&env);
    let config = sagaway_user::Config::from_env(&env).context("reading configuration")?;
    let app = sagaway_user::Application::build(config).await?;
    let result = app
        .run_until_stopped(sagaway_platform::shutdown::signal())
        .await;
    telemetry.shutdown();
    result
}
