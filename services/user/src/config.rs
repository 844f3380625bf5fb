//! The user service's configuration, read from the environment.

use sagaway_platform::config::{ConfigError, Env};
use sagaway_platform::money::Currency;
use sagaway_platform::outbox::PublisherConfig;
use sagaway_platform::service::ServiceConfig;

use crate::domain::{Email, Password};
use crate::saga::SagaConfig;
use crate::{DEFAULT_DATABASE, DEFAULT_GRPC_PORT, SERVICE_NAME};

/// The user service's configuration.
///
/// Besides the settings every service shares ([`ServiceConfig`]):
///
/// - `SAGAWAY_CURRENCY` (`EUR`): the currency balances are kept in; top-ups in any other
///   currency are refused.
/// - `SAGAWAY_ADMIN_EMAIL` and `SAGAWAY_ADMIN_PASSWORD` (both unset by default): when both are
///   set, an admin account (roles admin and customer, display name "Administrator") with this
///   email and password is created at start-up unless some account already has that email. An
///   existing account is never changed, so restarting, or starting several instances, creates
///   exactly one admin, and changing the password variable later does not change the password.
///   Setting only one of the two, a malformed email, or a password outside the registration
///   policy (8 to 128 characters) stops the process at start-up.
/// - The saga ([`SagaConfig`]): `SAGAWAY_USER_SAGA`, `SAGAWAY_USER_CONSUMER_GROUP`.
/// - The outbox publisher of the payment events ([`PublisherConfig`]): `SAGAWAY_OUTBOX_*`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Settings every service shares.
    pub service: ServiceConfig,
    /// `SAGAWAY_CURRENCY`: the system currency.
    pub currency: Currency,
    /// `SAGAWAY_ADMIN_EMAIL` and `SAGAWAY_ADMIN_PASSWORD`: the admin to create, if any.
    pub admin: Option<AdminAccount>,
    /// Payments: the saga's consumer.
    pub saga: SagaConfig,
    /// The outbox publisher (`SAGAWAY_OUTBOX_*`).
    pub publisher: PublisherConfig,
}

/// The admin account to create at start-up. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct AdminAccount {
    /// The admin's sign-in email.
    pub email: Email,
    /// The admin's password.
    pub password: Password,
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
            admin: AdminAccount::from_env(env)?,
            saga: SagaConfig::from_env(env)?,
            publisher: PublisherConfig::from_env(env)?,
        })
    }
}

impl AdminAccount {
    /// Reads `SAGAWAY_ADMIN_EMAIL` and `SAGAWAY_ADMIN_PASSWORD`: both or neither.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        const EMAIL: &str = "SAGAWAY_ADMIN_EMAIL";
        const PASSWORD: &str = "SAGAWAY_ADMIN_PASSWORD";
        let email = env.string(EMAIL, "");
        let password = env.secret(PASSWORD, "");
        let refused = |name: &str, value: &str, reason: &str| ConfigError {
            name: name.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        match (email.is_empty(), password.expose().is_empty()) {
            (true, true) => Ok(None),
            (false, true) => Err(refused(
                PASSWORD,
                "",
                "must be set when SAGAWAY_ADMIN_EMAIL is",
            )),
            (true, false) => Err(refused(
                EMAIL,
                "",
                "must be set when SAGAWAY_ADMIN_PASSWORD is",
            )),
            (false, false) => Ok(Some(Self {
                email: Email::parse(&email).map_err(|why| refused(EMAIL, &email, why))?,
                // The value is a secret: the error shows its length rule, never the value.
                password: Password::parse(password.expose())
                    .map_err(|why| refused(PASSWORD, "***", why))?,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_admin_is_configured_by_default_and_the_currency_is_eur() {
        let config = Config::from_env(&Env::default()).expect("defaults");
        assert!(config.admin.is_none());
        assert_eq!(config.currency, Currency::EUR);
        assert_eq!(config.service.grpc_addr.port(), 50053);
    }

    #[test]
    fn the_admin_email_is_normalized_and_the_password_never_printed() {
        let env = Env::from_pairs([
            ("SAGAWAY_ADMIN_EMAIL", " Admin@Sagaway.Local "),
            ("SAGAWAY_ADMIN_PASSWORD", "s3cret-admin-pass"),
        ]);
        let config = Config::from_env(&env).expect("config");
        let admin = config.admin.expect("admin configured");
        assert_eq!(admin.email.as_str(), "admin@sagaway.local");
        assert!(!format!("{admin:?}").contains("s3cret"));
    }

    #[test]
    fn a_half_or_badly_configured_admin_names_the_variable_at_fault() {
        let cases = [
            (
                vec![("SAGAWAY_ADMIN_EMAIL", "admin@example.com")],
                "SAGAWAY_ADMIN_PASSWORD",
            ),
            (
                vec![("SAGAWAY_ADMIN_PASSWORD", "long-enough")],
                "SAGAWAY_ADMIN_EMAIL",
            ),
            (
                vec![
                    ("SAGAWAY_ADMIN_EMAIL", "nope"),
                    ("SAGAWAY_ADMIN_PASSWORD", "long-enough"),
                ],
                "SAGAWAY_ADMIN_EMAIL",
            ),
            (
                vec![
                    ("SAGAWAY_ADMIN_EMAIL", "a@example.com"),
                    ("SAGAWAY_ADMIN_PASSWORD", "short"),
                ],
                "SAGAWAY_ADMIN_PASSWORD",
            ),
        ];
        for (pairs, variable) in cases {
            let err = Config::from_env(&Env::from_pairs(pairs.clone())).expect_err("refused");
            assert_eq!(err.name, variable, "{pairs:?}");
            assert!(!err.to_string().contains("short\""), "{err}");
        }
    }
}
