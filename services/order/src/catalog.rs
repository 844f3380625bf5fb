//! The order service's one synchronous dependency: asking the product service whether the
//! ordered products exist. Every call has a deadline, names this service in `x-sagaway-caller`,
//! forwards the customer's identity, and is retried only on UNAVAILABLE (the one code that
//! promises nothing happened), with a short backoff.

use std::time::Duration;

use sagaway_contracts::pb::product as pb;
use sagaway_contracts::pb::product::product_service_client::ProductServiceClient;
use sagaway_platform::identity::{self, Identity};
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

/// Why the check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The product service did not answer (down, or unreachable after the retries).
    #[error("the product service is unavailable")]
    Unavailable(#[source] tonic::Status),
    /// It did not answer within the deadline.
    #[error("the product service did not answer within {0:?}")]
    Timeout(Duration),
    /// It answered with an error that retrying will not fix.
    #[error("the product service failed")]
    Failed(#[source] tonic::Status),
}

/// A client of the product service's catalogue.
#[derive(Debug, Clone)]
pub struct Catalog {
    client: ProductServiceClient<Channel>,
    deadline: Duration,
    attempts: u32,
}

impl Catalog {
    /// A catalogue at `url` (connected lazily, so the order service starts without it).
    pub fn new(
        url: &str,
        deadline: Duration,
        attempts: u32,
    ) -> Result<Self, tonic::codegen::http::uri::InvalidUri> {
        let channel = Channel::from_shared(url.to_owned())?
            .connect_timeout(deadline)
            .connect_lazy();
        Ok(Self {
            client: ProductServiceClient::new(channel),
            deadline,
            attempts: attempts.max(1),
        })
    }

    /// The ids among `ids` that the catalogue does not know.
    pub async fn missing(
        &self,
        ids: &[Uuid],
        caller: &Identity,
    ) -> Result<Vec<Uuid>, CatalogError> {
        let message = pb::BatchGetProductsRequest {
            product_ids: ids.iter().map(Uuid::to_string).collect(),
        };
        let mut backoff = Duration::from_millis(50);
        let mut attempt = 1;
        loop {
            let mut request = tonic::Request::new(message.clone());
            request.set_timeout(self.deadline);
            identity::insert(
                request.metadata_mut(),
                identity::CALLER,
                crate::SERVICE_NAME,
            );
            caller.write_to(request.metadata_mut());
            match self.client.clone().batch_get_products(request).await {
                Ok(response) => {
                    let missing = response.into_inner().missing_product_ids;
                    return Ok(ids
                        .iter()
                        .copied()
                        .filter(|id| missing.contains(&id.to_string()))
                        .collect());
                }
                Err(status) if status.code() == Code::Unavailable && attempt < self.attempts => {
                    tracing::warn!(attempt, error = %status.message(), "product service unavailable, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(status) => {
                    return Err(match status.code() {
                        Code::Unavailable => CatalogError::Unavailable(status),
                        Code::DeadlineExceeded | Code::Cancelled => {
                            CatalogError::Timeout(self.deadline)
                        }
                        _ => CatalogError::Failed(status),
                    });
                }
            }
        }
    }
}
