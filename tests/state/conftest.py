"""The real Redis and PostgreSQL the scale-out tests use (``eval "$(bash scripts/services.sh)"`` starts them).

Without TIERWISE_TEST_REDIS_URL / TIERWISE_TEST_POSTGRES_URL these tests are skipped, except under CI=true,
where a missing server is a failure.
"""

from __future__ import annotations

import os

import pytest


def _service(variable: str) -> str:
    url = os.environ.get(variable)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{variable} is not set: CI must run the real server (scripts/services.sh)")
    pytest.skip(f'{variable} is not set (eval "$(bash scripts/services.sh)" starts the server)')


def redis_url() -> str:
    return _service("TIERWISE_TEST_REDIS_URL")


def postgres_url() -> str:
    return _service("TIERWISE_TEST_POSTGRES_URL")
