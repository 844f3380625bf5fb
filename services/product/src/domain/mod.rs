//! The product service's domain: values parsed at the boundary so that invalid data cannot
//! reach the database, and the rules about the catalogue.

mod batch;
mod product;
mod sku;
mod text;

pub use batch::{BatchLookup, MAX_IDS};
pub use product::{Admin, NewProduct, Product, Quantity, Restock, parse_product_id};
pub use sku::Sku;
pub use text::{Description, ProductName};
