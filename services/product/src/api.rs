//! The gRPC face of the product service: `sagaway.product.v1.ProductService`.
//!
//! Reads need a caller: a user identity forwarded by the gateway (`x-sagaway-user-id`) or a
//! service naming itself (`x-sagaway-caller`); changes need an admin. Each handler checks that,
//! parses the request into domain values, calls [`Catalog`], and converts the answer. Failures
//! become statuses in `error.rs`.

use sagaway_contracts::pb::product as pb;
use sagaway_platform::identity::{self, Identity};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::catalog::Catalog;
use crate::domain::{self, Admin, BatchLookup, NewProduct, Restock};
use crate::error::Error;

/// Implements `ProductService` over [`Catalog`].
#[derive(Debug, Clone)]
pub struct ProductServiceApi {
    catalog: Catalog,
}

impl ProductServiceApi {
    /// The API over `catalog`.
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }
}

/// UNAUTHENTICATED unless a user identity or a calling service is named. A malformed user id
/// is refused even when a service is named too.
fn authorize_read(metadata: &MetadataMap) -> Result<(), Status> {
    let service_call = identity::caller(metadata).is_some_and(|name| !name.trim().is_empty());
    if service_call && metadata.get(identity::USER_ID).is_none() {
        return Ok(());
    }
    Identity::from_metadata(metadata).map(drop)
}

/// UNAUTHENTICATED without an identity, PERMISSION_DENIED unless it is an admin's.
fn authorize_change(metadata: &MetadataMap) -> Result<Admin, Status> {
    Ok(Admin::verify(Identity::from_metadata(metadata)?)?)
}

#[tonic::async_trait]
impl pb::product_service_server::ProductService for ProductServiceApi {
    async fn create_product(
        &self,
        request: Request<pb::CreateProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let admin = authorize_change(request.metadata())?;
        let product = NewProduct::parse(request.into_inner(), self.catalog.currency())?;
        let created = self.catalog.create(&admin, product).await?;
        Ok(Response::new(created.into()))
    }

    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        authorize_read(request.metadata())?;
        let product_id = domain::parse_product_id(&request.get_ref().product_id)
            .map_err(|violation| Error::InvalidArgument(vec![violation]))?;
        let product = self.catalog.get(product_id).await?;
        Ok(Response::new(product.into()))
    }

    async fn list_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<pb::ListProductsResponse>, Status> {
        authorize_read(request.metadata())?;
        let pb::ListProductsRequest {
            page_size,
            page_token,
        } = request.into_inner();
        let page = self.catalog.list(page_size, &page_token).await?;
        Ok(Response::new(pb::ListProductsResponse {
            products: page.items.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn restock_product(
        &self,
        request: Request<pb::RestockProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let admin = authorize_change(request.metadata())?;
        let restock = Restock::try_from(request.get_ref())?;
        let product = self.catalog.restock(&admin, restock).await?;
        Ok(Response::new(product.into()))
    }

    async fn batch_get_products(
        &self,
        request: Request<pb::BatchGetProductsRequest>,
    ) -> Result<Response<pb::BatchGetProductsResponse>, Status> {
        authorize_read(request.metadata())?;
        let lookup = BatchLookup::parse(request.into_inner().product_ids)?;
        let (products, missing_product_ids) = self.catalog.batch_get(lookup).await?;
        Ok(Response::new(pb::BatchGetProductsResponse {
            products: products.into_iter().map(Into::into).collect(),
            missing_product_ids,
        }))
    }
}
