"""Upstream keys never leave the gateway: not in responses, not in its output, not in the ledger file.

The fake upstreams here quote the key they were sent in their 401 bodies, in full, as some providers and
proxies do; the keys are recognisable canaries, one of them in no well-known key format at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.e2e.shapes import PATHS, Api, Http, assert_well_formed
from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI, running

OPENAI_CANARY = "tw-canary-openai-7f3a9c2e51d84b06"  # no "sk-" prefix: a redaction regex cannot guess it
ANTHROPIC_CANARY = "sk-ant-canary-anthropic-b29e4d7c13f0aa"
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "src" / "tierwise" / "config" / "default.yaml"
CANARIES = (OPENAI_CANARY, ANTHROPIC_CANARY, "7f3a9c2e51d84b06", "b29e4d7c13f0aa")


class _Quoting:
    """Answers the next ``reject`` requests with a 401 that quotes the key the caller sent."""

    reject = 0

    def quoted_401(self, request: web.Request) -> web.Response | None:
        if self.reject <= 0:
            return None
        self.reject -= 1
        sent = request.headers.get("x-api-key") or request.headers.get("authorization", "")
        return self.error(401, f"Incorrect API key provided: {sent}. Rotate it at https://example.invalid/keys.")  # type: ignore[attr-defined,no-any-return]


class QuotingOpenAI(_Quoting, FakeOpenAI):
    def authenticate(self, request: web.Request) -> web.Response | None:
        return self.quoted_401(request) or super().authenticate(request)


class QuotingAnthropic(_Quoting, FakeAnthropic):
    def authenticate(self, request: web.Request) -> web.Response | None:
        return self.quoted_401(request) or super().authenticate(request)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[QuotingOpenAI, QuotingAnthropic]]:
    with running(QuotingOpenAI(api_key=OPENAI_CANARY)) as oa, running(QuotingAnthropic(api_key=ANTHROPIC_CANARY)) as an:
        yield oa, an


HEADERS: dict[Api, dict[str, str]] = {
    "openai": {"content-type": "application/json"},
    "anthropic": {"content-type": "application/json", "anthropic-version": "2023-06-01"},
}


def body(api: Api, text: str, *, model: str = "auto", stream: bool = False) -> bytes:
    payload: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if api == "anthropic":
        payload["max_tokens"] = 40
    if stream:
        payload["stream"] = True
    return json.dumps(payload).encode()


def test_keys_appear_in_no_response_no_log_and_no_ledger(
    tmp_path: Path, upstreams: tuple[QuotingOpenAI, QuotingAnthropic]
) -> None:
    oa, an = upstreams
    env = {
        "OPENAI_BASE_URL": oa.url,
        "OPENAI_API_KEY": OPENAI_CANARY,
        "ANTHROPIC_BASE_URL": an.url,
        "ANTHROPIC_API_KEY": ANTHROPIC_CANARY,
    }
    # No retries and no circuit breaker: each all-rejecting request then relays a 401 quickly and predictably.
    config = (
        DEFAULT_CONFIG.read_text().replace("  retries: 1 ", "  retries: 0 ").replace("enabled: true", "enabled: false")
    )
    assert "retries: 0" in config and "enabled: false" in config
    (tmp_path / "tierwise.yaml").write_text(config)
    gateway = GatewayProcess(tmp_path, env=env, config=tmp_path / "tierwise.yaml")
    http = Http(gateway.url)
    seen: list[str] = []
    statuses: list[int] = []
    try:
        for api in ("openai", "anthropic"):
            cases = [
                (body(api, "hello"), 0),
                (body(api, "stream please " * 5, stream=True), 0),
                (body(api, "[[fail:500]] x"), 0),
                (body(api, "[[drop:2]] a long answer " * 4, stream=True), 0),
                (body(api, "[[error:2]] a long answer " * 4, stream=True), 0),
                (body(api, "[[fail:429]] x", model="tier/speed"), 0),
                (body(api, "every upstream rejects the key"), 50),  # all fallbacks get a quoting 401
                (body(api, "streamed, every upstream rejects", stream=True), 50),
                (body(api, "first upstream rejects the key", model="tier/escalation"), 1),
                (body(api, "x", model="no-such-model"), 0),
                (b"{broken", 0),
            ]
            for payload, rejections in cases:
                oa.reject = an.reject = rejections
                response = http.post(PATHS[api], payload, HEADERS[api])
                assert_well_formed(api, response)
                statuses.append(response.status_code)
                seen.append(response.text)
                seen.append(json.dumps(dict(response.headers)))
        for path in ("/v1/models", "/readyz", "/healthz"):
            seen.append(http.get(path).text)
    finally:
        http.close()
        oa.reject = an.reject = 0
        assert gateway.stop() == 0
    # The mix really exercised failures, including relayed upstream 401s.
    assert {200, 400, 404} <= set(statuses) and any(s >= 500 for s in statuses)
    assert sum("Incorrect API key provided: Bearer [redacted]" in text for text in seen) >= 4
    log = gateway.log()
    stored = [p for p in tmp_path.rglob("*") if p.is_file() and "tierwise.db" in str(p.relative_to(tmp_path))]
    ledger = b"".join(p.read_bytes() for p in stored)  # the database, its WAL and the journal
    assert ledger
    assert b"Incorrect API key provided" in ledger  # the relayed messages were recorded, redacted
    for canary in CANARIES:
        leaks = [text[:300] for text in seen if canary in text]
        assert not leaks, f"{canary} leaked in responses: {leaks}"
        assert canary not in log, "leaked in the gateway's output"
        assert canary.encode() not in ledger, "leaked in the ledger file"
