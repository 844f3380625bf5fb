//! The product's words: [`ProductName`] and [`Description`].

const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2000;

/// A short display name: 1 to 200 characters once surrounding whitespace is removed, without
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductName(String);

impl ProductName {
    /// Trims `raw` and checks it.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty");
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err("must be at most 200 characters");
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text about the product, at most 2000 characters; may be empty. Surrounding whitespace
/// is removed; line breaks inside are kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    /// Trims `raw` and checks its length.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let text = raw.trim();
        if text.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err("must be at most 2000 characters");
        }
        Ok(Self(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_hold_1_to_200_characters() {
        assert_eq!(ProductName::parse("  Mug ").expect("valid").as_str(), "Mug");
        assert_eq!(ProductName::parse(" "), Err("must not be empty"));
        assert_eq!(
            ProductName::parse(&"n".repeat(201)),
            Err("must be at most 200 characters")
        );
        assert_eq!(
            ProductName::parse("Mug\u{7}"),
            Err("must not contain control characters")
        );
    }

    #[test]
    fn descriptions_may_be_empty_but_not_longer_than_2000_characters() {
        assert_eq!(Description::parse("").expect("empty is fine").as_str(), "");
        assert_eq!(
            Description::parse("two\nlines").expect("valid").as_str(),
            "two\nlines"
        );
        assert!(Description::parse(&"d".repeat(2000)).is_ok());
        assert_eq!(
            Description::parse(&"d".repeat(2001)),
            Err("must be at most 2000 characters")
        );
    }
}
