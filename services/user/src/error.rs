//! The user service's failures, and the one place they become gRPC statuses.

use sagaway_platform::money::Currency;
use sagaway_platform::status::{self, Violation};
use tonic::Status;
use uuid::Uuid;

/// Everything an account operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request broke the API's rules; one violation per bad field.
    #[error("invalid request")]
    InvalidArgument(Vec<Violation>),
    /// Sign-in failed. Deliberately says nothing about which half was wrong.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// A non-admin acted on someone else's account.
    #[error("only an admin or the user themself may do this")]
    NotSelfOrAdmin,
    /// A non-admin called an admin-only RPC.
    #[error("this operation needs the admin role")]
    AdminOnly,
    /// No account has the id.
    #[error("no user has the id {0}")]
    UserNotFound(Uuid),
    /// The normalized email belongs to another account.
    #[error("a user with this email is already registered")]
    EmailTaken,
    /// The account's balance is kept in another currency than the amount.
    #[error("the balance is kept in {balance}, not in {amount}")]
    CurrencyMismatch {
        /// The balance's currency.
        balance: Currency,
        /// The amount's currency.
        amount: Currency,
    },
    /// The balance would not fit in 64 bits.
    #[error("the balance would exceed the largest amount it can hold")]
    BalanceOverflow,
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Hashing or checking a password failed (not a mismatch: a malformed hash or a bug).
    #[error("password hashing failed")]
    Hashing(#[source] argon2::password_hash::Error),
    /// The blocking task that hashes passwords did not finish.
    #[error("password hashing task failed")]
    HashingTask(#[from] tokio::task::JoinError),
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::InvalidArgument(violations) => status::invalid_argument(violations),
            Error::InvalidCredentials => Status::unauthenticated(message),
            Error::NotSelfOrAdmin | Error::AdminOnly => Status::permission_denied(message),
            Error::UserNotFound(_) => Status::not_found(message),
            Error::EmailTaken => Status::already_exists(message),
            Error::CurrencyMismatch { .. } | Error::BalanceOverflow => {
                Status::failed_precondition(message)
            }
            Error::Database(_) | Error::Hashing(_) | Error::HashingTask(_) => {
                status::internal("user service", &error)
            }
        }
    }
}
