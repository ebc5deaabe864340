"""Fields of one API that reach a model behind another: refused by the same rules for every target."""

from __future__ import annotations

import dataclasses

import pytest

from tierwise.errors import InvalidRequest
from tierwise.types import ChatRequest, Message, TextPart
from tierwise.wire.format import wire_for


def test_anthropic_fields_a_responses_model_cannot_honour_are_refused() -> None:
    base = ChatRequest(model="m", messages=(Message(role="user", parts=(TextPart(text="hi"),)),))
    responses = wire_for("responses")
    mcp = {"anthropic": {"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}}
    for request, param in (
        (dataclasses.replace(base, top_k=5), "top_k"),
        (dataclasses.replace(base, extensions=mcp), "mcp_servers"),
    ):
        with pytest.raises(InvalidRequest) as err:
            responses.build_upstream_request(request, upstream_model="gpt-x")
        assert err.value.param == param and "gpt-x" in err.value.message
