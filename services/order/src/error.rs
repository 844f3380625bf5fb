//! The order service's failures, and the one place they become gRPC statuses.

use sagaway_platform::status::{self, Violation};
use tonic::Status;

use crate::catalog::CatalogError;
use crate::domain::OrderStatus;

/// What can go wrong serving an order RPC.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The request is malformed; one violation per bad field.
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    /// The order does not exist, or belongs to someone else (not revealed).
    #[error("order {0} not found")]
    NotFound(String),
    /// The order is already final.
    #[error("order is {0:?} and can no longer be cancelled")]
    NotCancellable(OrderStatus),
    /// The product check could not be made.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The database failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
}

impl From<OrderError> for Status {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::Invalid(violations) => status::invalid_argument(violations),
            OrderError::NotFound(id) => Status::not_found(format!("order {id} not found")),
            OrderError::NotCancellable(state) => Status::failed_precondition(format!(
                "order is {} and can no longer be cancelled",
                state.as_db()
            )),
            OrderError::Catalog(CatalogError::Unavailable(cause)) => {
                tracing::warn!(error = %cause.message(), "product service unavailable");
                Status::unavailable(
                    "the product service is unavailable; the order was not created, try again",
                )
            }
            OrderError::Catalog(CatalogError::Timeout(deadline)) => {
                Status::deadline_exceeded(format!(
                    "the product service did not answer within {} ms; the order was not created",
                    deadline.as_millis()
                ))
            }
            OrderError::Catalog(failed @ CatalogError::Failed(_)) => {
                status::internal("product check", &failed)
            }
            OrderError::Database(cause) => status::internal("order store", &cause),
        }
    }
}
