"""What Claude Code expects of a gateway (ANTHROPIC_BASE_URL): the requests below have the shape the real CLI
(2.1.x) sends, captured from it; the official anthropic SDK is the client where it has a method for the call."""

from __future__ import annotations

import urllib.error
import urllib.request

import anthropic
import orjson
import pytest

from tests.gateway_process import GatewayProcess
from tests.upstreams import FakeAnthropic, FakeOpenAI

CLAUDE_CODE_BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,effort-2025-11-24"
)
ENVIRONMENT = "# Environment\nPrimary working directory: /tmp/project"


def _claude_code_body(model: str = "claude-opus-5-5", **extra: object) -> dict[str, object]:
    return {
        "model": model,
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332;"},
            {"type": "text", "text": "You are an agent.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "say hello"}]},
            {
                "role": "system",
                "content": [{"type": "text", "text": ENVIRONMENT, "cache_control": {"type": "ephemeral"}}],
            },
        ],
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": '{"session_id":"c8764450"}'},
        "stream": False,
        **extra,
    }


def _post(
    gateway: GatewayProcess, path: str, body: dict[str, object], **headers: str
) -> tuple[int, dict[str, str], object]:
    request = urllib.request.Request(
        gateway.url + path,
        data=orjson.dumps(body),
        headers={
            "content-type": "application/json",
            "x-api-key": "dummy",
            "anthropic-version": "2023-06-01",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, orjson.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, orjson.loads(err.read())


def test_beta_query_betas_and_mid_conversation_system(gateway: GatewayProcess, fake_anthropic: FakeAnthropic) -> None:
    status, headers, body = _post(
        gateway, "/v1/messages?beta=true", _claude_code_body(), **{"anthropic-beta": CLAUDE_CODE_BETAS}
    )
    assert status == 200, body
    assert headers["x-tierwise-tier"] == "escalation" and headers["x-tierwise-model"] == "claude-opus-4-7"
    assert "matches pattern '*claude*opus*'" in headers["x-tierwise-reason"]
    sent = fake_anthropic.requests[-1]
    # The betas reach Anthropic in the client's order, less per-turn-control: the system message was rewritten.
    assert sent.headers["anthropic-beta"] == CLAUDE_CODE_BETAS.replace("per-turn-control-2026-07-01,", "")
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body["context_management"] == {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
    # The mid-conversation system message stays in place, as a marked block on the user's side, cache mark kept.
    assert [m["role"] for m in sent.body["messages"]] == ["user"]
    reminder = sent.body["messages"][0]["content"][-1]
    assert reminder == {
        "type": "text",
        "text": f"<system-reminder>\n{ENVIRONMENT}\n</system-reminder>",
        "cache_control": {"type": "ephemeral"},
    }
    assert sent.body["system"][1]["text"] == "You are an agent."


def test_any_client_version_is_accepted_and_ours_is_sent(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    status, _, _ = _post(gateway, "/v1/messages", _claude_code_body(), **{"anthropic-version": "2026-10-21"})
    assert status == 200
    assert fake_anthropic.requests[-1].headers["anthropic-version"] == "2023-06-01"
    assert "anthropic-beta" not in fake_anthropic.requests[-1].headers  # the client declared none


def test_system_message_reaches_an_openai_upstream_in_place(gateway: GatewayProcess, fake_openai: FakeOpenAI) -> None:
    body = _claude_code_body("gpt-5.1")
    status, _, answer = _post(gateway, "/v1/messages", body, **{"anthropic-beta": CLAUDE_CODE_BETAS})
    assert status == 200, answer
    sent = fake_openai.requests[-1]
    assert [m["role"] for m in sent.body["messages"]] == ["system", "system", "user", "system"]
    assert sent.body["messages"][3]["content"] == ENVIRONMENT
    assert "anthropic-beta" not in sent.headers
    # Context editing is a server-side saving Chat Completions lacks: the upstream gets the whole conversation.
    assert "context_management" not in sent.body


def test_a_system_message_holds_text_only(gateway: GatewayProcess) -> None:
    body = _claude_code_body()
    body["messages"] = [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": [{"type": "image", "source": {"type": "url", "url": "http://x"}}]},
    ]
    status, _, answer = _post(gateway, "/v1/messages", body)
    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "messages.1.content.0" in answer["error"]["message"]  # type: ignore[index]


def test_count_tokens_is_the_upstreams_own_count_for_anthropic_models(
    gateway: GatewayProcess, fake_anthropic: FakeAnthropic
) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="dummy", max_retries=0)
    raw = client.messages.with_raw_response.count_tokens(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "count these words please"}]
    )
    counted = raw.parse()
    sent = fake_anthropic.requests[-1]
    assert sent.path == "/v1/messages/count_tokens"
    assert "max_tokens" not in sent.body and sent.body["model"] == "claude-sonnet-4-6"
    assert counted.input_tokens == (len("count these words please") + 3) // 4  # the fake's rule
    assert raw.headers["x-tierwise-token-count"].startswith("exact")


def test_count_tokens_estimates_with_o200k_for_other_models(gateway: GatewayProcess, fake_openai: FakeOpenAI) -> None:
    before = len(fake_openai.requests)
    status, headers, body = _post(
        gateway,
        "/v1/messages/count_tokens",
        {"model": "gpt-5.1", "messages": [{"role": "user", "content": "Hello world, hello world."}]},
    )
    assert status == 200
    assert headers["x-tierwise-token-count"].startswith("estimate; o200k_base")
    assert body == {"input_tokens": 4 + 6}  # message overhead + Hello|" world"|","|" hello"|" world"|"."
    assert len(fake_openai.requests) == before  # no upstream call


def test_count_tokens_refuses_bad_bodies_in_anthropic_shape(gateway: GatewayProcess) -> None:
    status, _, body = _post(gateway, "/v1/messages/count_tokens", {"model": "auto", "messages": []})
    assert status == 400 and body["type"] == "error"  # type: ignore[index]


@pytest.mark.parametrize("name", ["claude-opus-5-5", "tier/speed", "auto", "claude-haiku-4-5"])
def test_models_can_be_fetched_one_by_one(gateway: GatewayProcess, name: str) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="dummy", max_retries=0)
    assert client.models.retrieve(name).id == name


def test_an_unknown_model_is_404_in_the_clients_shape(gateway: GatewayProcess) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="dummy", max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as info:
        client.models.retrieve("llama-9")
    assert "llama-9" in str(info.value)


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_the_base_url_answers(gateway: GatewayProcess, method: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(gateway.url + "/", method=method), timeout=10) as response:
        assert response.status == 200
        body = response.read()
    assert (body == b"") if method == "HEAD" else (orjson.loads(body)["name"] == "tierwise")
