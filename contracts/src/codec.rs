//! Encoding and decoding saga events in Confluent's wire format through a schema registry.
//!
//! Producing registers the event's schema under its `TopicRecordNameStrategy` subject (once;
//! the id is cached) and frames the Avro binary with that id. Consuming reads the writer's
//! schema by the id in the message, picks the event type from the writer schema's record name,
//! and resolves the data against our own (reader) schema, so producers may evolve their schemas
//! within the compatibility rules.

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;

use crate::avro;
use crate::events::{AnyEvent, Event, EventType};
use crate::registry::{RegistryClient, RegistryError};
use crate::wire::{self, WireError};

/// Why an event could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The registry could not register or find a schema.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The message is not in Confluent's framing.
    #[error("not a Confluent-framed message")]
    Wire(#[from] WireError),
    /// Avro encoding, decoding or schema resolution failed.
    #[error("avro {0}")]
    Avro(String, #[source] apache_avro::Error),
    /// The writer's schema is not one of the saga's events.
    #[error("schema id {id} names `{name}`, which is not a known saga event")]
    UnknownEvent { id: u32, name: String },
}

impl CodecError {
    /// True when a retry may succeed (the registry was unreachable or failing); false for
    /// poison input, which belongs in a dead-letter topic at once.
    pub fn is_transient(&self) -> bool {
        matches!(self, CodecError::Registry(err) if err.is_transient())
    }
}

/// Encodes and decodes events through a registry; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventCodec {
    registry: RegistryClient,
}

impl EventCodec {
    /// A codec that registers and looks up schemas in `registry`.
    pub fn new(registry: RegistryClient) -> Self {
        Self { registry }
    }

    /// The registry client this codec uses.
    pub fn registry(&self) -> &RegistryClient {
        &self.registry
    }

    /// Registers the event's schema (if needed) and returns the framed message.
    pub async fn encode<E: Event>(&self, event: &E) -> Result<Vec<u8>, CodecError> {
        let value = apache_avro::to_value(event)
            .map_err(|err| CodecError::Avro("serialize".into(), err))?;
        self.encode_value(E::TYPE, value).await
    }

    /// Same as [`EventCodec::encode`] for an event whose type is known only at run time.
    pub async fn encode_any(&self, event: &AnyEvent) -> Result<Vec<u8>, CodecError> {
        let value = event
            .to_value()
            .map_err(|err| CodecError::Avro("serialize".into(), err))?;
        self.encode_value(event.event_type(), value).await
    }

    async fn encode_value(
        &self,
        event_type: EventType,
        value: Value,
    ) -> Result<Vec<u8>, CodecError> {
        let id = self
            .registry
            .register(&event_type.subject(), avro::registered_json(event_type))
            .await?;
        let payload = to_binary(event_type, value)?;
        Ok(wire::encode(id, &payload))
    }

    /// Decodes a framed message into the typed event it carries.
    pub async fn decode(&self, message: &[u8]) -> Result<AnyEvent, CodecError> {
        let (id, mut payload) = wire::decode(message)?;
        let writer = self.registry.schema_by_id(id).await?;
        let name = match writer.as_ref() {
            Schema::Record(record) => record.name.fullname(None),
            other => format!("{other:?}"),
        };
        let event_type = EventType::from_name(&name)
            .filter(|event| event.full_name() == name)
            .ok_or_else(|| CodecError::UnknownEvent {
                id,
                name: name.clone(),
            })?;
        let reader = avro::schema(event_type);
        let value = GenericDatumReader::builder(&writer)
            .reader_schema(reader)
            .build()
            .and_then(|datum| datum.read_value(&mut payload))
            .map_err(|err| CodecError::Avro(format!("decode {name}"), err))?;
        AnyEvent::from_value(event_type, &value)
            .map_err(|err| CodecError::Avro(format!("map {name}"), err))
    }
}

/// Avro binary (no framing) of an event value, resolved against the event's own schema.
pub fn to_binary(event_type: EventType, value: Value) -> Result<Vec<u8>, CodecError> {
    let schema = avro::schema(event_type);
    let resolved = value
        .resolve(schema)
        .map_err(|err| CodecError::Avro(format!("resolve {}", event_type.record_name()), err))?;
    let mut out = Vec::new();
    GenericDatumWriter::builder(schema)
        .build()
        .and_then(|datum| datum.write_value(&mut out, resolved))
        .map_err(|err| CodecError::Avro(format!("write {}", event_type.record_name()), err))?;
    Ok(out)
}

/// Reads Avro binary written with the event's own schema (the inverse of [`to_binary`]).
pub fn from_binary(event_type: EventType, mut payload: &[u8]) -> Result<AnyEvent, CodecError> {
    let schema = avro::schema(event_type);
    let value = GenericDatumReader::builder(schema)
        .build()
        .and_then(|datum| datum.read_value(&mut payload))
        .map_err(|err| CodecError::Avro(format!("read {}", event_type.record_name()), err))?;
    AnyEvent::from_value(event_type, &value)
        .map_err(|err| CodecError::Avro(format!("map {}", event_type.record_name()), err))
}
