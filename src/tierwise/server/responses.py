"""``POST /v1/responses``: the chat endpoint for the OpenAI Responses API.

It differs from the other two in what the answer depends on: the response object repeats the request's fields
and tools, its id is the gateway's (``resp_`` + the ledger's request id), and answers are kept for
``previous_response_id`` in a ``ResponseStore``.
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from tierwise.ledger.entry import LedgerEntry
from tierwise.server.chat import ChatEndpoint
from tierwise.server.response_store import ResponseStore, joined
from tierwise.types import ChatRequest, ChatResponse
from tierwise.wire import responses
from tierwise.wire.format import StreamRenderer

_CALLER = "__caller__"  # the gateway key that asked, for the store (never sent upstream)


def response_id(entry: LedgerEntry) -> str:
    return "resp_" + entry.request_id.removeprefix("twr_")


class ResponsesEndpoint(ChatEndpoint):
    def __init__(self, store: ResponseStore | None = None) -> None:
        super().__init__("responses")
        self.store = store if store is not None else ResponseStore()

    def parse(self, body: object, request: web.Request, caller: str | None) -> ChatRequest:
        chat = responses.parse_request(body)
        previous = chat.extensions["responses"].get("previous_response_id")
        if previous is not None:
            history = self.store.history(previous, caller)
            chat = dataclasses.replace(chat, messages=joined(history, chat.messages))
        chat.extensions["responses"][_CALLER] = caller
        return chat

    def _keep(self, chat: ChatRequest, response: ChatResponse, entry: LedgerEntry) -> None:
        sent = chat.extensions["responses"]
        if sent.get("store") is not False:
            self.store.put(response_id(entry), sent[_CALLER], chat.messages, response)

    def render_response(self, response: ChatResponse, chat: ChatRequest, entry: LedgerEntry) -> bytes:
        body = responses.render_response(response, request=chat, response_id=response_id(entry))
        self._keep(chat, response, entry)
        return body

    def stream_renderer(self, chat: ChatRequest, entry: LedgerEntry) -> StreamRenderer:
        return responses.StreamRenderer(request=chat, response_id=response_id(entry))

    def stream_finished(self, chat: ChatRequest, renderer: StreamRenderer, entry: LedgerEntry) -> None:
        result = getattr(renderer, "result", None)
        if isinstance(result, ChatResponse):
            self._keep(chat, result, entry)
