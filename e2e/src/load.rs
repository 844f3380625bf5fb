//! Driving one kind of request at load, for the benchmark tools (`sagaway-loadgen`,
//! `sagaway-grpc-bench`): a closed loop, where a fixed number of callers each wait for their
//! answer before sending the next (the throughput ceiling), or an open loop, where requests
//! start on a fixed schedule whatever the answers do (latency at a given rate). Open-loop
//! latency runs from each request's scheduled start, so a stall delays the requests behind it
//! in the figures as it does for real clients, instead of being hidden by fewer requests. The schedule
//! is kept to within tens of microseconds by a thread of its own (tokio's timer has
//! millisecond steps, which would add up to a millisecond to every open-loop figure).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::{micros, percentile_ms};

/// How requests are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// This many callers, each sending its next request when its answer arrives.
    Closed {
        /// The number of callers.
        concurrency: usize,
    },
    /// Requests started at this many per second.
    Open {
        /// Requests per second.
        rate: f64,
    },
}

/// A load: its shape and how long it runs. Answers during the warm-up are not measured.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// How requests are sent.
    pub shape: Shape,
    /// Unmeasured time first.
    pub warmup: Duration,
    /// Measured time after the warm-up.
    pub duration: Duration,
}

/// What a load measured.
#[derive(Debug, Default)]
pub struct Tally {
    /// Latency of each successful measured request, in microseconds, sorted.
    pub latencies: Vec<u32>,
    /// Measured requests that failed.
    pub errors: u64,
    /// Open loop only: how late each measured request started after its scheduled time, in
    /// microseconds, sorted; the load tool's own share of the latencies above.
    pub late: Vec<u32>,
}

impl Tally {
    fn add(&mut self, ok: bool, latency: Duration) {
        if ok {
            self.latencies.push(micros(latency));
        } else {
            self.errors += 1;
        }
    }

    fn merge(&mut self, mut other: Tally) {
        self.latencies.append(&mut other.latencies);
        self.errors += other.errors;
        self.late.append(&mut other.late);
    }
}

impl Plan {
    /// Runs `call` (given a number unique to each request; true for success) as planned.
    pub async fn run<F, Fut>(&self, call: F) -> anyhow::Result<Tally>
    where
        F: Fn(u64) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        let call = Arc::new(call);
        let start = Instant::now();
        let measure_from = start + self.warmup;
        let stop_at = measure_from + self.duration;
        let mut tally = Tally::default();
        match self.shape {
            Shape::Closed { concurrency } => {
                let callers = concurrency.max(1) as u64;
                let handles: Vec<_> = (0..callers)
                    .map(|caller| {
                        let call = Arc::clone(&call);
                        tokio::spawn(async move {
                            let mut own = Tally::default();
                            let mut n = caller;
                            while Instant::now() < stop_at {
                                let began = Instant::now();
                                let ok = call(n).await;
                                n += callers;
                                if began >= measure_from {
                                    own.add(ok, began.elapsed());
                                }
                            }
                            own
                        })
                    })
                    .collect();
                for handle in handles {
                    tally.merge(handle.await?);
                }
            }
            Shape::Open { rate } => {
                anyhow::ensure!(rate > 0.0, "the rate must be above 0");
                let interval = Duration::from_secs_f64(1.0 / rate);
                // The schedule is kept by a thread of its own, sleeping with the kernel's
                // high-resolution timer: tokio's timer wakes on whole milliseconds, which would
                // start each request up to a millisecond late and count that in its latency.
                let runtime = tokio::runtime::Handle::current();
                let inflight = tokio::task::spawn_blocking(move || {
                    let mut due = start;
                    let mut n = 0u64;
                    let mut inflight = Vec::new();
                    while due < stop_at {
                        let early = due.saturating_duration_since(Instant::now());
                        if !early.is_zero() {
                            std::thread::sleep(early);
                        }
                        let call = Arc::clone(&call);
                        inflight.push(runtime.spawn(async move {
                            let late = due.elapsed();
                            let ok = call(n).await;
                            (due >= measure_from).then(|| (ok, due.elapsed(), late))
                        }));
                        n += 1;
                        due += interval;
                    }
                    inflight
                })
                .await?;
                for handle in inflight {
                    if let Some((ok, latency, late)) = handle.await? {
                        tally.add(ok, latency);
                        tally.late.push(micros(late));
                    }
                }
            }
        }
        tally.latencies.sort_unstable();
        tally.late.sort_unstable();
        Ok(tally)
    }

    /// The one JSON line the tools print: the load's shape, requests, errors, requests/s and
    /// latency percentiles in milliseconds.
    pub fn summary(&self, tally: &Tally) -> serde_json::Value {
        let seconds = self.duration.as_secs_f64();
        let late = |p| (!tally.late.is_empty()).then(|| percentile_ms(&tally.late, p));
        let (mode, concurrency, rate) = match self.shape {
            Shape::Closed { concurrency } => ("closed loop", Some(concurrency), None),
            Shape::Open { rate } => ("open loop", None, Some(rate)),
        };
        serde_json::json!({
            "mode": mode,
            "concurrency": concurrency,
            "rate": rate,
            "warmup": self.warmup.as_secs_f64(),
            "seconds": seconds,
            "requests": tally.latencies.len(),
            "errors": tally.errors,
            "rps": (tally.latencies.len() as f64 / seconds).round(),
            "p50_ms": percentile_ms(&tally.latencies, 50.0),
            "p90_ms": percentile_ms(&tally.latencies, 90.0),
            "p99_ms": percentile_ms(&tally.latencies, 99.0),
            "max_ms": percentile_ms(&tally.latencies, 100.0),
            "late_p50_ms": late(50.0),
            "late_p99_ms": late(99.0),
        })
    }
}

/// The load flags both tools take: `--concurrency N` or `--rate PER_SECOND`, and `--duration`
/// and `--warmup` in seconds (10 and 2 when not given).
#[derive(Debug, Default)]
pub struct PlanFlags {
    concurrency: Option<usize>,
    rate: Option<f64>,
    duration: Option<Duration>,
    warmup: Option<Duration>,
}

impl PlanFlags {
    /// Takes `value` when `flag` is one of these; false for any other flag.
    pub fn take(&mut self, flag: &str, value: &str) -> anyhow::Result<bool> {
        use anyhow::Context as _;
        let seconds = |value: &str| -> anyhow::Result<Duration> {
            Ok(Duration::from_secs_f64(
                value.parse().context(flag.to_owned())?,
            ))
        };
        match flag {
            "--concurrency" => self.concurrency = Some(value.parse().context("--concurrency")?),
            "--rate" => self.rate = Some(value.parse().context("--rate")?),
            "--duration" => self.duration = Some(seconds(value)?),
            "--warmup" => self.warmup = Some(seconds(value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The plan: one of `--concurrency` and `--rate` (both is an error), or `default` when
    /// neither was given (none: an error).
    pub fn plan(self, default: Option<Shape>) -> anyhow::Result<Plan> {
        let shape = match (self.concurrency, self.rate, default) {
            (Some(concurrency), None, _) => Shape::Closed { concurrency },
            (None, Some(rate), _) => Shape::Open { rate },
            (None, None, Some(shape)) => shape,
            _ => anyhow::bail!("give exactly one of --concurrency and --rate"),
        };
        Ok(Plan {
            shape,
            duration: self.duration.unwrap_or(Duration::from_secs(10)),
            warmup: self.warmup.unwrap_or(Duration::from_secs(2)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn the_load_flags_make_one_plan() {
        let mut flags = PlanFlags::default();
        for (flag, value) in [("--rate", "250"), ("--duration", "1.5")] {
            assert!(flags.take(flag, value).expect("valid"));
        }
        assert!(!flags.take("--url", "x").expect("not a load flag"));
        let plan = flags.plan(None).expect("a plan");
        assert_eq!(plan.shape, Shape::Open { rate: 250.0 });
        assert_eq!(
            (plan.duration, plan.warmup),
            (Duration::from_millis(1500), Duration::from_secs(2))
        );

        let default = Shape::Closed { concurrency: 16 };
        let plan = PlanFlags::default().plan(Some(default)).expect("default");
        assert_eq!(plan.shape, default);
        assert!(PlanFlags::default().plan(None).is_err(), "no shape at all");
        let mut both = PlanFlags::default();
        both.take("--rate", "1").expect("rate");
        both.take("--concurrency", "2").expect("concurrency");
        assert!(both.plan(Some(default)).is_err(), "both shapes");
        let why = PlanFlags::default()
            .take("--warmup", "soon")
            .expect_err("not seconds");
        assert_eq!(why.to_string(), "--warmup");
    }

    #[tokio::test]
    async fn an_open_loop_keeps_its_schedule_and_counts_from_it() {
        let plan = Plan {
            shape: Shape::Open { rate: 200.0 },
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(500),
        };
        let sent = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&sent);
        let tally = plan
            .run(move |n| {
                counter.fetch_add(1, Ordering::Relaxed);
                async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    n % 10 != 0
                }
            })
            .await
            .expect("load runs");
        // 600 ms at 200/s is 120 requests whatever each one takes; 100 of them are measured.
        assert_eq!(sent.load(Ordering::Relaxed), 120);
        let measured = tally.latencies.len() as u64 + tally.errors;
        assert_eq!(measured, 100);
        assert_eq!(tally.errors, 10);
        assert!(tally.latencies.iter().all(|&us| us >= 20_000), "{tally:?}");
        assert!(tally.latencies.is_sorted());
        // Every measured request, failed or not, says how late it started.
        assert_eq!(tally.late.len(), 100);
        assert!(tally.late.is_sorted());
        let summary = plan.summary(&tally);
        assert_eq!(summary["mode"], "open loop");
        assert_eq!(summary["rps"], 180.0);
        assert!(summary["late_p50_ms"].as_f64().is_some(), "{summary}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_closed_loop_keeps_its_callers_busy_one_request_each() {
        let plan = Plan {
            shape: Shape::Closed { concurrency: 4 },
            warmup: Duration::ZERO,
            duration: Duration::from_millis(300),
        };
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (in_flight, most) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (record, busy, peak) = (Arc::clone(&seen), Arc::clone(&in_flight), Arc::clone(&most));
        let tally = plan
            .run(move |n| {
                record.lock().expect("lock").push(n);
                let (busy, peak) = (Arc::clone(&busy), Arc::clone(&peak));
                async move {
                    peak.fetch_max(busy.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    busy.fetch_sub(1, Ordering::SeqCst);
                    true
                }
            })
            .await
            .expect("load runs");
        assert_eq!(
            most.load(Ordering::SeqCst),
            4,
            "four callers, all busy at once"
        );
        // Each caller sends at most one request per 10 ms.
        let count = tally.latencies.len();
        assert!((4..=4 * 31).contains(&count), "{count}");
        let mut numbers = seen.lock().expect("lock").clone();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), count, "every request has its own number");
        let summary = plan.summary(&tally);
        assert_eq!(summary["concurrency"], 4);
        // A closed loop has no schedule to be late for.
        assert!(summary["late_p50_ms"].is_null(), "{summary}");
    }
}
