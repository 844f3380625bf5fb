//! The gRPC face of the order service: `sagaway.order.v1.OrderService`. Each RPC reads the
//! caller's identity, calls into [`crate::orders`], and converts the answer.

use sagaway_contracts::pb::order as pb;
use sagaway_platform::identity::Identity;
use tonic::{Request, Response, Status};

use crate::orders::{Orders, RequestTrace};

/// Implements `OrderService`.
#[derive(Debug, Clone)]
pub struct OrderServiceApi {
    orders: Orders,
}

impl OrderServiceApi {
    /// The API over `orders`.
    pub fn new(orders: Orders) -> Self {
        Self { orders }
    }
}

#[tonic::async_trait]
impl pb::order_service_server::OrderService for OrderServiceApi {
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let caller = Identity::from_metadata(request.metadata())?;
        let trace = RequestTrace::from_metadata(request.metadata());
        let order = self
            .orders
            .create(&caller, &trace, request.get_ref())
            .await?;
        Ok(Response::new(order))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let caller = Identity::from_metadata(request.metadata())?;
        Ok(Response::new(
            self.orders
                .get(&caller, &request.get_ref().order_id)
                .await?,
        ))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let caller = Identity::from_metadata(request.metadata())?;
        Ok(Response::new(
            self.orders.list(&caller, request.get_ref()).await?,
        ))
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let caller = Identity::from_metadata(request.metadata())?;
        let trace = RequestTrace::from_metadata(request.metadata());
        Ok(Response::new(
            self.orders
                .cancel(&caller, &trace, request.get_ref())
                .await?,
        ))
    }

    async fn list_order_status_history(
        &self,
        request: Request<pb::ListOrderStatusHistoryRequest>,
    ) -> Result<Response<pb::ListOrderStatusHistoryResponse>, Status> {
        let caller = Identity::from_metadata(request.metadata())?;
        Ok(Response::new(
            self.orders
                .history(&caller, &request.get_ref().order_id)
                .await?,
        ))
    }
}
