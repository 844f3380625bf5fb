//! The product service's failures, and the one place they become gRPC statuses.

use sagaway_platform::status::{self, Violation};
use tonic::Status;
use uuid::Uuid;

/// Everything a catalogue operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request broke the API's rules; one violation per bad field.
    #[error("invalid request")]
    InvalidArgument(Vec<Violation>),
    /// A non-admin tried to change the catalogue.
    #[error("this operation needs the admin role")]
    AdminOnly,
    /// No product has the id.
    #[error("no product has the id {0}")]
    ProductNotFound(Uuid),
    /// Another product has the sku.
    #[error("a product with the sku {0:?} already exists")]
    SkuTaken(String),
    /// The stock would not fit in 64 bits.
    #[error("the stock would exceed the largest quantity it can hold")]
    StockOverflow,
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::InvalidArgument(violations) => status::invalid_argument(violations),
            Error::AdminOnly => Status::permission_denied(message),
            Error::ProductNotFound(_) => Status::not_found(message),
            Error::SkuTaken(_) => Status::already_exists(message),
            Error::StockOverflow => Status::failed_precondition(message),
            Error::Database(_) => status::internal("product service", &error),
        }
    }
}
