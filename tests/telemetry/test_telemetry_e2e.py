"""/metrics, the access log and OTLP traces from a real gateway process, checked against its ledger."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anthropic
import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import upstream_env
from tests.gateway_process import GatewayProcess
from tests.telemetry.prometheus import parse_metrics, total
from tests.upstreams import FakeAnthropic, FakeOpenAI
from tierwise.config.loader import default_config_text


class OtlpReceiver:
    """A minimal OTLP/HTTP trace receiver (protobuf over POST /v1/traces), in this process."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                if self.path == "/v1/traces":
                    receiver.requests.append(message)
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self) -> list[object]:
        return [
            span
            for message in self.requests
            for resource in message.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def scrape(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        return response.headers["content-type"], response.read().decode()


def test_metrics_access_log_and_traces_agree_with_the_ledger(
    tmp_path: Path, fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI, otlp: OtlpReceiver
) -> None:
    config = tmp_path / "tierwise.yaml"
    config.write_text(
        default_config_text()
        + f"\ntelemetry:\n  access_log: {tmp_path / 'access.jsonl'}\n  otlp_endpoint: {otlp.url}\n"
        + "  service_name: tierwise-test\n"
    )
    gateway = GatewayProcess(tmp_path, env=upstream_env(fake_anthropic, fake_openai), config=config)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    try:
        oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
        an = anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)
        oa.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "one"}],
            extra_headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
        list(oa.chat.completions.create(model="tier/speed", messages=[{"role": "user", "content": "two"}], stream=True))
        an.messages.create(model="tier/escalation", max_tokens=20, messages=[{"role": "user", "content": "three"}])
        with contextlib.suppress(openai.NotFoundError):
            oa.chat.completions.create(model="nope", messages=[{"role": "user", "content": "four"}])
        deadline = time.monotonic() + 20
        while True:  # the ledger's writer feeds the metrics every 50 ms
            content_type, text = scrape(gateway.url)
            metrics = parse_metrics(text)
            if total(metrics, "tierwise_requests_total") >= 4 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        assert gateway.stop() == 0
    assert content_type.startswith("text/plain; version=0.0.4")
    rows = (
        sqlite3.connect(gateway.ledger_path)
        .execute("SELECT request_id, model, status, input_tokens, output_tokens, cost_usd, stream FROM requests")
        .fetchall()
    )
    assert len(rows) == 4
    assert total(metrics, "tierwise_requests_total") == 4
    for model in {row[1] for row in rows if row[1]}:
        assert total(metrics, "tierwise_requests_total", model=model) == sum(1 for row in rows if row[1] == model)
    assert total(metrics, "tierwise_requests_total", code="404") == 1
    assert total(metrics, "tierwise_request_errors_total", kind="NotFound") == 1
    assert total(metrics, "tierwise_tokens_total", kind="input") == sum(row[3] for row in rows)
    assert total(metrics, "tierwise_tokens_total", kind="output") == sum(row[4] for row in rows)
    spent = sum(Decimal(row[5]) for row in rows if row[5] is not None)
    assert abs(Decimal(str(total(metrics, "tierwise_cost_usd_total"))) - spent) < Decimal("1e-9")
    assert total(metrics, "tierwise_request_duration_seconds_count") == 4
    assert total(metrics, "tierwise_time_to_first_token_seconds_count") == 1  # the one stream
    assert metrics[("tierwise_circuit_state", (("model", "claude-sonnet-4-6"),))] == 0
    for name, labels in metrics:  # nothing a client chooses becomes a label
        assert {key for key, _ in labels} <= {"api", "policy", "tier", "model", "code", "kind", "stream", "le",
                                              "from_tier", "to_tier"}, name  # fmt: skip

    lines = [json.loads(line) for line in (tmp_path / "access.jsonl").read_text().splitlines()]
    assert sorted(line["request_id"] for line in lines) == sorted(row[0] for row in rows)
    assert {line["status"] for line in lines} == {200, 404}

    deadline = time.monotonic() + 20  # the exporter sent its batch when the gateway stopped
    while len(otlp.spans()) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    spans = otlp.spans()
    assert len(spans) == 4
    resource = otlp.requests[0].resource_spans[0].resource
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == "tierwise-test"
    by_request = {}
    for span in spans:
        attributes = {a.key: a.value for a in span.attributes}  # type: ignore[attr-defined]
        by_request[attributes["tierwise.request_id"].string_value] = (span, attributes)
    auto_id = next(row[0] for row in rows if row[1] == "claude-sonnet-4-6" and row[6] == 0)
    span, attributes = by_request[auto_id]
    assert span.trace_id.hex() == trace_id  # the caller's trace continues through the gateway
    assert span.name == "chat auto"
    assert attributes["gen_ai.operation.name"].string_value == "chat"
    assert attributes["gen_ai.provider.name"].string_value == "anthropic"
    assert attributes["gen_ai.request.model"].string_value == "auto"
    assert attributes["gen_ai.response.model"].string_value
    auto_row = next(row for row in rows if row[0] == auto_id)
    assert attributes["gen_ai.usage.input_tokens"].int_value == auto_row[3]
    assert attributes["gen_ai.usage.output_tokens"].int_value == auto_row[4]
    assert attributes["tierwise.tier"].string_value == "default"
    assert Decimal(str(attributes["tierwise.cost_usd"].double_value)) == pytest.approx(Decimal(auto_row[5]))
