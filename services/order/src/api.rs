//! The gRPC face of the order service: `sagaway.order.v1.OrderService`.
//!
//! Every RPC answers `UNIMPLEMENTED` for now; the services issue fills them in over the
//! service's own database.

use sagaway_contracts::pb::order as pb;
use tonic::{Request, Response, Status};

/// Implements `OrderService`.
#[derive(Debug, Clone, Default)]
pub struct OrderServiceApi;

fn not_yet(rpc: &str) -> Status {
    Status::unimplemented(format!("OrderService.{rpc} is not implemented yet"))
}

#[tonic::async_trait]
impl pb::order_service_server::OrderService for OrderServiceApi {
    async fn create_order(
        &self,
        _request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        Err(not_yet("create_order"))
    }

    async fn get_order(
        &self,
        _request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        Err(not_yet("get_order"))
    }

    async fn list_orders(
        &self,
        _request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        Err(not_yet("list_orders"))
    }

    async fn cancel_order(
        &self,
        _request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        Err(not_yet("cancel_order"))
    }

    async fn list_order_status_history(
        &self,
        _request: Request<pb::ListOrderStatusHistoryRequest>,
    ) -> Result<Response<pb::ListOrderStatusHistoryResponse>, Status> {
        Err(not_yet("list_order_status_history"))
    }
}
