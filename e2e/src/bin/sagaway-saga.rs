//! Drives the order saga and checks its invariants, from the command line.
//!
//! ```text
//! sagaway-saga load --order URL --product URL --user URL [--orders-db URL]
//!                   [--shape contended|ample] [--users 20] [--products 12] [--orders 300]
//!                   [--rate 50] [--concurrency 32] [--seed 1] [--wait 120]
//! sagaway-saga check --orders-db URL --products-db URL --users-db URL
//!                    [--brokers HOST:PORT --registry URL] [--wait 300] [--settle 30]
//!                    [--json FILE]
//! ```
//!
//! `load` creates the catalogue and customers, places `--orders` orders at `--rate` per
//! second (0: as fast as `--concurrency` callers can), some cancelled by their customer
//! (`--shape contended`), printing progress on stderr. With `--orders-db` it then waits up to
//! `--wait` seconds for every order to reach a terminal state and measures, from the order
//! database's own timestamps, the time from creation to the terminal state. It prints one
//! JSON line with the results.
//!
//! `check` waits (up to `--wait` seconds, or until nothing has changed for `--settle`) for
//! the system to be quiescent, then checks invariants 1-6 of DESIGN.md and prints each with
//! its counts; with `--brokers` and `--registry` it reads the dead-letter topics to account
//! for events no inbox has. Exits 1 when an invariant is violated.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, bail};
use sagaway_e2e::percentile_ms;
use sagaway_e2e::saga::check::{Checker, DeadLetters, Participants};
use sagaway_e2e::saga::workload::{self, Clients, Pace, Rng, Shape};
use sagaway_platform::kafka::KafkaConfig;
use serde_json::json;

/// `--name value` pairs, each flag at most once.
struct Flags(HashMap<String, String>);

impl Flags {
    fn parse(args: impl Iterator<Item = String>, known: &[&str]) -> anyhow::Result<Self> {
        let mut flags = HashMap::new();
        let mut args = args;
        while let Some(flag) = args.next() {
            let Some(name) = flag.strip_prefix("--") else {
                bail!("unexpected argument {flag:?}");
            };
            if !known.contains(&name) {
                bail!("unknown flag --{name} (known: --{})", known.join(", --"));
            }
            let value = args
                .next()
                .with_context(|| format!("--{name} needs a value"))?;
            flags.insert(name.to_owned(), value);
        }
        Ok(Self(flags))
    }

    fn string(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> anyhow::Result<&str> {
        self.string(name)
            .with_context(|| format!("--{name} is required"))
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> anyhow::Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.string(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|err| anyhow::anyhow!("--{name} {raw:?}: {err}")),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("load") => load(args).await,
        Some("check") => check(args).await,
        _ => bail!("usage: sagaway-saga load|check [flags] (see the module docs)"),
    }
}

async fn load(args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let flags = Flags::parse(
        args,
        &[
            "order",
            "product",
            "user",
            "orders-db",
            "shape",
            "users",
            "products",
            "orders",
            "rate",
            "concurrency",
            "seed",
            "wait",
        ],
    )?;
    let users = flags.number("users", 20usize)?;
    let products = flags.number("products", 12usize)?;
    let shape = match flags.string("shape").unwrap_or("contended") {
        "contended" => Shape::contended(users, products),
        "ample" => Shape::ample(users, products),
        other => bail!("--shape {other:?}: contended or ample"),
    };
    let pace = Pace {
        orders: flags.number("orders", 300usize)?,
        rate: flags.number("rate", 50.0f64)?,
        concurrency: flags.number("concurrency", 32usize)?,
    };
    let seed = flags.number("seed", 1u64)?;
    let clients = Clients::connect(
        flags.required("order")?,
        flags.required("product")?,
        flags.required("user")?,
    )
    .await?;
    let mut rng = Rng::new(seed);
    let tag = format!("{seed}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    eprintln!(
        "preparing {} products and {} customers (seed {seed})",
        shape.products, shape.users
    );
    let fixture = workload::prepare(&clients, &shape, &mut rng, &tag).await?;
    eprintln!(
        "placing {} orders at {} per second (0: unpaced), {} callers at most",
        pace.orders, pace.rate, pace.concurrency
    );
    let placed = workload::place_orders(&clients, &fixture, &shape, pace, &mut rng, |n, placed| {
        eprintln!(
            "  {n}/{} sent, {} created, {} failed, {} cancelled",
            pace.orders,
            placed.orders.len(),
            placed.create_failures(),
            placed.cancels
        );
    })
    .await?;
    let mut result = json!({
        "seed": seed,
        "orders_sent": pace.orders,
        "orders_created": placed.orders.len(),
        "create_errors": placed.create_errors,
        "cancels": placed.cancels,
        "cancel_errors": placed.cancel_errors,
        "placing_seconds": placed.elapsed.as_secs_f64(),
        "offered_rate": pace.rate,
        "created_per_second": placed.orders.len() as f64 / placed.elapsed.as_secs_f64().max(1e-9),
        "initial_stock": fixture.stock,
        "initial_funds": fixture.funds,
    });
    if let Some(url) = flags.string("orders-db") {
        let pool = sqlx::PgPool::connect(url)
            .await
            .context("connecting to the order database")?;
        let within = Duration::from_secs(flags.number("wait", 120u64)?);
        let open = workload::wait_for_terminal(&pool, &placed.orders, within, |open| {
            eprintln!("  waiting: {open} orders not terminal yet");
        })
        .await?;
        let done = workload::completion(&pool, &placed.orders).await?;
        let sorted = &done.latencies_us;
        result["open_orders"] = json!(open);
        result["by_status"] = json!(done.by_status);
        result["latency_ms"] = json!({
            "p50": percentile_ms(sorted, 50.0),
            "p90": percentile_ms(sorted, 90.0),
            "p99": percentile_ms(sorted, 99.0),
            "max": percentile_ms(sorted, 100.0),
        });
        result["terminal_per_second"] =
            json!(sorted.len() as f64 / done.span.as_secs_f64().max(1e-9));
    }
    println!("{result}");
    Ok(())
}

async fn check(args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let flags = Flags::parse(
        args,
        &[
            "orders-db",
            "products-db",
            "users-db",
            "brokers",
            "registry",
            "wait",
            "settle",
            "json",
        ],
    )?;
    let participants = Participants::new(
        flags.required("orders-db")?,
        flags.required("products-db")?,
        flags.required("users-db")?,
    );
    let dead_letters = match (flags.string("brokers"), flags.string("registry")) {
        (Some(brokers), Some(registry)) => Some(DeadLetters {
            kafka: KafkaConfig {
                brokers: brokers.to_owned(),
                session_timeout_ms: 6000,
                heartbeat_interval_ms: 1000,
                fetch_wait_ms: 100,
            },
            registry_url: registry.to_owned(),
        }),
        (None, None) => None,
        _ => bail!("--brokers and --registry go together"),
    };
    let checker = Checker::connect(participants).await?;
    let within = Duration::from_secs(flags.number("wait", 300u64)?);
    let settle = Duration::from_secs(flags.number("settle", 30u64)?);
    eprintln!(
        "waiting for quiescence (at most {within:?}; giving up after {settle:?} without change)"
    );
    let last = checker
        .wait_for_quiescence(within, settle, |progress| eprintln!("  {progress}"))
        .await?;
    if !last.is_quiescent() {
        eprintln!("not quiescent: checking as it stands");
    }
    let report = checker.check(dead_letters.as_ref()).await?;
    print!("{report}");
    if let Some(path) = flags.string("json") {
        let mut json = report.to_json();
        json["quiescent"] = json!(last.is_quiescent());
        std::fs::write(path, format!("{json:#}\n")).with_context(|| format!("writing {path}"))?;
    }
    if !report.holds() {
        std::process::exit(1);
    }
    Ok(())
}
