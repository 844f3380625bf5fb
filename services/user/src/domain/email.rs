//! [`Email`]: a sign-in address, normalized and checked once, at the boundary.

use std::fmt;

/// The longest address accepted, in characters (RFC 5321's limit for a forward path).
const MAX_CHARS: usize = 254;
const MAX_LOCAL_CHARS: usize = 64;
const MAX_LABEL_CHARS: usize = 63;
/// Characters RFC 5322 allows in a dot-atom besides letters and digits.
const LOCAL_SYMBOLS: &str = "!#$%&'*+-/=?^_`{|}~.";

/// A syntactically valid email address in its normalized form: surrounding whitespace removed,
/// lower-case. Two addresses that normalize alike are the same account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Normalizes `raw` and checks its syntax: `local@domain`, the local part a dot-atom of at
    /// most 64 characters, the domain at least two labels of letters, digits and inner hyphens,
    /// the whole at most 254 characters. Quoted local parts and IP literals are refused.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = Self::normalize(raw);
        if email.is_empty() {
            return Err("is required");
        }
        if email.chars().count() > MAX_CHARS {
            return Err("must be at most 254 characters");
        }
        let (local, domain) = email.split_once('@').ok_or("must contain an @")?;
        if !valid_local_part(local) || !valid_domain(domain) {
            return Err("is not a valid email address");
        }
        Ok(Self(email))
    }

    /// The normalized form of `raw`, without checking it: how a sign-in email is looked up.
    pub fn normalize(raw: &str) -> String {
        raw.trim().to_lowercase()
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_local_part(local: &str) -> bool {
    !local.is_empty()
        && local.chars().count() <= MAX_LOCAL_CHARS
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || LOCAL_SYMBOLS.contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let top_level = labels.last().copied().unwrap_or_default();
    labels.len() >= 2
        && labels.iter().all(|label| valid_label(label))
        && !top_level.chars().all(|c| c.is_ascii_digit())
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.chars().count() <= MAX_LABEL_CHARS
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Ada.Lovelace+Shop@Example.COM \n").expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace+shop@example.com");
    }

    #[test]
    fn well_formed_addresses_are_accepted() {
        for raw in [
            "a@b.co",
            "first.last@sub.example.org",
            "o'brien@example.ie",
            "zoë@exämple.de",
        ] {
            assert!(Email::parse(raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let too_long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
        let cases = [
            ("", "is required"),
            ("   ", "is required"),
            ("no-at-sign", "must contain an @"),
            ("@example.com", "is not a valid email address"),
            ("ada@", "is not a valid email address"),
            ("ada@localhost", "is not a valid email address"),
            ("ada@@example.com", "is not a valid email address"),
            ("a da@example.com", "is not a valid email address"),
            (".ada@example.com", "is not a valid email address"),
            ("ada..l@example.com", "is not a valid email address"),
            ("ada@-example.com", "is not a valid email address"),
            ("ada@example..com", "is not a valid email address"),
            ("ada@1.2.3.4", "is not a valid email address"),
            ("\"ada\"@example.com", "is not a valid email address"),
            (long_local.as_str(), "is not a valid email address"),
            (too_long.as_str(), "must be at most 254 characters"),
        ];
        for (raw, reason) in cases {
            assert_eq!(Email::parse(raw), Err(reason), "{raw:?}");
        }
    }
}
