//! [`DisplayName`]: the name shown to people.

use std::fmt;

/// The longest display name accepted, in characters.
const MAX_CHARS: usize = 100;

/// A name to show for a user: 1 to 100 characters once surrounding whitespace is removed, with
/// no control characters; otherwise as the user entered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims `raw` and checks it.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty");
        }
        if name.chars().count() > MAX_CHARS {
            return Err("must be at most 100 characters");
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(name.to_owned()))
    }

    /// "Administrator", the name of the admin account created from configuration.
    pub fn administrator() -> Self {
        Self("Administrator".to_owned())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_but_otherwise_kept_as_entered() {
        assert_eq!(
            DisplayName::parse("  Ada  Lovelace ")
                .expect("valid")
                .as_str(),
            "Ada  Lovelace"
        );
    }

    #[test]
    fn empty_long_and_control_character_names_are_refused() {
        let cases = [
            ("", "must not be empty"),
            (" \t ", "must not be empty"),
            (&*"n".repeat(101), "must be at most 100 characters"),
            ("Ada\u{0}Lovelace", "must not contain control characters"),
        ];
        for (raw, reason) in cases {
            assert_eq!(DisplayName::parse(raw), Err(reason), "{raw:?}");
        }
        assert!(DisplayName::parse(&"n".repeat(100)).is_ok());
    }
}
