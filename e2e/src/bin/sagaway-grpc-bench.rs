//! Load for the gRPC services: `CreateOrder` over direct gRPC (no gateway), each request a
//! one-line order for a product from the catalogue, as a fresh customer.
//!
//! ```text
//! sagaway-grpc-bench --order URL --product URL (--concurrency N | --rate PER_SECOND)
//!                    [--duration 10] [--warmup 2]
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
use sagaway_contracts::pb::product::ListProductsRequest;
use sagaway_contracts::pb::product::product_service_client::ProductServiceClient;
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
}

fn parse() -> anyhow::Result<Options> {
    let mut options = Options {
        order: String::new(),
        product: String::new(),
        concurrency: None,
        rate: None,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(2),
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
            other => bail!("unknown flag {other}"),
        }
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse()?;
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
    let mut tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("workers still running"))?
        .into_inner();
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
