//! Pagination for every list RPC: the page-size rule and opaque page tokens that carry a keyset
//! cursor.
//!
//! Lists are ordered oldest first by `(created_at, id)`. A page token names the last row of the
//! page it came with, and the next page starts strictly after that row, so paging never repeats
//! a row and never skips one that existed when the previous page was read (unlike `OFFSET`,
//! which shifts when rows are added). A query fetches [`PageSize::fetch_limit`] rows, one more
//! than the page, so the last page carries no token even when it is exactly full.
//!
//! A token is base64url (no padding) of a version byte, the cursor's `created_at` in
//! microseconds since the epoch (big-endian `i64`, PostgreSQL's own precision), the id's 16
//! bytes, and the name of the list that issued it. Tokens are opaque to clients; one that does
//! not decode, or that another list issued, is INVALID_ARGUMENT on `page_token`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::types::chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::status::Violation;

/// The page size when the request asks for none (`page_size = 0`).
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// The largest page; larger requests are served this many rows.
pub const MAX_PAGE_SIZE: u32 = 100;

const TOKEN_VERSION: u8 = 1;
const CURSOR_LEN: usize = 1 + 8 + 16;

/// How many rows one page holds, already defaulted and clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    /// Applies the rule every list RPC documents: 0 means [`DEFAULT_PAGE_SIZE`], values above
    /// [`MAX_PAGE_SIZE`] are clamped to it, negative values are a violation of `page_size`.
    pub fn parse(requested: i32) -> Result<Self, Violation> {
        match u32::try_from(requested) {
            Err(_) => Err(Violation::new("page_size", "must not be negative")),
            Ok(0) => Ok(Self(DEFAULT_PAGE_SIZE)),
            Ok(size) => Ok(Self(size.min(MAX_PAGE_SIZE))),
        }
    }

    /// The number of rows on a full page.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The `LIMIT` for the page query: one row more than the page, to learn whether another
    /// page follows.
    pub fn fetch_limit(self) -> i64 {
        i64::from(self.0) + 1
    }
}

/// A position in a list ordered by `(created_at, id)`: the last row already returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The row's creation time.
    pub created_at: DateTime<Utc>,
    /// The row's id, which breaks ties between rows created in the same microsecond.
    pub id: Uuid,
}

impl Cursor {
    /// The opaque page token for this cursor, issued by the list named `scope`.
    pub fn encode(&self, scope: &str) -> String {
        let mut bytes = Vec::with_capacity(CURSOR_LEN + scope.len());
        bytes.push(TOKEN_VERSION);
        bytes.extend_from_slice(&self.created_at.timestamp_micros().to_be_bytes());
        bytes.extend_from_slice(self.id.as_bytes());
        bytes.extend_from_slice(scope.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a token that the list named `scope` issued; anything else is a violation of
    /// `page_token`.
    pub fn decode(token: &str, scope: &str) -> Result<Self, Violation> {
        Self::try_decode(token, scope)
            .ok_or_else(|| Violation::new("page_token", "is not a page token this list issued"))
    }

    fn try_decode(token: &str, scope: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (cursor, issuer) = bytes.split_at_checked(CURSOR_LEN)?;
        if cursor[0] != TOKEN_VERSION || issuer != scope.as_bytes() {
            return None;
        }
        let micros = i64::from_be_bytes(cursor[1..9].try_into().ok()?);
        Some(Self {
            created_at: DateTime::from_timestamp_micros(micros)?,
            id: Uuid::from_slice(&cursor[9..]).ok()?,
        })
    }
}

/// A list request's paging fields, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows per page.
    pub size: PageSize,
    /// Where the page starts (exclusive); `None` for the first page.
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Parses `page_size` and `page_token` for the list named `scope`, with one violation per
    /// bad field.
    pub fn parse(page_size: i32, page_token: &str, scope: &str) -> Result<Self, Vec<Violation>> {
        let size = PageSize::parse(page_size);
        let after = match page_token {
            "" => Ok(None),
            token => Cursor::decode(token, scope).map(Some),
        };
        match (size, after) {
            (Ok(size), Ok(after)) => Ok(Self { size, after }),
            (size, after) => Err([size.err(), after.err()].into_iter().flatten().collect()),
        }
    }
}

/// One page of a list and the token for the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows of this page, in list order.
    pub items: Vec<T>,
    /// The token for the next page; empty when this is the last one.
    pub next_page_token: String,
}

impl<T> Page<T> {
    /// Cuts the rows fetched with [`PageSize::fetch_limit`] down to one page, with a token that
    /// points after its last row when more rows follow.
    pub fn from_rows(
        mut rows: Vec<T>,
        size: PageSize,
        scope: &str,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> Self {
        let page_len = usize::try_from(size.get()).unwrap_or(usize::MAX);
        let more = rows.len() > page_len;
        rows.truncate(page_len);
        let next_page_token = match rows.last() {
            Some(last) if more => cursor_of(last).encode(scope),
            _ => String::new(),
        };
        Self {
            items: rows,
            next_page_token,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("time"),
            id: Uuid::new_v4(),
        }
    }

    #[test]
    fn page_size_defaults_clamps_and_refuses_negatives() {
        let cases = [
            (0, Some(20)),
            (1, Some(1)),
            (100, Some(100)),
            (101, Some(100)),
            (i32::MAX, Some(100)),
            (-1, None),
        ];
        for (requested, expected) in cases {
            let parsed = PageSize::parse(requested).ok().map(PageSize::get);
            assert_eq!(parsed, expected, "page_size {requested}");
        }
    }

    #[test]
    fn a_token_round_trips_to_the_same_cursor_to_the_microsecond() {
        let cursor = cursor();
        assert_eq!(Cursor::decode(&cursor.encode("users"), "users"), Ok(cursor));
    }

    #[test]
    fn tokens_that_this_list_did_not_issue_are_refused() {
        let from_another_list = cursor().encode("products");
        let mut truncated = cursor().encode("users");
        truncated.truncate(10);
        for token in [
            "garbage!",
            "",
            "AAAA",
            truncated.as_str(),
            from_another_list.as_str(),
        ] {
            let refused = Cursor::decode(token, "users").expect_err(token);
            assert_eq!(refused.field, "page_token", "{token}");
        }
    }

    #[test]
    fn a_bad_size_and_a_bad_token_are_reported_together() {
        let violations = PageRequest::parse(-5, "garbage", "users").expect_err("both bad");
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["page_size", "page_token"]);
    }

    #[test]
    fn only_a_page_with_more_rows_behind_it_carries_a_token() {
        let size = PageSize::parse(2).expect("size");
        let rows: Vec<Cursor> = (0..3).map(|_| cursor()).collect();
        let full = Page::from_rows(rows.clone(), size, "users", |row| *row);
        assert_eq!(full.items, rows[..2]);
        assert_eq!(Cursor::decode(&full.next_page_token, "users"), Ok(rows[1]));
        let last = Page::from_rows(rows[..2].to_vec(), size, "users", |row| *row);
        assert_eq!(last.next_page_token, "");
    }
}
