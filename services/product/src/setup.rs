//! Start-up work on the product database: the platform's and this service's migrations, then,
//! when configured, the demo catalogue.

use anyhow::Context as _;
use sagaway_platform::money::{Currency, Money};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::domain::{Description, NewProduct, ProductName, Sku};
use crate::store;

/// This service's migrations (`migrations/`, versions 100 and up).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The demo catalogue: sku, name, description, price in minor units, initial stock.
const DEMO_CATALOG: [(&str, &str, &str, i64, i64); 6] = [
    (
        "SAGA-MUG",
        "Sagaway mug",
        "A 350 ml stoneware mug with the Sagaway logo.",
        1290,
        50,
    ),
    (
        "SAGA-TEE",
        "Sagaway T-shirt",
        "Organic cotton, unisex fit.",
        2490,
        40,
    ),
    (
        "SAGA-HOODIE",
        "Sagaway hoodie",
        "Heavyweight hoodie for long saga debugging sessions.",
        5490,
        20,
    ),
    (
        "SAGA-STICKERS",
        "Sticker pack",
        "Ten vinyl stickers: topics, events and one very patient broker.",
        490,
        200,
    ),
    (
        "SAGA-NOTEBOOK",
        "Dot-grid notebook",
        "A5, 120 pages, for drawing sequence diagrams by hand.",
        1490,
        60,
    ),
    (
        "SAGA-BOTTLE",
        "Steel water bottle",
        "750 ml, keeps coffee hot through a long retro.",
        1990,
        30,
    ),
];

/// Applies the migrations and, when `seed_demo_catalog` is set, seeds the demo catalogue.
pub async fn prepare(
    pool: &PgPool,
    currency: Currency,
    seed_demo_catalog: bool,
) -> anyhow::Result<()> {
    sagaway_platform::db::migrate(pool, &MIGRATOR)
        .await
        .context("applying migrations")?;
    if seed_demo_catalog {
        seed_demo(pool, currency)
            .await
            .context("seeding the demo catalogue (SAGAWAY_SEED_DEMO_CATALOG)")?;
    }
    Ok(())
}

/// Inserts the demo catalogue, priced in `currency`, if the catalogue is empty; returns how
/// many products were added. Runs under a transaction-scoped advisory lock, so concurrent
/// starts seed once between them, and restarts find the catalogue no longer empty.
pub async fn seed_demo(pool: &PgPool, currency: Currency) -> anyhow::Result<usize> {
    let products = demo_products(currency)?;
    let mut tx = pool.begin().await?;
    store::lock_demo_seeding(&mut tx).await?;
    if !store::catalog_is_empty(&mut tx).await? {
        return Ok(0);
    }
    for product in &products {
        store::insert_product(&mut tx, product).await?;
    }
    tx.commit().await?;
    tracing::info!(products = products.len(), "demo catalogue seeded");
    Ok(products.len())
}

fn demo_products(currency: Currency) -> anyhow::Result<Vec<NewProduct>> {
    let invalid = |sku: &str, why: &str| anyhow::anyhow!("demo product {sku} is invalid: {why}");
    DEMO_CATALOG
        .iter()
        .map(|&(sku, name, description, price_minor, available)| {
            Ok(NewProduct {
                sku: Sku::parse(sku).map_err(|why| invalid(sku, why))?,
                name: ProductName::parse(name).map_err(|why| invalid(sku, why))?,
                description: Description::parse(description).map_err(|why| invalid(sku, why))?,
                price: Money::new(price_minor, currency),
                available,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_product_is_valid_and_in_stock() {
        let products = demo_products(Currency::EUR).expect("valid demo catalogue");
        assert_eq!(products.len(), 6);
        assert!(
            products
                .iter()
                .all(|p| p.available > 0 && p.price.amount_minor() > 0)
        );
    }
}
