//! Plumbing every Sagaway process shares, written once.
//!
//! - [`config`]: typed configuration from environment variables with documented defaults;
//!   tests build it from a map and never touch the process environment.
//! - [`telemetry`]: structured logs (JSON by default).
//! - [`admin`]: the HTTP admin surface, `/health/live`, `/health/ready` and `/metrics`.
//! - [`grpc`]: serving a tonic service with `grpc.health.v1.Health` and server reflection.
//! - [`kafka`]: the Kafka client settings every producer and consumer uses.
//! - [`db`]: the PostgreSQL pool and its readiness check.
//! - [`service`]: the shape every gRPC service shares: config, bound listeners, run until stopped.
//! - [`shutdown`]: the shutdown signal (SIGTERM or Ctrl-C) as a future.

pub mod admin;
pub mod config;
pub mod db;
pub mod grpc;
pub mod kafka;
pub mod service;
pub mod shutdown;
pub mod telemetry;
