"""What a gateway answer must look like, whatever was sent: the shared checks of the hostile-input tests."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

Api = Literal["openai", "anthropic"]
PATHS: dict[Api, str] = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
# Text that only a Python traceback or repr would put in a body.
ANTHROPIC_ERROR_TYPES = {  # https://docs.anthropic.com/en/api/errors
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "timeout_error",
    "overloaded_error",
}
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "/', "internal gateway error", "Server got itself")


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: Mapping[str, str]  # lower-case names
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Http:
    """A keep-alive HTTP/1.1 client that sends whatever bytes it is given (header values included)."""

    def __init__(self, base_url: str, timeout: float = 15.0) -> None:
        parts = urlsplit(base_url)
        self._host, self._port, self._timeout = parts.hostname or "127.0.0.1", parts.port, timeout
        self._connection: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        content: bytes | Iterable[bytes] | None = None,
        headers: Mapping[str, str | bytes] | None = None,
    ) -> Response:
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile is retried once
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            try:
                chunked = content is not None and not isinstance(content, bytes)
                self._connection.request(
                    method, path, body=content, headers=dict(headers or {}), encode_chunked=chunked
                )
                raw = self._connection.getresponse()
                body = raw.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2 or not isinstance(content, bytes | None):
                    raise
                continue
            if raw.getheader("connection", "").lower() == "close":
                self.close()
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, body)
        raise AssertionError("unreachable")

    def post(self, path: str, content: bytes | Iterable[bytes], headers: Mapping[str, str | bytes]) -> Response:
        return self.request("POST", path, content, headers)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def assert_error_shape(api: Api, body: Any) -> None:
    """The error body of the API the client spoke, exactly in its outline."""
    if api == "openai":
        assert isinstance(body, dict) and set(body) == {"error"}, body
        error = body["error"]
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["type"], str) and error["type"]
    else:
        assert isinstance(body, dict) and body.get("type") == "error", body
        error = body["error"]
        assert error["type"] in ANTHROPIC_ERROR_TYPES, error
        assert isinstance(error["message"], str) and error["message"]


def assert_success_shape(api: Api, body: Any) -> None:
    if api == "openai":
        assert body["object"] == "chat.completion" and isinstance(body["choices"], list), body
    else:
        assert body["type"] == "message" and isinstance(body["content"], list), body


def _sse_payloads(text: str) -> list[str]:
    return [line[len("data:") :].strip() for line in text.splitlines() if line.startswith("data:")]


def assert_well_formed(api: Api, response: Response) -> None:
    """Never a 500, never a traceback; a 4xx (or an upstream 502/503/504) in the API's error shape, or a success.

    502/503/504 are allowed only as well-formed errors: they are what an exhausted fallback list answers.
    """
    status = response.status_code
    text = response.text
    assert status != 500, text[:500]
    assert status < 500 or status in (502, 503, 504), (status, text[:500])
    for mark in TRACEBACK_MARKS:
        assert mark not in text, (status, text[:500])
    if status == 200 and response.headers.get("content-type", "").startswith("text/event-stream"):
        payloads = _sse_payloads(text)
        assert payloads, text[:500]
        for payload in payloads:
            if payload != "[DONE]":
                json.loads(payload)  # every event is JSON
        return
    assert response.headers.get("content-type", "").startswith("application/json"), (status, text[:300])
    body = response.json()
    if status >= 400:
        assert_error_shape(api, body)
    else:
        assert_success_shape(api, body)
