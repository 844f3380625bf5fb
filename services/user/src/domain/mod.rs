//! The user service's domain: values parsed at the boundary so that invalid data cannot reach
//! the database, and the rules about accounts and balances.

mod display_name;
mod email;
mod password;
mod user;

pub use display_name::DisplayName;
pub use email::Email;
pub use password::Password;
pub use user::{
    EntryKind, NewUser, TopUp, User, ensure_admin, ensure_self_or_admin, parse_user_id,
};
