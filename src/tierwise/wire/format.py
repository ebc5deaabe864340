"""The interface every wire-format module implements (``openai_chat``, ``anthropic_messages``, ``responses``).

A wire format is a module, not a class: it holds no state but its stream classes. Both directions live in
one module because they share the vocabulary of one API.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Literal, Protocol, cast

from tierwise.errors import TierwiseError, UpstreamStatusError
from tierwise.types import ApiName, ChatRequest, ChatResponse, StreamEvent
from tierwise.wire.sse import SseEvent

# The name an upstream wants for the output limit: OpenAI's reasoning models reject the older ``max_tokens``.
MaxTokensField = Literal["max_tokens", "max_completion_tokens"]


class StreamRenderer(Protocol):
    def event(self, ev: StreamEvent) -> bytes: ...
    def error(self, err: TierwiseError) -> bytes: ...
    def done(self) -> bytes: ...


class UpstreamStreamParser(Protocol):
    def feed(self, event: SseEvent) -> list[StreamEvent]: ...
    def finish(self) -> list[StreamEvent]: ...


class WireFormat(Protocol):
    UPSTREAM_PATH: str

    # Inbound: tierwise is the server.
    def parse_request(self, body: object) -> ChatRequest: ...
    def render_response(self, response: ChatResponse) -> bytes: ...
    def StreamRenderer(self, *, include_usage: bool) -> StreamRenderer: ...
    def render_error(self, err: TierwiseError) -> tuple[int, bytes]: ...

    # Upstream: tierwise is the client.
    def upstream_headers(self, api_key: str | None) -> dict[str, str]: ...
    def request_headers(self, request: ChatRequest) -> dict[str, str]:
        """Headers one request needs beyond the provider's fixed ones (Anthropic's beta features)."""
        ...

    def build_upstream_request(
        self,
        request: ChatRequest,
        *,
        upstream_model: str,
        default_max_tokens: int | None = None,
        max_tokens_field: MaxTokensField | None = None,
    ) -> bytes: ...
    def parse_upstream_response(self, body: bytes) -> ChatResponse: ...
    def UpstreamStreamParser(self) -> UpstreamStreamParser: ...
    def parse_upstream_error(self, status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamStatusError: ...


def wire_for(api: ApiName) -> WireFormat:
    from tierwise.wire import anthropic_messages, openai_chat, responses

    modules: dict[str, ModuleType] = {"anthropic": anthropic_messages, "openai": openai_chat, "responses": responses}
    return cast(WireFormat, modules[api])
