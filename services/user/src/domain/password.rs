//! [`Password`]: a plain-text password that meets the policy, kept out of logs.

use sagaway_platform::config::Secret;

// The shortest password accepted, in characters.
const MIN_CHARS: usize = 8;
// The longest password accepted, in characters (bounds the hashing work one request causes).
const MAX_CHARS: usize = 128;

/// A password that meets the policy: 8 to 128 characters, taken exactly as typed (no trimming,
/// so a space is as good a character as any). `Debug` never shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Password(Secret);

impl Password {
    /// Checks `raw` against the policy.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw.chars().count() {
            0 => Err("is required"),
            n if n < MIN_CHARS => Err("must be at least 8 characters"),
            n if n > MAX_CHARS => Err("must be at most 128 characters"),
            _ => Ok(Self(Secret::new(raw))),
        }
    }

    /// The password itself, for the hasher only.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_outside_8_to_128_characters_are_refused() {
        let cases = [
            ("", Err("is required")),
            ("seven77", Err("must be at least 8 characters")),
            ("eight888", Ok(())),
            ("ünïcødé!", Ok(())),
            (&*"x".repeat(128), Ok(())),
            (&*"x".repeat(129), Err("must be at most 128 characters")),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                Password::parse(raw).map(drop),
                expected,
                "{} chars",
                raw.chars().count()
            );
        }
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let password = Password::parse("correct horse battery").expect("valid");
        assert!(!format!("{password:?}").contains("horse"));
    }
}
