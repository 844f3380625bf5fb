//! Plumbing every Sagaway process shares, written once.
//!
//! - [`config`]: typed configuration from environment variables with documented defaults;
//!   tests build it from a map and never touch the process environment.
//! - [`telemetry`]: structured logs (JSON by default).
//! - [`admin`]: the HTTP admin surface, `/health/live`, `/health/ready` and `/metrics`.
//! - [`grpc`]: serving a tonic service with `grpc.health.v1.Health` and server reflection.
//! - [`kafka`]: the Kafka client settings every producer and consumer uses.
//! - [`db`]: the PostgreSQL pool, its readiness check, and the migrations (the platform's
//!   outbox and inbox tables, then the service's own).
//! - [`service`]: the shape every gRPC service shares: config, bound listeners, run until stopped.
//! - [`shutdown`]: the shutdown signal (SIGTERM or Ctrl-C) as a future.
//! - [`identity`]: the caller's identity from gRPC metadata (set by the gateway).
//! - [`money`]: integer minor units of an ISO 4217 currency, and the system currency
//!   (`SAGAWAY_CURRENCY`) every amount must be in.
//! - [`paging`]: the page-size rule and opaque keyset page tokens every list RPC shares.
//! - [`schema`]: a service's migrations and first-run data, applied at start-up (retried in the
//!   background while the database is unreachable).
//! - [`status`]: domain failures as gRPC statuses (field violations; internal errors logged,
//!   never leaked).
//! - [`outbox`]: events written in the business transaction, and the publisher that sends them
//!   to Kafka (at least once, in order per key).
//! - [`inbox`]: the idempotent consumer that applies each event once, with retries and a
//!   dead-letter topic for what cannot be applied.

pub mod admin;
pub mod config;
pub mod db;
pub mod grpc;
pub mod identity;
pub mod inbox;
pub mod kafka;
pub mod money;
pub mod outbox;
pub mod paging;
pub mod schema;
pub mod service;
pub mod shutdown;
pub mod status;
pub mod telemetry;

mod retry;
