"""Confluent's own Python client (confluent-kafka) against our registry, unchanged: every
call a producer, consumer or operator makes."""

import json
import pathlib

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

ROOT = pathlib.Path(__file__).resolve().parents[2]

V1 = json.dumps({
    "type": "record", "name": "Probe", "namespace": "py.test",
    "fields": [{"name": "a", "type": "long"}],
})
V2_COMPATIBLE = json.dumps({
    "type": "record", "name": "Probe", "namespace": "py.test",
    "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string", "default": ""}],
})
V2_BREAKING = json.dumps({
    "type": "record", "name": "Probe", "namespace": "py.test",
    "fields": [{"name": "a", "type": "long"}, {"name": "c", "type": "string"}],
})


@pytest.fixture
def client(registry_url):
    return SchemaRegistryClient({"url": registry_url})


def test_register_is_idempotent_and_lookup_finds_the_version(client, subject):
    first = client.register_schema(subject, Schema(V1, "AVRO"))
    again = client.register_schema(subject, Schema(V1, "AVRO"))
    assert first == again
    found = client.lookup_schema(subject, Schema(V1, "AVRO"))
    assert (found.schema_id, found.version, found.subject) == (first, 1, subject)


def test_fetch_by_id_and_latest_version(client, subject):
    schema_id = client.register_schema(subject, Schema(V1, "AVRO"))
    fetched = client.get_schema(schema_id)
    assert json.loads(fetched.schema_str)["name"] == "Probe"
    latest = client.get_latest_version(subject)
    assert (latest.schema_id, latest.version) == (schema_id, 1)
    assert subject in client.get_subjects()
    assert client.get_versions(subject) == [1]


def test_compatibility_checks_follow_the_subject_level(client, subject):
    client.register_schema(subject, Schema(V1, "AVRO"))
    assert client.test_compatibility(subject, Schema(V2_COMPATIBLE, "AVRO")) is True
    assert client.test_compatibility(subject, Schema(V2_BREAKING, "AVRO")) is False
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, Schema(V2_BREAKING, "AVRO"))
    assert refused.value.http_status_code == 409
    assert client.get_versions(subject) == [1], "an incompatible schema is not stored"


def test_config_can_be_set_read_and_relaxes_checks(client, subject):
    client.register_schema(subject, Schema(V1, "AVRO"))
    assert client.set_compatibility(subject, "NONE") == {"compatibility": "NONE"}
    assert client.get_compatibility(subject) == "NONE"
    assert client.register_schema(subject, Schema(V2_BREAKING, "AVRO")) > 0
    assert client.get_versions(subject) == [1, 2]


def test_soft_then_permanent_deletion(client, subject):
    client.register_schema(subject, Schema(V1, "AVRO"))
    client.register_schema(subject, Schema(V2_COMPATIBLE, "AVRO"))
    assert client.delete_version(subject, 2) == 2
    assert client.get_versions(subject) == [1]
    assert client.delete_subject(subject) == [1]
    assert subject not in client.get_subjects()
    assert client.delete_subject(subject, permanent=True) == [1, 2]
    with pytest.raises(SchemaRegistryError) as gone:
        client.get_versions(subject)
    assert gone.value.error_code == 40401


def test_avro_serializer_round_trips_a_saga_event_through_our_registry(registry_url):
    client = SchemaRegistryClient({"url": registry_url})
    schema = (ROOT / "avro" / "OrderCreated.avsc").read_text()
    topic = "sagaway.order.events"
    config = {"subject.name.strategy": lambda ctx, record_name: f"{ctx.topic}-{record_name}"}
    serializer = AvroSerializer(client, schema, conf=config)
    deserializer = AvroDeserializer(client)
    event = {
        "metadata": {
            "event_id": "0192f8a0-0000-7000-8000-000000000001",
            "correlation_id": "req-1",
            "causation_id": None,
            "occurred_at": 1763700000123,
            "producer": "python-test",
        },
        "order_id": "order-1",
        "user_id": "user-1",
        "lines": [{"product_id": "p-1", "quantity": 2}],
    }
    context = SerializationContext(topic, MessageField.VALUE)
    payload = serializer(event, context)
    assert payload[0] == 0, "Confluent magic byte"
    decoded = deserializer(payload, context)
    assert decoded["order_id"] == "order-1"
    assert decoded["lines"] == [{"product_id": "p-1", "quantity": 2}]
    assert decoded["metadata"]["occurred_at"].timestamp() == pytest.approx(1763700000.123)
    assert f"{topic}-sagaway.events.OrderCreated" in client.get_subjects()


def test_unknown_routes_answer_404_with_a_confluent_body(registry_url):
    response = httpx.get(f"{registry_url}/associations/resources/-/some-topic")
    assert response.status_code == 404
    assert response.json()["error_code"] == 404
    response = httpx.request("PATCH", f"{registry_url}/subjects")
    assert response.status_code == 404, "never 405: clients fall back only on 404"


def test_python_style_booleans_in_query_strings(registry_url, subject):
    client = SchemaRegistryClient({"url": registry_url})
    client.register_schema(subject, Schema(V1, "AVRO"))
    client.delete_subject(subject)
    shown = httpx.get(f"{registry_url}/subjects", params={"deleted": "True"}).json()
    hidden = httpx.get(f"{registry_url}/subjects", params={"deleted": "False"}).json()
    assert subject in shown and subject not in hidden
