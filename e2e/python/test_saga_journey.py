"""The saga seen from another language: Python places real orders through the services'
gRPC APIs while a confluent-kafka Avro consumer (saga_journey.py), pinned to the saga topics'
ends beforehand, rebuilds each order's journey from the events alone. Every event of each saga
must be there, exactly once, on its topic and in that topic's order, tied to the order by its
correlation id and to its cause by its causation id; the services must agree on the outcome."""

import os
import time
import uuid

import grpc
import pytest

from saga_journey import (
    COMPLETED,
    ORDER_TOPIC,
    PAYMENT_FAILED,
    PAYMENT_TOPIC,
    REJECTED,
    STOCK_TOPIC,
    SagaFollower,
    render_all,
)

DEADLINE_SECONDS = 90
# After every journey settled, keep reading this long: an event that should not exist (a
# duplicate, a second payment, a spurious release) would arrive here and fail the test.
LINGER_SECONDS = 3

PRODUCERS = {ORDER_TOPIC: "order-service", STOCK_TOPIC: "product-service", PAYMENT_TOPIC: "user-service"}

# What each scenario must produce: the events per topic, in topic order (across topics Kafka
# promises no order), the event types each event may be caused by, and the `reason` of the
# events that carry one.
SCENARIOS = {
    "completes": {
        "outcome": COMPLETED,
        "per_topic": {
            ORDER_TOPIC: ["OrderCreated", "OrderCompleted"],
            STOCK_TOPIC: ["StockReserved", "StockCommitted"],
            PAYMENT_TOPIC: ["PaymentCompleted"],
        },
        # The order completes on whichever of the reservation and the payment it sees last.
        "causes": {
            "StockReserved": {"OrderCreated"},
            "PaymentCompleted": {"StockReserved"},
            "OrderCompleted": {"PaymentCompleted", "StockReserved"},
            "StockCommitted": {"OrderCompleted"},
        },
        "reasons": {},
    },
    "short of funds": {
        "outcome": PAYMENT_FAILED,
        "per_topic": {
            ORDER_TOPIC: ["OrderCreated"],
            STOCK_TOPIC: ["StockReserved", "StockReleased"],
            PAYMENT_TOPIC: ["PaymentFailed"],
        },
        "causes": {
            "StockReserved": {"OrderCreated"},
            "PaymentFailed": {"StockReserved"},
            "StockReleased": {"PaymentFailed"},
        },
        "reasons": {"PaymentFailed": "INSUFFICIENT_FUNDS", "StockReleased": "PAYMENT_FAILED"},
    },
    "out of stock": {
        "outcome": REJECTED,
        "per_topic": {ORDER_TOPIC: ["OrderCreated"], STOCK_TOPIC: ["StockReservationFailed"]},
        "causes": {"StockReservationFailed": {"OrderCreated"}},
        "reasons": {},
    },
}


def env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through scripts/test.sh")
    return value


def identity(user_id, roles="customer", request_id=None):
    metadata = [("x-sagaway-user-id", user_id), ("x-sagaway-roles", roles), ("x-sagaway-session-id", "py-journey")]
    if request_id:
        metadata.append(("x-request-id", request_id))
    return tuple(metadata)


@pytest.fixture
def follower(registry_url):
    """Assigned to the saga topics' current ends before the test places any order."""
    with SagaFollower(env("SAGAWAY_TEST_KAFKA_BROKERS"), registry_url, start="end") as following:
        yield following


@pytest.fixture
def channels():
    names = ("user", "product", "order")
    opened = {name: grpc.insecure_channel(env(f"SAGAWAY_TEST_{name.upper()}_ADDR")) for name in names}
    yield opened
    for channel in opened.values():
        channel.close()


def problems_with(journey, scenario, correlation_id):
    """Everything wrong with one order's journey, in words; empty when it is as expected."""
    found = []
    if journey.outcome != scenario["outcome"]:
        found.append(f"outcome {journey.outcome}, expected {scenario['outcome']}")
    if journey.by_topic() != scenario["per_topic"]:
        found.append(f"events per topic {journey.by_topic()}, expected {scenario['per_topic']}")
    by_id = {}
    for event in journey.events:
        if event.event_id in by_id:
            found.append(f"event id {event.event_id} seen twice")
        by_id[event.event_id] = event
    for event in journey.events:
        name = event.event_type
        if event.correlation_id != correlation_id:
            found.append(f"{name}: correlation id {event.correlation_id!r}, expected {correlation_id!r}")
        if event.key != journey.order_id:
            found.append(f"{name}: message key {event.key!r} is not the order id")
        full_name = f"sagaway.events.{name}"
        if (event.header_type, event.schema_name) != (full_name, full_name):
            found.append(f"{name}: event-type header {event.header_type!r}, writer schema {event.schema_name!r}")
        if event.producer != PRODUCERS[event.topic]:
            found.append(f"{name}: producer {event.producer!r} on {event.topic}")
        expected_reason = scenario["reasons"].get(name)
        if expected_reason is not None and event.reason != expected_reason:
            found.append(f"{name}: reason {event.reason!r}, expected {expected_reason!r}")
        if name == "OrderCreated":
            if event.causation_id is not None:
                found.append(f"OrderCreated has causation id {event.causation_id!r}; a request caused it")
            continue
        cause = by_id.get(event.causation_id)
        if cause is None:
            found.append(f"{name}: causation id {event.causation_id!r} is no event of this order")
            continue
        allowed = scenario["causes"].get(name, set())
        if cause.event_type not in allowed:
            found.append(f"{name} caused by {cause.event_type}, expected one of {sorted(allowed)}")
        if cause.occurred_at > event.occurred_at:
            found.append(f"{name} occurred before its cause {cause.event_type}")
    return found


def test_a_python_avro_consumer_rebuilds_every_saga_from_the_topics(stubs, channels, follower):
    user_pb, user_grpc = stubs["user"]
    product_pb, product_grpc = stubs["product"]
    order_pb, order_grpc = stubs["order"]
    users = user_grpc.UserServiceStub(channels["user"])
    products = product_grpc.ProductServiceStub(channels["product"])
    orders = order_grpc.OrderServiceStub(channels["order"])

    # A customer, and the admin who tops them up.
    admin = users.AuthenticateUser(
        user_pb.AuthenticateUserRequest(
            email=env("SAGAWAY_TEST_ADMIN_EMAIL"), password=env("SAGAWAY_TEST_ADMIN_PASSWORD")
        ),
        timeout=10,
    ).user
    customer = users.RegisterUser(
        user_pb.RegisterUserRequest(
            email=f"py-journey-{uuid.uuid4().hex[:12]}@example.com",
            password="correct horse battery",
            display_name="Journey",
        ),
        timeout=10,
    ).user
    me = identity(customer.user_id)

    # The best-stocked product for the orders that get as far as a payment, the least stocked
    # one to order more than there is.
    listed = products.ListProducts(product_pb.ListProductsRequest(page_size=100), metadata=me, timeout=5)
    catalog = list(listed.products)
    plenty = max(catalog, key=lambda p: p.stock.available)
    scarce = min(catalog, key=lambda p: p.stock.available)
    price = plenty.price.amount_minor
    assert plenty.stock.available >= 3 and price > 1, f"the demo catalog cannot run this test: {plenty}"
    assert scarce.stock.available < 10_000, "an order may ask for at most 10 000 units"

    # Enough for one unit, not for two: the two-unit order fails whichever is paid first.
    top_up = price + 1
    users.TopUpBalance(
        user_pb.TopUpBalanceRequest(
            user_id=customer.user_id, amount={"amount_minor": top_up, "currency_code": plenty.price.currency_code}
        ),
        metadata=identity(admin.user_id, roles="admin"),
        timeout=10,
    )

    items = {
        "completes": [(plenty.product_id, 1)],
        "short of funds": [(plenty.product_id, 2)],
        "out of stock": [(scarce.product_id, scarce.stock.available + 1)],
    }
    placed = {}  # scenario -> (order id, correlation id)
    for scenario, lines in items.items():
        correlation_id = f"py-journey-{uuid.uuid4()}"
        created = orders.CreateOrder(
            order_pb.CreateOrderRequest(items=[order_pb.OrderItem(product_id=p, quantity=q) for p, q in lines]),
            metadata=identity(customer.user_id, request_id=correlation_id),
            timeout=10,
        )
        assert created.status == order_pb.ORDER_STATUS_PENDING
        placed[scenario] = (created.order_id, correlation_id)
    order_ids = {order_id: scenario for scenario, (order_id, _) in placed.items()}

    deadline = time.monotonic() + DEADLINE_SECONDS
    settled = follower.run_until(lambda f: all(f.journey(o).settled for o in order_ids), deadline)
    follower.run_until(lambda f: False, time.monotonic() + LINGER_SECONDS)
    seen = render_all(follower.journey(o) for o in order_ids)
    assert not follower.undecodable, f"messages the consumer could not decode: {follower.undecodable}\n{seen}"
    assert settled, f"not every journey settled within {DEADLINE_SECONDS} s; seen:\n{seen}"
    # Other orders' events may share the topics; none of them may carry this test's correlation ids.
    ours = {correlation_id for _, correlation_id in placed.values()}
    strays = [e for j in follower.journeys.values() if j.order_id not in order_ids for e in j.events]
    strays = [f"{e.event_type} of order {e.order_id}" for e in strays if e.correlation_id in ours]
    assert not strays, f"events with this test's correlation ids filed under other orders: {strays}\n{seen}"

    failures = {}
    for scenario, (order_id, correlation_id) in placed.items():
        found = problems_with(follower.journey(order_id), SCENARIOS[scenario], correlation_id)
        if found:
            failures[scenario] = found
    assert not failures, "\n".join(
        [f"{scenario}: " + "; ".join(found) for scenario, found in failures.items()] + ["journeys seen:", seen]
    )

    # The money in the events adds up, and the services agree with what the consumer saw.
    happy = follower.journey(placed["completes"][0])
    amounts = {e.event_type: e.payload.get("total_minor", e.payload.get("amount_minor")) for e in happy.events}
    assert amounts["StockReserved"] == amounts["PaymentCompleted"] == amounts["OrderCompleted"] == price, seen
    short = follower.journey(placed["short of funds"][0])
    failed_payment = next(e for e in short.events if e.event_type == "PaymentFailed")
    assert failed_payment.payload["amount_minor"] == 2 * price, seen

    wanted_status = {
        COMPLETED: order_pb.ORDER_STATUS_COMPLETED,
        PAYMENT_FAILED: order_pb.ORDER_STATUS_PAYMENT_FAILED,
        REJECTED: order_pb.ORDER_STATUS_REJECTED,
    }
    for scenario, (order_id, _) in placed.items():
        expected = wanted_status[SCENARIOS[scenario]["outcome"]]
        order = orders.GetOrder(order_pb.GetOrderRequest(order_id=order_id), metadata=me, timeout=5)
        # The order service may apply a failure after the product service's reaction to it.
        while order.status != expected and time.monotonic() < deadline:
            time.sleep(0.2)
            order = orders.GetOrder(order_pb.GetOrderRequest(order_id=order_id), metadata=me, timeout=5)
        assert order.status == expected, (
            f"{scenario}: GetOrder says {order_pb.OrderStatus.Name(order.status)}, "
            f"the events say {SCENARIOS[scenario]['outcome']}\n{seen}"
        )
        # Every status change an event caused names an event the consumer saw, of that type.
        history = orders.ListOrderStatusHistory(
            order_pb.ListOrderStatusHistoryRequest(order_id=order_id), metadata=me, timeout=5
        ).changes
        journey_ids = {e.event_id: e.event_type for e in follower.journey(order_id).events}
        for change in history:
            if change.event_type in ("CreateOrder", "CancelOrder"):
                continue
            assert journey_ids.get(change.event_id) == change.event_type.rsplit(".", 1)[-1], (
                f"{scenario}: the status history's {change.event_type} {change.event_id} is not among "
                f"the events seen\n{seen}"
            )
    balance = users.GetMe(user_pb.GetMeRequest(), metadata=me, timeout=5).balance.amount_minor
    assert balance == top_up - price, f"one payment of {price} from {top_up}, balance {balance}\n{seen}"
