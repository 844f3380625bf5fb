"""Shared fixtures: the registry scripts/test.sh started for these tests, and Python gRPC
stubs generated from proto/."""

import importlib
import os
import pathlib
import sys
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVICE_NAMES = ("order", "product", "user")


@pytest.fixture(scope="session")
def registry_url():
    url = os.environ.get("SAGAWAY_TEST_REGISTRY_URL")
    if not url:
        pytest.fail("SAGAWAY_TEST_REGISTRY_URL is not set: run these tests through scripts/test.sh")
    return url


@pytest.fixture
def subject():
    """A subject no other test uses."""
    return f"py-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    """Generates Python code for every proto in proto/ and imports the service modules."""
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("generated")
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    files = [str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto")]
    code = protoc.main(
        ["protoc", f"-I{ROOT / 'proto'}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *files]
    )
    assert code == 0, "protoc failed on proto/"
    sys.path.insert(0, str(out))
    modules = {}
    for name in SERVICE_NAMES:
        modules[name] = (
            importlib.import_module(f"sagaway.{name}.v1.{name}_pb2"),
            importlib.import_module(f"sagaway.{name}.v1.{name}_pb2_grpc"),
        )
    return modules
