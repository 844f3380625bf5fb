//! One finding of the checker, located relative to where it was found, and how it renders as a
//! JSON pointer and a message.

use super::IncompatibilityKind;

/// One incompatibility, located relative to the node pair where it was found.
///
/// Paths are stored innermost first, so that each enclosing level appends its own tokens; this
/// also lets a memoized record pair's findings be reused at another location.
#[derive(Debug, Clone)]
pub(super) struct Finding {
    pub(super) kind: IncompatibilityKind,
    /// JSON-pointer tokens into the reader schema, innermost first.
    pub(super) pointer: Vec<String>,
    /// Reader field names (and `[]`/`{}` for array items/map values), innermost first.
    fields: Vec<String>,
    pub(super) detail: String,
}

impl Finding {
    pub(super) fn new(kind: IncompatibilityKind, detail: String) -> Self {
        Self {
            kind,
            pointer: Vec::new(),
            fields: Vec::new(),
            detail,
        }
    }

    pub(super) fn at(mut self, token: &str) -> Self {
        self.pointer.push(token.to_owned());
        self
    }

    /// The JSON-pointer-like location in the reader schema (`/` for the root), escaped as RFC
    /// 6901 requires.
    pub(super) fn location(&self) -> String {
        let tokens: Vec<String> = self
            .pointer
            .iter()
            .rev()
            .map(|token| token.replace('~', "~0").replace('/', "~1"))
            .collect();
        format!("/{}", tokens.join("/"))
    }

    /// The human message: the field path (when inside a field), then what is wrong and why.
    pub(super) fn message(&self) -> String {
        let mut path = String::new();
        for segment in self.fields.iter().rev() {
            if !path.is_empty() && segment != "[]" && segment != "{}" {
                path.push('.');
            }
            path.push_str(segment);
        }
        if path.is_empty() {
            self.detail.clone()
        } else {
            format!("in field '{path}': {}", self.detail)
        }
    }
}

/// Prefixes `findings` with the pointer tokens (outermost first) and field segment of the node
/// they were found under.
pub(super) fn nest(
    mut findings: Vec<Finding>,
    pointer: &[&str],
    field: Option<&str>,
) -> Vec<Finding> {
    for finding in &mut findings {
        finding
            .pointer
            .extend(pointer.iter().rev().map(|token| (*token).to_owned()));
        if let Some(field) = field {
            finding.fields.push(field.to_owned());
        }
    }
    findings
}
