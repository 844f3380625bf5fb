"""compose.yaml runs the same system as scripts/up.sh: its services, ports and environment
variables must match the workspace and DESIGN.md. No Docker engine runs here, so this reads the
file instead of starting it."""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
RUST_SOURCES = "\n".join(p.read_text() for p in ROOT.glob("**/src/**/*.rs") if "target" not in p.parts)

# DESIGN.md: process -> (crate dir, published ports, database)
SAGAWAY = {
    "gateway": ("gateway", {8080}, None),
    "registry": ("services/registry", {8081}, "sagaway_registry"),
    "order": ("services/order", {50051, 51051}, "sagaway_orders"),
    "product": ("services/product", {50052, 51052}, "sagaway_products"),
    "user": ("services/user", {50053, 51053}, "sagaway_users"),
}
INFRA_PORTS = {"kafka": {9092}, "postgres": {5432}, "redis": {6379}}


def published(service):
    return {int(str(p).split(":")[0]) for p in SERVICES[service].get("ports", [])}


def env(service):
    return {k: str(v) for k, v in SERVICES[service].get("environment", {}).items()}


def test_compose_has_exactly_the_designed_processes():
    assert set(SERVICES) == set(SAGAWAY) | set(INFRA_PORTS)


@pytest.mark.parametrize("name", sorted(SAGAWAY))
def test_each_process_publishes_its_design_ports(name):
    assert published(name) == SAGAWAY[name][1]


@pytest.mark.parametrize("name", sorted(INFRA_PORTS))
def test_infrastructure_ports(name):
    assert published(name) == INFRA_PORTS[name]


@pytest.mark.parametrize("name", sorted(SAGAWAY))
def test_each_process_builds_its_own_binary_from_the_workspace(name):
    crate_dir, _, _ = SAGAWAY[name]
    manifest = (ROOT / crate_dir / "Cargo.toml").read_text()
    assert f'name = "sagaway-{name}"' in manifest
    assert SERVICES[name]["build"]["target"] == name
    dockerfile = (ROOT / "Dockerfile").read_text()
    stage = re.search(rf"^FROM \S+ AS {name}\b(.*?)(?=^FROM |\Z)", dockerfile, re.M | re.S)
    assert stage, f"Dockerfile has no target {name}"
    assert f"/usr/local/bin/sagaway-{name}" in stage.group(1)


@pytest.mark.parametrize("name", sorted(SAGAWAY))
def test_every_sagaway_variable_is_one_the_code_reads(name):
    for var in env(name):
        if var.startswith("SAGAWAY_"):
            assert f'"{var}"' in RUST_SOURCES, f"{name}: {var} is not read by any Rust code"


@pytest.mark.parametrize("name", ["order", "product", "user", "registry"])
def test_database_urls_point_at_each_process_own_database(name):
    url = env(name)["SAGAWAY_DATABASE_URL"]
    assert url.startswith("postgres://") and "@postgres:5432/" in url
    assert url.rsplit("/", 1)[1] == SAGAWAY[name][2]


@pytest.mark.parametrize("name", ["order", "product", "user"])
def test_grpc_services_reach_broker_and_registry_and_bind_design_ports(name):
    variables = env(name)
    grpc_port = min(SAGAWAY[name][1])
    assert variables["SAGAWAY_GRPC_ADDR"].endswith(f":{grpc_port}")
    assert variables["SAGAWAY_ADMIN_ADDR"].endswith(f":{grpc_port + 1000}")
    assert variables["SAGAWAY_KAFKA_BROKERS"] == "kafka:9092"
    assert variables["SAGAWAY_SCHEMA_REGISTRY_URL"] == "http://registry:8081"


def test_gateway_knows_redis_and_every_backend():
    variables = env("gateway")
    assert variables["SAGAWAY_REDIS_URL"] == "redis://redis:6379"
    assert variables["SAGAWAY_ORDER_URL"] == "http://order:50051"
    assert variables["SAGAWAY_PRODUCT_URL"] == "http://product:50052"
    assert variables["SAGAWAY_USER_URL"] == "http://user:50053"


def test_kafka_is_apache_kafka_in_kraft_mode():
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in str(kafka["environment"]["KAFKA_PROCESS_ROLES"])


def test_postgres_init_creates_every_database():
    sql = (ROOT / "scripts/compose/init-databases.sql").read_text()
    for _, _, database in SAGAWAY.values():
        if database:
            assert re.search(rf"CREATE DATABASE {database}\b", sql), database


def test_every_sagaway_process_has_a_readiness_healthcheck():
    for name in SAGAWAY:
        assert "/health/ready" in " ".join(SERVICES[name]["healthcheck"]["test"]), name
