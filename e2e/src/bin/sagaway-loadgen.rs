//! A closed-loop HTTP load generator: `--concurrency` workers each send one request, wait for
//! the answer, and send the next, for `--duration` seconds after `--warmup` seconds. Prints one
//! JSON line: requests, errors (non-2xx or transport), requests/s, and latency percentiles.
//!
//! ```text
//! sagaway-loadgen --url URL [--method GET|POST] [--body TEXT] [--header NAME:VALUE]...
//!                 [--concurrency 16] [--duration 10] [--warmup 2]
//! ```
//! In `--url` and `--body`, `{n}` is replaced by a number unique to each request (so every
//! registration in a "new schema" run really is new).

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sagaway_e2e::{micros, percentile_ms};

#[derive(Debug, Clone)]
struct Options {
    url: String,
    method: reqwest::Method,
    body: Option<String>,
    headers: Vec<(String, String)>,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
}

fn parse() -> anyhow::Result<Options> {
    let mut options = Options {
        url: String::new(),
        method: reqwest::Method::GET,
        body: None,
        headers: Vec::new(),
        concurrency: 16,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(2),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => options.url = value,
            "--method" => options.method = value.parse().context("--method")?,
            "--body" => options.body = Some(value),
            "--header" => {
                let (name, v) = value.split_once(':').context("--header NAME:VALUE")?;
                options
                    .headers
                    .push((name.trim().to_owned(), v.trim().to_owned()));
            }
            "--concurrency" => options.concurrency = value.parse().context("--concurrency")?,
            "--duration" => {
                options.duration = Duration::from_secs_f64(value.parse().context("--duration")?)
            }
            "--warmup" => {
                options.warmup = Duration::from_secs_f64(value.parse().context("--warmup")?)
            }
            other => bail!("unknown flag {other}"),
        }
    }
    if options.url.is_empty() {
        bail!("--url is required");
    }
    Ok(options)
}

async fn worker(
    options: Arc<Options>,
    client: reqwest::Client,
    counter: Arc<AtomicU64>,
    start: Instant,
) -> (Vec<u32>, u64) {
    let measure_from = start + options.warmup;
    let stop_at = measure_from + options.duration;
    let mut latencies = Vec::new();
    let mut errors = 0;
    loop {
        let now = Instant::now();
        if now >= stop_at {
            break;
        }
        let n = counter.fetch_add(1, Ordering::Relaxed).to_string();
        let mut request = client.request(options.method.clone(), options.url.replace("{n}", &n));
        for (name, value) in &options.headers {
            request = request.header(name, value);
        }
        if let Some(template) = &options.body {
            request = request.body(template.replace("{n}", &n));
        }
        let outcome = request.send().await;
        let ok = match outcome {
            Ok(response) => {
                let status = response.status();
                let _ = response.bytes().await;
                status.is_success()
            }
            Err(_) => false,
        };
        let elapsed = now.elapsed();
        if now >= measure_from {
            if ok {
                latencies.push(micros(elapsed));
            } else {
                errors += 1;
            }
        }
    }
    (latencies, errors)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Arc::new(parse()?);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(Duration::from_secs(10))
        .build()?;
    let counter = Arc::new(AtomicU64::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_micros() as u64,
    ));
    let start = Instant::now();
    let workers: Vec<_> = (0..options.concurrency)
        .map(|_| {
            tokio::spawn(worker(
                Arc::clone(&options),
                client.clone(),
                Arc::clone(&counter),
                start,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for handle in workers {
        let (mut l, e) = handle.await?;
        latencies.append(&mut l);
        errors += e;
    }
    latencies.sort_unstable();
    let seconds = options.duration.as_secs_f64();
    let summary = serde_json::json!({
        "url": options.url,
        "method": options.method.as_str(),
        "concurrency": options.concurrency,
        "seconds": seconds,
        "requests": latencies.len(),
        "errors": errors,
        "rps": (latencies.len() as f64 / seconds).round(),
        "p50_ms": percentile_ms(&latencies, 50.0),
        "p90_ms": percentile_ms(&latencies, 90.0),
        "p99_ms": percentile_ms(&latencies, 99.0),
        "max_ms": percentile_ms(&latencies, 100.0),
    });
    println!("{summary}");
    Ok(())
}
