//! Money as every service holds it: integer minor units of an ISO 4217 currency, and the one
//! system currency (`SAGAWAY_CURRENCY`) that prices, balances and payments are kept in.
//!
//! Amounts in different currencies are never added, so a service refuses an amount in any other
//! currency at its boundary instead of converting it.

use std::fmt;
use std::str::FromStr;

use crate::config::{ConfigError, Env};
use crate::status::Violation;

/// A three-letter upper-case ISO 4217 currency code, e.g. `EUR`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The euro, the default system currency.
    pub const EUR: Currency = Currency(*b"EUR");

    /// Reads a code of three upper-case ASCII letters; whether ISO 4217 lists it is not checked,
    /// only the system currency is accepted anyway.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        match <[u8; 3]>::try_from(code.as_bytes()) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_uppercase) => Ok(Self(bytes)),
            _ => Err(MoneyError::MalformedCurrency),
        }
    }

    /// `SAGAWAY_CURRENCY` (`EUR`): the currency of every price, balance and payment.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        env.parse("SAGAWAY_CURRENCY", Self::EUR)
    }

    /// The code, e.g. `"EUR"`.
    pub fn as_str(&self) -> &str {
        // Only ever built from upper-case ASCII, so always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::EUR
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::parse(code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({self})")
    }
}

/// An amount of money: integer minor units (cents for EUR) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

impl Money {
    /// Any amount, e.g. a stored balance.
    pub const fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    /// A strictly positive amount in the `system` currency, as prices and top-ups must be.
    /// Every problem is reported: a bad currency and a bad amount are two errors.
    pub fn positive(
        amount_minor: i64,
        currency_code: &str,
        system: Currency,
    ) -> Result<Self, Vec<MoneyError>> {
        let mut errors = Vec::new();
        match Currency::parse(currency_code) {
            Err(err) => errors.push(err),
            Ok(currency) if currency != system => {
                errors.push(MoneyError::OtherCurrency { expected: system });
            }
            Ok(_) => {}
        }
        if amount_minor <= 0 {
            errors.push(MoneyError::NotPositive);
        }
        if errors.is_empty() {
            Ok(Self::new(amount_minor, system))
        } else {
            Err(errors)
        }
    }

    /// The amount in minor units.
    pub const fn amount_minor(&self) -> i64 {
        self.amount_minor
    }

    /// The currency.
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// The sum, or `None` when the currencies differ or the sum does not fit in an `i64`.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        let amount_minor = self.amount_minor.checked_add(other.amount_minor)?;
        Some(Self::new(amount_minor, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (minor units)", self.amount_minor, self.currency)
    }
}

/// Why an amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Zero or negative where only a positive amount makes sense.
    #[error("must be greater than zero")]
    NotPositive,
    /// Not three upper-case letters.
    #[error("must be a three-letter upper-case ISO 4217 code")]
    MalformedCurrency,
    /// A well-formed code, but not the system currency.
    #[error("must be {expected}, the system currency")]
    OtherCurrency {
        /// The system currency.
        expected: Currency,
    },
}

impl MoneyError {
    /// The violation of the `Money` field at `path` (e.g. `amount`), naming the sub-field at
    /// fault: `amount.amount_minor` or `amount.currency_code`.
    pub fn violation(&self, path: &str) -> Violation {
        let field = match self {
            MoneyError::NotPositive => "amount_minor",
            MoneyError::MalformedCurrency | MoneyError::OtherCurrency { .. } => "currency_code",
        };
        Violation::new(format!("{path}.{field}"), self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_amounts_in_the_system_currency_pass() {
        let cases = [
            (100, "EUR", Ok(Money::new(100, Currency::EUR))),
            (0, "EUR", Err(vec![MoneyError::NotPositive])),
            (-1, "EUR", Err(vec![MoneyError::NotPositive])),
            (
                100,
                "USD",
                Err(vec![MoneyError::OtherCurrency {
                    expected: Currency::EUR,
                }]),
            ),
            (100, "eur", Err(vec![MoneyError::MalformedCurrency])),
            (100, "", Err(vec![MoneyError::MalformedCurrency])),
            (100, "EURO", Err(vec![MoneyError::MalformedCurrency])),
            (
                0,
                "USD",
                Err(vec![
                    MoneyError::OtherCurrency {
                        expected: Currency::EUR,
                    },
                    MoneyError::NotPositive,
                ]),
            ),
        ];
        for (amount, code, expected) in cases {
            assert_eq!(
                Money::positive(amount, code, Currency::EUR),
                expected,
                "{amount} {code:?}"
            );
        }
    }

    #[test]
    fn violations_name_the_sub_field_at_fault() {
        assert_eq!(
            MoneyError::NotPositive.violation("amount").field,
            "amount.amount_minor"
        );
        assert_eq!(
            MoneyError::MalformedCurrency
                .violation("product.price")
                .field,
            "product.price.currency_code"
        );
    }

    #[test]
    fn the_system_currency_defaults_to_eur_and_a_bad_one_names_the_variable() {
        assert_eq!(
            Currency::from_env(&Env::default()).expect("default"),
            Currency::EUR
        );
        let usd = Env::from_pairs([("SAGAWAY_CURRENCY", "USD")]);
        assert_eq!(Currency::from_env(&usd).expect("usd").as_str(), "USD");
        let bad = Env::from_pairs([("SAGAWAY_CURRENCY", "dollars")]);
        let err = Currency::from_env(&bad).expect_err("refused");
        assert!(err.to_string().contains("SAGAWAY_CURRENCY"), "{err}");
    }

    #[test]
    fn sums_refuse_overflow_and_mixed_currencies() {
        let max = Money::new(i64::MAX, Currency::EUR);
        assert_eq!(max.checked_add(Money::new(1, Currency::EUR)), None);
        let usd = Currency::parse("USD").expect("usd");
        assert_eq!(
            Money::new(1, Currency::EUR).checked_add(Money::new(1, usd)),
            None
        );
    }
}
