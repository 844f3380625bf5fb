//! `google.api.http` path templates: parsing them and matching request paths against them.
//!
//! Grammar (from `google/api/http.proto`): `/` segments, then an optional `:verb`; a segment is
//! a literal, `*` (one segment), `**` (any number of segments, also none) or a variable
//! `{field.path}` / `{field.path=segments}` binding what it matches to a request field.

use std::cmp::Ordering;

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Any,
    Rest,
}

impl Segment {
    /// Lower is more specific: literals win over `*`, which wins over `**`.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Any => 1,
            Segment::Rest => 2,
        }
    }
}

/// A variable: the request field it binds and the template segments it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Variable {
    field_path: Vec<String>,
    start: usize,
    end: usize,
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    source: String,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
    verb: Option<String>,
}

/// A template that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path template {template:?} is invalid: {reason}")]
pub struct TemplateError {
    template: String,
    reason: String,
}

/// The variables a matched path binds: field path (e.g. `["product", "sku"]`) and decoded value.
pub type Bindings = Vec<(Vec<String>, String)>;

impl PathTemplate {
    /// Parses `template`, e.g. `/v1/{name=shelves/*/books/*}:publish`.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let fail = |reason: &str| TemplateError {
            template: template.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = template
            .strip_prefix('/')
            .ok_or_else(|| fail("must start with /"))?;
        let tail_start = rest.rfind(['/', '}']).map_or(0, |at| at + 1);
        let (path, verb) = match rest[tail_start..].find(':') {
            Some(colon) => {
                let at = tail_start + colon;
                (&rest[..at], Some(rest[at + 1..].to_owned()))
            }
            None => (rest, None),
        };
        if verb.as_deref() == Some("") {
            return Err(fail("empty verb"));
        }
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        for piece in split_outside_braces(path) {
            if let Some(inner) = piece.strip_prefix('{') {
                let inner = inner.strip_suffix('}').ok_or_else(|| fail("unclosed {"))?;
                let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
                let field_path: Vec<String> = field.split('.').map(str::to_owned).collect();
                if field_path.iter().any(|name| !is_identifier(name)) {
                    return Err(fail("a variable must name a field path"));
                }
                let start = segments.len();
                for part in pattern.split('/') {
                    segments.push(plain_segment(part).map_err(|reason| fail(&reason))?);
                }
                variables.push(Variable {
                    field_path,
                    start,
                    end: segments.len(),
                });
            } else {
                segments.push(plain_segment(piece).map_err(|reason| fail(&reason))?);
            }
        }
        Ok(Self {
            source: template.to_owned(),
            segments,
            variables,
            verb,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The field paths the template binds, in order.
    pub fn field_paths(&self) -> impl Iterator<Item = &[String]> {
        self.variables.iter().map(|v| v.field_path.as_slice())
    }

    /// The variables `path` binds, or `None` when it does not match.
    pub fn matches(&self, path: &str) -> Option<Bindings> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => {
                let last = rest.rsplit('/').next().unwrap_or_default();
                // `/v1/orders/1:cancel` is the custom method, not order `1:cancel`.
                if last.contains(':') && self.segments.last() != Some(&Segment::Rest) {
                    return None;
                }
                rest
            }
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut starts = vec![0; self.segments.len() + 1];
        if !walk(&self.segments, &parts, 0, 0, &mut starts) {
            return None;
        }
        let bindings = self
            .variables
            .iter()
            .map(|v| {
                let values: Vec<String> = parts[starts[v.start]..starts[v.end]]
                    .iter()
                    .map(|part| percent_decode(part))
                    .collect();
                (v.field_path.clone(), values.join("/"))
            })
            .collect();
        Some(bindings)
    }

    /// Orders templates so the most specific is tried first: segment by segment literals before
    /// `*` before `**`, and a custom verb before none.
    pub fn specificity(&self, other: &Self) -> Ordering {
        let ranks = |t: &Self| t.segments.iter().map(Segment::rank).collect::<Vec<_>>();
        ranks(self)
            .cmp(&ranks(other))
            .then_with(|| other.verb.is_some().cmp(&self.verb.is_some()))
    }
}

fn walk(segments: &[Segment], parts: &[&str], si: usize, pi: usize, starts: &mut [usize]) -> bool {
    starts[si] = pi;
    let Some(segment) = segments.get(si) else {
        return pi == parts.len();
    };
    match segment {
        Segment::Literal(literal) => {
            parts.get(pi) == Some(&literal.as_str())
                && walk(segments, parts, si + 1, pi + 1, starts)
        }
        Segment::Any => {
            parts.get(pi).is_some_and(|part| !part.is_empty())
                && walk(segments, parts, si + 1, pi + 1, starts)
        }
        Segment::Rest => (pi..=parts.len())
            .rev()
            .any(|end| walk(segments, parts, si + 1, end, starts)),
    }
}

fn split_outside_braces(path: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (at, c) in path.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '/' if depth == 0 => {
                pieces.push(&path[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    pieces.push(&path[start..]);
    pieces
}

fn plain_segment(part: &str) -> Result<Segment, String> {
    match part {
        "*" => Ok(Segment::Any),
        "**" => Ok(Segment::Rest),
        "" => Err("empty segment".to_owned()),
        literal if literal.contains(['{', '}', '*', '=']) => {
            Err(format!("bad literal segment {literal:?}"))
        }
        literal => Ok(Segment::Literal(literal.to_owned())),
    }
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Decodes `%XX` escapes; a malformed escape is kept as written.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
