//! What the product service does, one method per operation: create, read, list, restock and
//! look up many. The gRPC handlers call these with parsed input; catalogue
//! changes take an [`Admin`], so only a verified admin can make them. The SQL is in `store`.

use sagaway_platform::money::Currency;
use sagaway_platform::paging::{Page, PageRequest};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::{Admin, BatchLookup, NewProduct, Product, Restock};
use crate::error::Error;
use crate::store;

/// The name ListProducts signs its page tokens with.
const PRODUCTS_LIST: &str = "products";

/// The catalogue operations over the product database.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: PgPool,
    currency: Currency,
}

impl Catalog {
    /// Operations on the database behind `pool`, with prices in `currency`.
    pub fn new(pool: PgPool, currency: Currency) -> Self {
        Self { pool, currency }
    }

    /// The system currency: every price is in it.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Adds a product. ALREADY_EXISTS when the sku is taken.
    pub async fn create(&self, admin: &Admin, product: NewProduct) -> Result<Product, Error> {
        let mut conn = self.pool.acquire().await?;
        let created = store::insert_product(&mut conn, &product)
            .await?
            .ok_or_else(|| Error::SkuTaken(product.sku.to_string()))?;
        tracing::info!(product_id = %created.id, sku = %created.sku, by = %admin.user_id(), "product created");
        Ok(created)
    }

    /// The product `id`.
    pub async fn get(&self, id: Uuid) -> Result<Product, Error> {
        store::find_product(&self.pool, id)
            .await?
            .ok_or(Error::ProductNotFound(id))
    }

    /// One page of the catalogue, oldest first.
    pub async fn list(&self, page_size: i32, page_token: &str) -> Result<Page<Product>, Error> {
        let page = PageRequest::parse(page_size, page_token, PRODUCTS_LIST)
            .map_err(Error::InvalidArgument)?;
        let rows = store::list_products(&self.pool, &page).await?;
        Ok(Page::from_rows(
            rows,
            page.size,
            PRODUCTS_LIST,
            Product::cursor,
        ))
    }

    /// Adds units to a product's available stock.
    pub async fn restock(&self, admin: &Admin, restock: Restock) -> Result<Product, Error> {
        let product = match store::add_stock(&self.pool, restock.product_id, restock.quantity).await
        {
            Err(err) if store::is_out_of_range(&err) => Err(Error::StockOverflow),
            result => result?.ok_or(Error::ProductNotFound(restock.product_id)),
        }?;
        tracing::info!(product_id = %product.id, added = restock.quantity.get(), by = %admin.user_id(), "product restocked");
        Ok(product)
    }

    /// The products asked for, in request order, and the ids that match none.
    pub async fn batch_get(
        &self,
        lookup: BatchLookup,
    ) -> Result<(Vec<Product>, Vec<String>), Error> {
        let found = store::find_products(&self.pool, &lookup.ids()).await?;
        Ok(lookup.answer(found))
    }
}
