//! Load for the gRPC services over direct gRPC (no gateway): by default `CreateOrder`, each
//! request a one-line order for a product from the catalogue, as a fresh customer; with
//! `--get-product ID`, `ProductService.GetProduct` of that product as a customer (the direct
//! baseline of the gateway benchmark; `--order` not needed).
//!
//! ```text
//! sagaway-grpc-bench --order URL --product URL (--concurrency N | --rate PER_SECOND)
//!                    [--duration 10] [--warmup 2]
//! sagaway-grpc-bench --product URL --get-product ID (--concurrency N | --rate PER_SECOND)
//!                    [--duration 10] [--warmup 2]
//! ```
//! `--concurrency` is a closed loop (N callers, each waits for its answer): the throughput
//! ceiling. `--rate` is an open loop: requests start on a fixed schedule whatever the answers
//! do, and latency is measured from the scheduled start, so a stall is not hidden
//! (`sagaway_e2e::load`). Every request goes over one HTTP/2 connection. Prints one JSON line:
//! requests, errors, requests/s, latency percentiles, and in an open loop how late requests
//! started (`late_p50_ms`, `late_p99_ms`).

#![allow(clippy::print_stdout)]

use std::sync::Arc;

use anyhow::{Context, bail};
use sagaway_contracts::pb::order::order_service_client::OrderServiceClient;
use sagaway_contracts::pb::order::{CreateOrderRequest, OrderItem};
use sagaway_contracts::pb::product::product_service_client::ProductServiceClient;
use sagaway_contracts::pb::product::{GetProductRequest, ListProductsRequest};
use sagaway_e2e::load::{Plan, PlanFlags};
use sagaway_platform::identity::{Identity, Role};
use tonic::transport::Channel;

#[derive(Debug)]
struct Options {
    order: String,
    product: String,
    plan: Plan,
    get_product: Option<String>,
}

fn parse() -> anyhow::Result<Options> {
    let (mut order, mut product, mut get_product) = (String::new(), String::new(), None);
    let mut load = PlanFlags::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        if load.take(&flag, &value)? {
            continue;
        }
        match flag.as_str() {
            "--order" => order = value,
            "--product" => product = value,
            "--get-product" => get_product = Some(value),
            other => bail!("unknown flag {other}"),
        }
    }
    if product.is_empty() || (get_product.is_none() && order.is_empty()) {
        bail!("--product is required, and --order unless --get-product is given");
    }
    Ok(Options {
        order,
        product,
        plan: load.plan(None)?,
        get_product,
    })
}

fn customer() -> Identity {
    Identity {
        user_id: uuid::Uuid::new_v4(),
        roles: vec![Role::Customer],
        session_id: None,
    }
}

async fn create(
    client: &mut OrderServiceClient<Channel>,
    product_id: &str,
    who: &Identity,
) -> bool {
    let mut request = tonic::Request::new(CreateOrderRequest {
        items: vec![OrderItem {
            product_id: product_id.to_owned(),
            quantity: 1,
        }],
    });
    who.write_to(request.metadata_mut());
    client.create_order(request).await.is_ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse()?;
    let plan = options.plan;
    let tally = if let Some(product_id) = options.get_product.clone() {
        let channel = Channel::from_shared(options.product.clone())?
            .connect()
            .await
            .context("product service")?;
        let who = Arc::new(customer());
        plan.run(move |_| {
            let (mut client, who) = (ProductServiceClient::new(channel.clone()), Arc::clone(&who));
            let mut request = tonic::Request::new(GetProductRequest {
                product_id: product_id.clone(),
            });
            who.write_to(request.metadata_mut());
            async move { client.get_product(request).await.is_ok() }
        })
        .await?
    } else {
        let channel = Channel::from_shared(options.order.clone())?
            .connect()
            .await
            .context("order service")?;
        let catalogue = Arc::new(catalogue(&options.product).await?);
        plan.run(move |n| {
            let (mut client, catalogue) = (
                OrderServiceClient::new(channel.clone()),
                Arc::clone(&catalogue),
            );
            async move {
                let product = &catalogue[n as usize % catalogue.len()];
                create(&mut client, product, &customer()).await
            }
        })
        .await?
    };
    println!("{}", plan.summary(&tally));
    Ok(())
}

/// The ids of the catalogue's products (up to 100).
async fn catalogue(product_url: &str) -> anyhow::Result<Vec<String>> {
    let mut products = ProductServiceClient::connect(product_url.to_owned())
        .await
        .context("product service")?;
    let mut listing = tonic::Request::new(ListProductsRequest {
        page_size: 100,
        page_token: String::new(),
    });
    customer().write_to(listing.metadata_mut());
    let catalogue: Vec<String> = products
        .list_products(listing)
        .await?
        .into_inner()
        .products
        .into_iter()
        .map(|p| p.product_id)
        .collect();
    if catalogue.is_empty() {
        bail!(
            "the catalogue is empty: start the product service with SAGAWAY_SEED_DEMO_CATALOG=true"
        );
    }
    Ok(catalogue)
}
