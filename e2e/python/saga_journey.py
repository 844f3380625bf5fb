"""Follows the three saga topics from Python and rebuilds each order's journey.

Nothing here comes from the Rust side: the consumer is confluent-kafka's, the events are decoded
by its AvroDeserializer with the writer schemas fetched from our schema registry (Confluent
framing, TopicRecordNameStrategy subjects), and the journey is grouped by the order id that
every saga event carries. Usable as a module (``SagaFollower``) and as a command:

    python e2e/python/saga_journey.py --brokers 127.0.0.1:9092 --registry http://127.0.0.1:8081 \\
        [--from-beginning] [--order-id ID ...] [--timeout SECONDS]

Without ``--from-beginning`` it starts at the topics' current ends and follows new events until
interrupted, until ``--timeout`` passes, or, with ``--order-id``, until those orders' journeys
are settled; with ``--from-beginning`` it reads what the topics hold and stops once caught up
(add ``--follow`` to keep going). Each order is printed with its events (time, type, topic,
partition and offset, producer) and its outcome.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import struct
import sys
import time
import uuid
from typing import Callable, Iterable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

ORDER_TOPIC = "sagaway.order.events"
STOCK_TOPIC = "sagaway.stock.events"
PAYMENT_TOPIC = "sagaway.payment.events"
TOPICS = (ORDER_TOPIC, STOCK_TOPIC, PAYMENT_TOPIC)
EVENT_NAMESPACE = "sagaway.events"

# The order service's view of an order, as far as the events tell it.
COMPLETED = "COMPLETED"
REJECTED = "REJECTED"
PAYMENT_FAILED = "PAYMENT_FAILED"
CANCELLED = "CANCELLED"
STOCK_RESERVED = "STOCK_RESERVED"
PENDING = "PENDING"
TERMINAL = (COMPLETED, REJECTED, PAYMENT_FAILED, CANCELLED)


@dataclasses.dataclass(frozen=True)
class SagaEvent:
    """One decoded saga event and where it was read."""

    topic: str
    partition: int
    offset: int
    key: str | None
    event_type: str  # short name, e.g. "OrderCreated"
    header_type: str | None  # the `event-type` header, e.g. "sagaway.events.OrderCreated"
    schema_name: str  # the writer schema's full name, from the registry by schema id
    schema_id: int
    order_id: str
    event_id: str
    correlation_id: str
    causation_id: str | None
    occurred_at: datetime.datetime
    producer: str
    payload: dict

    @property
    def reason(self) -> str | None:
        """The `reason` field of the events that have one (OrderCancelled, PaymentFailed, ...)."""
        value = self.payload.get("reason")
        return str(value) if value is not None else None

    def describe(self) -> str:
        when = self.occurred_at.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds")
        reason = f"({self.reason})" if self.reason else ""
        where = f"{self.topic}[{self.partition}]@{self.offset}"
        return f"{when}  {self.event_type + reason:<36} {where:<32} {self.producer}"


@dataclasses.dataclass
class Journey:
    """Every event seen for one order, in the order they were read."""

    order_id: str
    events: list[SagaEvent] = dataclasses.field(default_factory=list)

    def types(self) -> list[str]:
        return [e.event_type for e in self.events]

    def has(self, event_type: str) -> bool:
        return any(e.event_type == event_type for e in self.events)

    def by_topic(self) -> dict[str, list[str]]:
        """Event types per topic, in topic order (the only order Kafka guarantees for a key)."""
        topics: dict[str, list[str]] = {}
        for event in self.events:
            topics.setdefault(event.topic, []).append(event.event_type)
        return topics

    def timeline(self) -> list[SagaEvent]:
        """The events by the time they occurred (ties: the order they were read)."""
        return sorted(self.events, key=lambda e: e.occurred_at)

    @property
    def correlation_ids(self) -> set[str]:
        return {e.correlation_id for e in self.events}

    @property
    def outcome(self) -> str:
        """The order's status as the events tell it: the order service's own terminal events
        first, then the facts that end an order, else how far it got."""
        if self.has("OrderCompleted"):
            return COMPLETED
        if self.has("OrderCancelled"):
            return CANCELLED
        if self.has("StockReservationFailed"):
            return REJECTED
        if self.has("PaymentFailed"):
            return PAYMENT_FAILED
        if self.has("StockReserved"):
            return STOCK_RESERVED
        return PENDING

    @property
    def settled(self) -> bool:
        """True when the order is terminal and the compensation or follow-up the saga's rules
        call for has been seen too (committed stock, released stock, a refund)."""
        outcome = self.outcome
        if outcome == COMPLETED:
            return self.has("StockCommitted")
        if outcome == REJECTED:
            return True
        if outcome == PAYMENT_FAILED:
            return self.has("StockReleased")
        if outcome == CANCELLED:
            stock_done = self.has("StockReservationFailed") or self.has("StockReleased")
            money_done = not self.has("PaymentCompleted") or self.has("PaymentRefunded")
            return stock_done and money_done
        return False

    def render(self) -> str:
        first = self.events[0] if self.events else None
        user = first.payload.get("user_id") if first else None
        correlation = ", ".join(sorted(self.correlation_ids)) or "-"
        state = "settled" if self.settled else "in progress"
        lines = [f"order {self.order_id} (user {user}, correlation {correlation}): {self.outcome}, {state}"]
        lines += [f"  {event.describe()}" for event in self.timeline()]
        return "\n".join(lines)


def render_all(journeys: Iterable[Journey]) -> str:
    return "\n\n".join(j.render() for j in journeys) or "(no saga events seen)"


class SagaFollower:
    """Reads the saga topics with a plain assigned consumer (no group, so no rebalance wait and
    no committed offsets) and groups the decoded events by order id.

    ``start="end"`` pins every partition to its current end offset before returning, so every
    event produced after the constructor returns is seen; ``start="beginning"`` reads what the
    topics hold."""

    def __init__(
        self,
        brokers: str,
        registry_url: str,
        *,
        start: str = "end",
        order_ids: Iterable[str] | None = None,
        topics: Iterable[str] = TOPICS,
        timeout: float = 10.0,
    ):
        if start not in ("end", "beginning"):
            raise ValueError(f"start must be 'end' or 'beginning', not {start!r}")
        self.topics = tuple(topics)
        self.order_ids = set(order_ids) if order_ids else None
        self.journeys: dict[str, Journey] = {}
        self.undecodable: list[tuple[str, int, int, str]] = []  # (topic, partition, offset, why)
        self.registry = SchemaRegistryClient({"url": registry_url})
        self._deserializer = AvroDeserializer(self.registry)
        self._schema_names: dict[int, str] = {}
        self._consumer = Consumer(
            {
                "bootstrap.servers": brokers,
                # Never joins: partitions are assigned by hand, and nothing is committed.
                "group.id": f"saga-journey-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
            }
        )
        # The end offsets when following started: "caught up" means read up to them.
        self.ends: dict[tuple[str, int], int] = {}
        self._positions: dict[tuple[str, int], int] = {}
        assignment = []
        for topic in self.topics:
            for partition in self._partitions(topic, timeout):
                low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
                self.ends[(topic, partition)] = high
                offset = high if start == "end" else low
                self._positions[(topic, partition)] = offset
                assignment.append(TopicPartition(topic, partition, offset if start == "end" else OFFSET_BEGINNING))
        self._consumer.assign(assignment)

    def _partitions(self, topic: str, timeout: float) -> list[int]:
        metadata = self._consumer.list_topics(topic, timeout=timeout).topics[topic]
        if metadata.error is not None or not metadata.partitions:
            raise RuntimeError(f"topic {topic} is not available: {metadata.error}")
        return sorted(metadata.partitions)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> "SagaFollower":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def caught_up(self) -> bool:
        """True once every partition was read up to the end it had when following started."""
        return all(self._positions[tp] >= end for tp, end in self.ends.items())

    def journey(self, order_id: str) -> Journey:
        return self.journeys.get(order_id) or Journey(order_id)

    def poll(self, timeout: float = 0.5, max_messages: int = 500) -> list[SagaEvent]:
        """Reads what arrives within ``timeout`` and returns the saga events among it."""
        events = []
        for message in self._consumer.consume(num_messages=max_messages, timeout=timeout):
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"consuming {message.topic()}: {error}")
                continue
            tp = (message.topic(), message.partition())
            self._positions[tp] = max(self._positions.get(tp, 0), message.offset() + 1)
            event = self._decode(message)
            if event is None:
                continue
            if self.order_ids is not None and event.order_id not in self.order_ids:
                continue
            self.journeys.setdefault(event.order_id, Journey(event.order_id)).events.append(event)
            events.append(event)
        return events

    def run_until(self, done: Callable[["SagaFollower"], bool], deadline: float) -> bool:
        """Polls until ``done(self)`` holds (True) or ``time.monotonic()`` passes ``deadline``
        (False)."""
        while not done(self):
            if time.monotonic() >= deadline:
                return False
            self.poll(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
        return True

    def _decode(self, message) -> SagaEvent | None:
        where = (message.topic(), message.partition(), message.offset())
        value = message.value()
        if not value or len(value) < 5 or value[0] != 0:
            self.undecodable.append((*where, "not Confluent-framed Avro (magic byte 0)"))
            return None
        schema_id = struct.unpack(">I", value[1:5])[0]
        try:
            record = self._deserializer(value, SerializationContext(message.topic(), MessageField.VALUE))
            schema_name = self._schema_name(schema_id)
        except Exception as error:  # a consumer reports a bad message and carries on
            self.undecodable.append((*where, f"schema {schema_id}: {error}"))
            return None
        headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in (message.headers() or [])}
        header_type = headers.get("event-type")
        full_name = header_type or schema_name
        metadata = record.get("metadata") or {}
        key = message.key()
        return SagaEvent(
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
            key=key.decode() if isinstance(key, bytes) else key,
            event_type=full_name.rsplit(".", 1)[-1],
            header_type=header_type,
            schema_name=schema_name,
            schema_id=schema_id,
            order_id=record["order_id"],
            event_id=metadata["event_id"],
            correlation_id=metadata["correlation_id"],
            causation_id=metadata.get("causation_id"),
            occurred_at=metadata["occurred_at"],
            producer=metadata["producer"],
            payload=record,
        )

    def _schema_name(self, schema_id: int) -> str:
        if schema_id not in self._schema_names:
            schema = json.loads(self.registry.get_schema(schema_id).schema_str)
            name = schema["name"]
            if "." not in name:
                name = f"{schema.get('namespace', EVENT_NAMESPACE)}.{name}"
            self._schema_names[schema_id] = name
        return self._schema_names[schema_id]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild each order's journey from the saga topics.")
    parser.add_argument("--brokers", required=True, help="bootstrap servers, e.g. 127.0.0.1:9092")
    parser.add_argument("--registry", required=True, help="schema registry URL, e.g. http://127.0.0.1:8081")
    parser.add_argument("--from-beginning", action="store_true", help="read what the topics hold, not just new events")
    parser.add_argument("--follow", action="store_true", help="with --from-beginning: keep following once caught up")
    parser.add_argument("--order-id", action="append", default=[], help="only this order (repeatable)")
    parser.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--quiet", action="store_true", help="print only the journeys at the end, not each event")
    args = parser.parse_args(argv)

    follower = SagaFollower(
        args.brokers,
        args.registry,
        start="beginning" if args.from_beginning else "end",
        order_ids=args.order_id or None,
    )
    deadline = time.monotonic() + args.timeout if args.timeout is not None else float("inf")
    wanted = set(args.order_id)
    stop_when_caught_up = args.from_beginning and not args.follow

    def done(f: SagaFollower) -> bool:
        if wanted and all(f.journey(order).settled for order in wanted):
            return True
        return stop_when_caught_up and f.caught_up

    if not args.from_beginning:
        print(f"following {', '.join(TOPICS)} from their current ends (Ctrl-C to stop)", file=sys.stderr)
    try:
        while not done(follower) and time.monotonic() < deadline:
            for event in follower.poll(timeout=0.5):
                if not args.quiet:
                    print(f"{event.order_id}  {event.describe()}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        follower.close()
    print(render_all(follower.journeys.values()))
    for topic, partition, offset, why in follower.undecodable:
        print(f"undecodable: {topic}[{partition}]@{offset}: {why}", file=sys.stderr)
    if wanted and not all(follower.journey(order).settled for order in wanted):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
