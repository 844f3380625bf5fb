//! Load for the gRPC services over direct gRPC (no gateway): by default `CreateOrder`, each
//! request a one-line order for a product from the catalogue, as a fresh customer; with
//! `--get-product ID`, `ProductService.GetProduct` of that product as a customer (the direct
//! baseline of the gateway benchmark; closed loop only, `--order` not needed).
//!
//! ```text
//! sagaway-grpc-bench --order URL --product URL (--concurrency N | --rate PER_SECOND)
//!                    [--duration 10] [--warmup 2]
//! sagaway-grpc-bench --product URL --get-product ID --concurrency N [--duration 10] [--warmup 2]
//! ```
//! `--concurrency` is a closed loop (N callers, each waits for its answer): the throughput
//! ceiling. `--rate` is an open loop: requests start on a fixed schedule whatever the answers
//! do, and latency is measured from the scheduled start, so a stall is not hidden. Prints one
//! JSON line: requests, errors, requests/s, latency percentiles.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sagaway_contracts::pb::order::order_service_client::OrderServiceClient;
use sagaway_contracts::pb::order::{CreateOrderRequest, OrderItem};
use sagaway_contracts::pb::product::product_service_client::ProductServiceClient;
use sagaway_contracts::pb::product::{GetProductRequest, ListProductsRequest};
use sagaway_e2e::{micros, percentile_ms};
use sagaway_platform::identity::{Identity, Role};
use tokio::sync::Mutex;
use tonic::transport::Channel;

#[derive(Debug)]
struct Options {
    order: String,
    product: String,
    concurrency: Option<usize>,
    rate: Option<f64>,
    duration: Duration,
    warmup: Duration,
    get_product: Option<String>,
}

fn parse() -> anyhow::Result<Options> {
    let mut options = Options {
        order: String::new(),
        product: String::new(),
        concurrency: None,
        rate: None,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(2),
        get_product: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--order" => options.order = value,
            "--product" => options.product = value,
            "--concurrency" => options.concurrency = Some(value.parse()?),
            "--rate" => options.rate = Some(value.parse()?),
            "--duration" => options.duration = Duration::from_secs_f64(value.parse()?),
            "--warmup" => options.warmup = Duration::from_secs_f64(value.parse()?),
            "--get-product" => options.get_product = Some(value),
            other => bail!("unknown flag {other}"),
        }
    }
    if options.get_product.is_some() {
        if options.product.is_empty() || options.concurrency.is_none() || options.rate.is_some() {
            bail!("--get-product needs --product and --concurrency (closed loop only)");
        }
        return Ok(options);
    }
    if options.order.is_empty() || options.product.is_empty() {
        bail!("--order and --product are required");
    }
    if options.concurrency.is_none() == options.rate.is_none() {
        bail!("give exactly one of --concurrency and --rate");
    }
    Ok(options)
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

#[derive(Default)]
struct Tally {
    latencies: Vec<u32>,
    errors: u64,
}

/// Closed loop of `GetProduct(product_id)` as one customer per worker.
async fn get_product_loop(options: &Options, product_id: &str) -> anyhow::Result<Tally> {
    let channel = Channel::from_shared(options.product.clone())?
        .connect()
        .await
        .context("product service")?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let measure_from = Instant::now() + options.warmup;
    let stop_at = measure_from + options.duration;
    let handles: Vec<_> = (0..options.concurrency.unwrap_or(1))
        .map(|_| {
            let (mut client, tally) = (
                ProductServiceClient::new(channel.clone()),
                Arc::clone(&tally),
            );
            let product_id = product_id.to_owned();
            tokio::spawn(async move {
                let who = customer();
                while Instant::now() < stop_at {
                    let began = Instant::now();
                    let mut request = tonic::Request::new(GetProductRequest {
                        product_id: product_id.clone(),
                    });
                    who.write_to(request.metadata_mut());
                    let ok = client.get_product(request).await.is_ok();
                    if began >= measure_from {
                        let mut tally = tally.lock().await;
                        if ok {
                            tally.latencies.push(micros(began.elapsed()))
                        } else {
                            tally.errors += 1
                        }
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await?;
    }
    Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("workers still running"))
        .map(Mutex::into_inner)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse()?;
    if let Some(product_id) = options.get_product.clone() {
        let tally = get_product_loop(&options, &product_id).await?;
        return report(&options, tally);
    }
    let channel = Channel::from_shared(options.order.clone())?
        .connect()
        .await
        .context("order service")?;
    let mut products = ProductServiceClient::connect(options.product.clone())
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
    let catalogue = Arc::new(catalogue);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    let measure_from = start + options.warmup;
    let stop_at = measure_from + options.duration;

    if let Some(workers) = options.concurrency {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (mut client, catalogue, tally) = (
                    OrderServiceClient::new(channel.clone()),
                    Arc::clone(&catalogue),
                    Arc::clone(&tally),
                );
                tokio::spawn(async move {
                    let who = customer();
                    let mut n = worker;
                    while Instant::now() < stop_at {
                        let began = Instant::now();
                        let ok = create(&mut client, &catalogue[n % catalogue.len()], &who).await;
                        n += 1;
                        if began >= measure_from {
                            let mut tally = tally.lock().await;
                            if ok {
                                tally.latencies.push(micros(began.elapsed()))
                            } else {
                                tally.errors += 1
                            }
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await?;
        }
    } else if let Some(rate) = options.rate {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let mut scheduled = start;
        let mut n = 0usize;
        let mut inflight = Vec::new();
        while scheduled < stop_at {
            tokio::time::sleep_until(scheduled.into()).await;
            let (mut client, catalogue, tally) = (
                OrderServiceClient::new(channel.clone()),
                Arc::clone(&catalogue),
                Arc::clone(&tally),
            );
            let due = scheduled;
            inflight.push(tokio::spawn(async move {
                let ok = create(&mut client, &catalogue[n % catalogue.len()], &customer()).await;
                if due >= measure_from {
                    let mut tally = tally.lock().await;
                    if ok {
                        tally.latencies.push(micros(due.elapsed()))
                    } else {
                        tally.errors += 1
                    }
                }
            }));
            n += 1;
            scheduled += interval;
        }
        for handle in inflight {
            handle.await?;
        }
    }
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("workers still running"))?
        .into_inner();
    report(&options, tally)
}

/// Prints the one JSON line.
fn report(options: &Options, mut tally: Tally) -> anyhow::Result<()> {
    tally.latencies.sort_unstable();
    let seconds = options.duration.as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "mode": if options.rate.is_some() { "open loop" } else { "closed loop" },
            "rate": options.rate,
            "concurrency": options.concurrency,
            "seconds": seconds,
            "requests": tally.latencies.len(),
            "errors": tally.errors,
            "rps": (tally.latencies.len() as f64 / seconds).round(),
            "p50_ms": percentile_ms(&tally.latencies, 50.0),
            "p90_ms": percentile_ms(&tally.latencies, 90.0),
            "p99_ms": percentile_ms(&tally.latencies, 99.0),
            "max_ms": percentile_ms(&tally.latencies, 100.0),
        })
    );
    Ok(())
}
