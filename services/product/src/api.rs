//! The gRPC face of the product service: `sagaway.product.v1.ProductService`.
//!
//! Every RPC answers `UNIMPLEMENTED` for now; the services issue fills them in over the
//! service's own database.

use sagaway_contracts::pb::product as pb;
use tonic::{Request, Response, Status};

/// Implements `ProductService`.
#[derive(Debug, Clone, Default)]
pub struct ProductServiceApi;

fn not_yet(rpc: &str) -> Status {
    Status::unimplemented(format!("ProductService.{rpc} is not implemented yet"))
}

#[tonic::async_trait]
impl pb::product_service_server::ProductService for ProductServiceApi {
    async fn create_product(
        &self,
        _request: Request<pb::CreateProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        Err(not_yet("create_product"))
    }

    async fn get_product(
        &self,
        _request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        Err(not_yet("get_product"))
    }

    async fn list_products(
        &self,
        _request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<pb::ListProductsResponse>, Status> {
        Err(not_yet("list_products"))
    }

    async fn restock_product(
        &self,
        _request: Request<pb::RestockProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        Err(not_yet("restock_product"))
    }

    async fn batch_get_products(
        &self,
        _request: Request<pb::BatchGetProductsRequest>,
    ) -> Result<Response<pb::BatchGetProductsResponse>, Status> {
        Err(not_yet("batch_get_products"))
    }
}
