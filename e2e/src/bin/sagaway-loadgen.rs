//! An HTTP load generator: `--concurrency` callers in a closed loop (each sends its next
//! request when its answer arrives), or `--rate` requests per second in an open loop (see
//! `sagaway_e2e::load`), for `--duration` seconds after `--warmup` seconds. Prints one JSON
//! line: requests, errors (non-2xx or transport), requests/s, latency percentiles, and in an
//! open loop how late requests started (`late_p50_ms`, `late_p99_ms`).
//!
//! ```text
//! sagaway-loadgen --url URL [--method GET|POST] [--body TEXT] [--header NAME:VALUE]...
//!                 [--concurrency 16 | --rate PER_SECOND] [--duration 10] [--warmup 2]
//! ```
//! In `--url` and `--body`, `{n}` is replaced by a number unique to each request (so every
//! registration in a "new schema" run really is new).

#![allow(clippy::print_stdout)]

use std::time::Duration;

use anyhow::{Context, bail};
use sagaway_e2e::load::{Plan, PlanFlags, Shape};

#[derive(Debug, Clone)]
struct Options {
    url: String,
    method: reqwest::Method,
    body: Option<String>,
    headers: Vec<(String, String)>,
    plan: Plan,
}

fn parse() -> anyhow::Result<Options> {
    let (mut url, mut method, mut body, mut headers) =
        (String::new(), reqwest::Method::GET, None, Vec::new());
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
            "--url" => url = value,
            "--method" => method = value.parse().context("--method")?,
            "--body" => body = Some(value),
            "--header" => {
                let (name, v) = value.split_once(':').context("--header NAME:VALUE")?;
                headers.push((name.trim().to_owned(), v.trim().to_owned()));
            }
            other => bail!("unknown flag {other}"),
        }
    }
    if url.is_empty() {
        bail!("--url is required");
    }
    Ok(Options {
        url,
        method,
        body,
        headers,
        plan: load.plan(Some(Shape::Closed { concurrency: 16 }))?,
    })
}

/// Sends request `n` (its number replaces `{n}` in the URL and body); true for a 2xx.
async fn send(options: &Options, client: &reqwest::Client, n: u64) -> bool {
    let n = n.to_string();
    let mut request = client.request(options.method.clone(), options.url.replace("{n}", &n));
    for (name, value) in &options.headers {
        request = request.header(name, value);
    }
    if let Some(template) = &options.body {
        request = request.body(template.replace("{n}", &n));
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            let _ = response.bytes().await;
            status.is_success()
        }
        Err(_) => false,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse()?;
    let idle = match options.plan.shape {
        Shape::Closed { concurrency } => concurrency,
        Shape::Open { .. } => 64,
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(idle)
        .timeout(Duration::from_secs(10))
        .build()?;
    // Numbers unique across runs too (a "new schema" run registers really new ones).
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_micros() as u64;
    let plan = options.plan;
    let shared = std::sync::Arc::new(options);
    let caller = std::sync::Arc::clone(&shared);
    let tally = plan
        .run(move |n| {
            let (options, client) = (std::sync::Arc::clone(&caller), client.clone());
            async move { send(&options, &client, base + n).await }
        })
        .await?;
    let mut summary = plan.summary(&tally);
    summary["url"] = shared.url.clone().into();
    summary["method"] = shared.method.as_str().into();
    println!("{summary}");
    Ok(())
}
