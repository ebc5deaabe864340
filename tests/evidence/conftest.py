"""A gateway whose tiers are models of a recorded outcome table, served by the table upstream and judged by
the table judge (``tests/upstreams/outcome_table.py``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DATA_DIR
from tests.gateway_process import GatewayProcess
from tests.upstreams import running
from tests.upstreams.outcome_table import Table, TableJudge, TableUpstream

MATH = DATA_DIR / "zeroeval-math-hard"
TIERS = {
    "speed": "gpt-4o-mini-2024-07-18",
    "default": "claude-3-5-sonnet-20240620",
    "escalation": "gpt-4o-2024-08-06",
}
TABLE_KEY = "sk-table-upstream-SECRET-4242"


@pytest.fixture(scope="session")
def math_table() -> Table:
    if not MATH.exists():
        pytest.skip(f"outcome data not found at {MATH}")
    return Table.load(MATH)


@pytest.fixture(scope="session")
def table_upstream(math_table: Table) -> Iterator[TableUpstream]:
    with running(TableUpstream(math_table, api_key=TABLE_KEY)) as server:  # type: ignore[type-var,unused-ignore]
        yield server


@pytest.fixture
def table_judge(math_table: Table) -> Iterator[TableJudge]:
    with running(TableJudge(math_table)) as server:  # type: ignore[type-var,unused-ignore]
        yield server


def table_config(table: Table, upstream_url: str, **sections: Any) -> dict[str, Any]:
    models = {}
    for model in TIERS.values():
        price_in, price_out = table.prices[model]
        models[model] = {
            "provider": "table",
            "id": model,
            "capabilities": ["tools"],
            "prices": {"input": price_in, "output": price_out},
        }
    config: dict[str, Any] = {
        "providers": {"table": {"kind": "openai", "base_url": upstream_url, "api_key_env": "TABLE_KEY"}},
        "models": models,
        "tiers": {tier: [model] for tier, model in TIERS.items()},
        "routing": {"policy": "rules", "sticky_sessions": False},
        "reliability": {"retries": 0},
    }
    config.update(sections)
    return config


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], GatewayProcess]]:
    started: list[GatewayProcess] = []

    def start(config: dict[str, Any]) -> GatewayProcess:
        path = tmp_path / "tierwise.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        process = GatewayProcess(tmp_path, env={"TABLE_KEY": TABLE_KEY}, config=path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def prompts(table: Table, n: int, skip: int = 0) -> list[str]:
    return list(table.prompts)[skip : skip + n]


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the evidence")


def rows(db: Path, sql: str, values: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import sqlite3

    if not db.exists():
        return []
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(connection.execute(sql, values))
    except sqlite3.OperationalError:
        return []
    finally:
        connection.close()


def dumps(value: Any) -> str:
    return json.dumps(value)
