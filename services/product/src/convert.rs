//! Domain values as the protobuf messages of `sagaway.product.v1`.

use sagaway_contracts::pb::common::Money as PbMoney;
use sagaway_contracts::pb::product as pb;
use sqlx::types::chrono::{DateTime, Utc};

use crate::domain::Product;

impl From<Product> for pb::Product {
    fn from(product: Product) -> Self {
        Self {
            product_id: product.id.to_string(),
            sku: product.sku,
            name: product.name,
            description: product.description,
            price: Some(PbMoney {
                amount_minor: product.price.amount_minor(),
                currency_code: product.price.currency().to_string(),
            }),
            stock: Some(pb::Stock {
                available: product.available,
                reserved: product.reserved,
            }),
            create_time: Some(timestamp(product.created_at)),
            update_time: Some(timestamp(product.updated_at)),
        }
    }
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}
