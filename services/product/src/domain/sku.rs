//! [`Sku`]: the merchant's own code for a product.

use std::fmt;

const MAX_CHARS: usize = 64;

/// A stock-keeping unit: 1 to 64 characters from `A-Z a-z 0-9 - _ .`, unique across the
/// catalogue and compared exactly (case matters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sku(String);

impl Sku {
    /// Checks `raw`; it is taken as is, not trimmed: a space is simply not allowed.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("is required");
        }
        if raw.len() > MAX_CHARS {
            return Err("must be at most 64 characters");
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err("may contain only letters, digits, '-', '_' and '.'");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_of_letters_digits_and_separators_are_accepted() {
        for raw in ["A", "SAGA-MUG", "tee_xl.2024", &"9".repeat(64)] {
            assert_eq!(
                Sku::parse(raw).map(|sku| sku.to_string()).as_deref(),
                Ok(raw)
            );
        }
    }

    #[test]
    fn empty_long_and_odd_skus_are_refused() {
        let cases = [
            ("", "is required"),
            (&*"x".repeat(65), "must be at most 64 characters"),
            (
                " SAGA-MUG",
                "may contain only letters, digits, '-', '_' and '.'",
            ),
            (
                "MUG/1",
                "may contain only letters, digits, '-', '_' and '.'",
            ),
            (
                "TASSE-Ä",
                "may contain only letters, digits, '-', '_' and '.'",
            ),
        ];
        for (raw, reason) in cases {
            assert_eq!(Sku::parse(raw), Err(reason), "{raw:?}");
        }
    }
}
