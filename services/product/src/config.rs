//! The product service's configuration, read from the environment.

use sagaway_platform::config::{ConfigError, Env};
use sagaway_platform::money::Currency;
use sagaway_platform::outbox::PublisherConfig;
use sagaway_platform::service::ServiceConfig;

use crate::saga::SagaConfig;

use crate::{DEFAULT_DATABASE, DEFAULT_GRPC_PORT, SERVICE_NAME};

/// The product service's configuration.
///
/// Besides the settings every service shares ([`ServiceConfig`]):
///
/// - `SAGAWAY_CURRENCY` (`EUR`): the currency prices are kept in; prices in any other currency
///   are refused.
/// - `SAGAWAY_SEED_DEMO_CATALOG` (`false`): when `true` and the catalogue is empty at start-up,
///   six demo products with stock are added, priced in the system currency. Restarts and
///   instances starting together add them once.
/// - The saga ([`SagaConfig`]): `SAGAWAY_PRODUCT_CONSUMER_GROUP`, `SAGAWAY_RESERVATION_TTL_SECS`,
///   `SAGAWAY_RESERVATION_GRACE_SECS`, `SAGAWAY_RESERVATION_SWEEP_MS`.
/// - The outbox publisher ([`PublisherConfig`]): `SAGAWAY_OUTBOX_*`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Settings every service shares.
    pub service: ServiceConfig,
    /// `SAGAWAY_CURRENCY`: the system currency.
    pub currency: Currency,
    /// `SAGAWAY_SEED_DEMO_CATALOG`: seed the demo catalogue into an empty catalogue.
    pub seed_demo_catalog: bool,
    /// Reservations, their expiry and the saga's consumer.
    pub saga: SagaConfig,
    /// The outbox publisher (`SAGAWAY_OUTBOX_*`).
    pub publisher: PublisherConfig,
}

impl Config {
    /// Reads the configuration; a bad value names its variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            service: ServiceConfig::from_env(
                env,
                SERVICE_NAME,
                DEFAULT_GRPC_PORT,
                DEFAULT_DATABASE,
            )?,
            currency: Currency::from_env(env)?,
            seed_demo_catalog: env.parse("SAGAWAY_SEED_DEMO_CATALOG", false)?,
            saga: SagaConfig::from_env(env)?,
            publisher: PublisherConfig::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalogue_is_off_by_default_and_a_bad_flag_names_the_variable() {
        let config = Config::from_env(&Env::default()).expect("defaults");
        assert!(!config.seed_demo_catalog);
        assert_eq!(config.currency, Currency::EUR);
        let on = Env::from_pairs([("SAGAWAY_SEED_DEMO_CATALOG", "true")]);
        assert!(Config::from_env(&on).expect("on").seed_demo_catalog);
        let bad = Env::from_pairs([("SAGAWAY_SEED_DEMO_CATALOG", "maybe")]);
        let err = Config::from_env(&bad).expect_err("refused");
        assert_eq!(err.name, "SAGAWAY_SEED_DEMO_CATALOG");
    }
}
