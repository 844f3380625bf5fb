"""Shared fixtures: the registry scripts/test.sh started for these tests."""

import os
import uuid

import pytest


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
