//! Every Sagaway process, started for real on port 0 against the real PostgreSQL, Redis and
//! Kafka-compatible broker that `scripts/test.sh` brings up (a broker of the tests' own, never
//! the one `scripts/up.sh` runs the system on).
//!
//! Connection settings come from the environment the scripts export (read, never set):
//! `SAGAWAY_TEST_PG_URL` (server URL without database), `SAGAWAY_KAFKA_BROKERS`,
//! `SAGAWAY_TEST_REDIS_URL`. Each test gets fresh databases.

mod foundation;
mod gateway;
mod gateway_auth;
mod helpers;
mod inbox;
mod kafka;
mod order;
mod outbox;
mod participant;
mod product;
mod registry;
mod saga_order;
mod saga_product;
mod saga_user;
mod saga_workload;
mod user;
