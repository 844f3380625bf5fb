"""A client in another language: Python stubs generated from proto/ at test time (grpcio-tools,
no Rust involved) call every service, and read its health and reflection, the way a team
writing a new service in Python would."""

import os
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

SERVICES = {
    "order": ("SAGAWAY_TEST_ORDER_ADDR", "sagaway.order.v1.OrderService"),
    "product": ("SAGAWAY_TEST_PRODUCT_ADDR", "sagaway.product.v1.ProductService"),
    "user": ("SAGAWAY_TEST_USER_ADDR", "sagaway.user.v1.UserService"),
}


def address(name):
    variable = SERVICES[name][0]
    value = os.environ.get(variable)
    if not value:
        pytest.fail(f"{variable} is not set: run these tests through scripts/test.sh")
    return value


def channel(name):
    return grpc.insecure_channel(address(name))


def identity(user_id, roles="customer"):
    return (("x-sagaway-user-id", user_id), ("x-sagaway-roles", roles), ("x-sagaway-session-id", "py-session"))


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_reports_serving_and_lists_itself_by_reflection(name):
    service = SERVICES[name][1]
    with channel(name) as ch:
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        answers = list(reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(iter([request]), timeout=5))
        listed = [s.name for s in answers[0].list_services_response.service]
        assert service in listed and "grpc.health.v1.Health" in listed


def test_a_user_registers_authenticates_and_reads_themself(stubs):
    pb, grpc_pb = stubs["user"]
    email = f"py-{uuid.uuid4().hex[:12]}@example.com"
    with channel("user") as ch:
        users = grpc_pb.UserServiceStub(ch)
        registered = users.RegisterUser(
            pb.RegisterUserRequest(email=email.upper(), password="correct horse battery", display_name="Py Client"),
            timeout=10,
        ).user
        assert registered.email == email, "stored normalized"
        authenticated = users.AuthenticateUser(
            pb.AuthenticateUserRequest(email=email, password="correct horse battery"), timeout=10
        ).user
        assert authenticated.user_id == registered.user_id
        me = users.GetMe(pb.GetMeRequest(), metadata=identity(registered.user_id), timeout=5)
        assert (me.email, me.balance.amount_minor) == (email, 0)
        with pytest.raises(grpc.RpcError) as wrong:
            users.AuthenticateUser(pb.AuthenticateUserRequest(email=email, password="wrong password!"), timeout=10)
        assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_bootstrapped_admin_can_log_in(stubs):
    pb, grpc_pb = stubs["user"]
    with channel("user") as ch:
        admin = grpc_pb.UserServiceStub(ch).AuthenticateUser(
            pb.AuthenticateUserRequest(
                email=os.environ["SAGAWAY_TEST_ADMIN_EMAIL"], password=os.environ["SAGAWAY_TEST_ADMIN_PASSWORD"]
            ),
            timeout=10,
        ).user
        assert pb.ROLE_ADMIN in admin.roles


def test_the_demo_catalog_is_browsable(stubs):
    pb, grpc_pb = stubs["product"]
    reader = identity(str(uuid.uuid4()))
    with channel("product") as ch:
        products = grpc_pb.ProductServiceStub(ch)
        listed = products.ListProducts(pb.ListProductsRequest(page_size=100), metadata=reader, timeout=5).products
        assert len(listed) >= 5, "the demo catalog was seeded"
        first = products.GetProduct(pb.GetProductRequest(product_id=listed[0].product_id), metadata=reader, timeout=5)
        assert first.sku == listed[0].sku and first.stock.available > 0


def test_a_python_client_places_reads_and_cancels_an_order(stubs):
    order_pb, order_grpc = stubs["order"]
    product_pb, product_grpc = stubs["product"]
    customer = identity(str(uuid.uuid4()))
    with channel("product") as ch:
        product = product_grpc.ProductServiceStub(ch).ListProducts(
            product_pb.ListProductsRequest(page_size=1), metadata=customer, timeout=5
        ).products[0]
    with channel("order") as ch:
        orders = order_grpc.OrderServiceStub(ch)
        created = orders.CreateOrder(
            order_pb.CreateOrderRequest(items=[order_pb.OrderItem(product_id=product.product_id, quantity=1)]),
            metadata=customer,
            timeout=10,
        )
        assert created.status == order_pb.ORDER_STATUS_PENDING
        fetched = orders.GetOrder(order_pb.GetOrderRequest(order_id=created.order_id), metadata=customer, timeout=5)
        assert fetched.lines[0].product_id == product.product_id
        mine = orders.ListOrders(order_pb.ListOrdersRequest(), metadata=customer, timeout=5).orders
        assert [o.order_id for o in mine] == [created.order_id]
        cancelled = orders.CancelOrder(
            order_pb.CancelOrderRequest(order_id=created.order_id, reason="testing from python"),
            metadata=customer,
            timeout=5,
        )
        assert cancelled.status == order_pb.ORDER_STATUS_CANCELLED


def test_errors_arrive_as_grpc_status_codes(stubs):
    user_pb, user_grpc = stubs["user"]
    order_pb, order_grpc = stubs["order"]
    with channel("user") as ch:
        with pytest.raises(grpc.RpcError) as missing:
            user_grpc.UserServiceStub(ch).GetMe(user_pb.GetMeRequest(), timeout=5)
        assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with channel("order") as ch:
        with pytest.raises(grpc.RpcError) as invalid:
            order_grpc.OrderServiceStub(ch).CreateOrder(
                order_pb.CreateOrderRequest(items=[order_pb.OrderItem(product_id="nope", quantity=0)]),
                metadata=identity(str(uuid.uuid4())),
                timeout=5,
            )
        assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        details = dict(invalid.value.trailing_metadata() or ())
        assert "grpc-status-details-bin" in details, "field violations travel as google.rpc.Status details"
