//! Sagaway's contracts, in Rust: everything a process needs to speak to another one.
//!
//! - [`pb`]: code generated from `proto/` (tonic clients and servers, prost messages), and
//!   [`FILE_DESCRIPTOR_SET`], the encoded descriptors the gateway routes from and gRPC
//!   reflection serves.
//! - [`topics`]: the Kafka topic names, their `.dlq` twins and the subject naming strategy.
//! - [`events`]: one Rust type per Avro event in `avro/`, and [`events::EventType`], which ties
//!   each to its schema and topic.
//! - [`avro`]: the `.avsc` files embedded at build time and parsed once.
//! - [`wire`]: Confluent's framing (magic byte, schema id, Avro binary).
//! - [`registry`]: a client for a Confluent-compatible schema registry.
//! - [`check`] and [`proto_compat`]: the contract checks CI runs (Avro against an earlier
//!   version or a registry; proto descriptor sets for wire-breaking changes).
//! - [`codec`]: encoding and decoding events through the registry, as producers and consumers
//!   in any language do.
//! - [`compat`]: the Avro schema compatibility engine behind the registry's levels and
//!   `contracts check`.

pub mod avro;
pub mod check;
pub mod codec;
pub mod compat;
pub mod events;
pub mod pb;
pub mod proto_compat;
pub mod registry;
pub mod topics;
pub mod wire;

pub use pb::FILE_DESCRIPTOR_SET;
