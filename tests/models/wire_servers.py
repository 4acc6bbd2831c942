"""Loopback HTTP servers that speak the model services' real wire protocols.

They stand in for OpenAI (Responses and Chat Completions) and Ollama (its OpenAI-compatible
``/v1/chat/completions``): real sockets on 127.0.0.1, JSON bodies and Server-Sent Events framed
the way those services frame them, chunked transfer encoding for streams. Each server records
every request it receives and answers from a script of replies and faults, one per request.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Flavour = Literal["openai", "ollama"]


@dataclass(frozen=True)
class ToolCall:
    """A function call the scripted model makes."""

    name: str
    arguments: dict[str, Any]
    call_id: str = "call_1"


@dataclass(frozen=True)
class Reply:
    """One scripted model turn: text and/or tool calls, and the token usage to report."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int = 11
    output_tokens: int = 7


@dataclass(frozen=True)
class Fault:
    """A scripted failure.

    ``status``: an HTTP error with the service's JSON error body. ``malformed``: 200 with a
    body that is not JSON. ``cut``: the connection drops mid-answer: a JSON body stops before
    its Content-Length, a stream stops after its first events without finishing the chunked
    body.
    """

    kind: Literal["status", "malformed", "cut"]
    status: int = 500
    message: str = "error"


@dataclass
class Recorded:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class WireServer:
    """A model service on a loopback port chosen by the OS; ``start()`` / ``stop()`` it."""

    flavour: Flavour = "openai"
    delay: float = 0.0  # seconds to wait before answering each request
    requests: list[Recorded] = field(default_factory=list)
    _script: deque[Reply | Fault] = field(default_factory=deque)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the host, as ``OLLAMA_HOST`` takes it."""
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``<host>/v1``."""
        return f"{self.url}/v1"

    def enqueue(self, *items: Reply | Fault) -> None:
        """Answer the next requests, in order, with ``items``."""
        self._script.extend(items)

    @property
    def pending(self) -> int:
        """Scripted answers not yet used."""
        return len(self._script)

    def start(self) -> WireServer:
        wire = self

        class Handler(_Handler):
            server_state = wire

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def next_item(self) -> Reply | Fault | None:
        return self._script.popleft() if self._script else None


def unused_port_url() -> str:
    """A loopback URL on which nothing listens (the connection is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: WireServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_POST(self) -> None:
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up first (a timeout test)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        state = self.server_state
        state.requests.append(
            Recorded(
                method="POST",
                path=self.path,
                headers={key.lower(): value for key, value in self.headers.items()},
                body=body,
            )
        )
        time.sleep(state.delay)
        item = state.next_item()
        if self.path not in ("/v1/chat/completions", "/v1/responses"):
            self._send_json(404, _error_body(f"404 page not found: {self.path}", "not_found"))
            return
        if item is None:
            self._send_json(500, _error_body("the test script has no answer for this request"))
            return
        if isinstance(item, Fault) and item.kind == "status":
            self._send_json(item.status, _error_body(item.message, _error_type(item.status)))
            return
        if isinstance(item, Fault) and item.kind == "malformed":
            self._send_bytes(200, b"<html>upstream proxy error</html>", "application/json")
            return
        model = str(body.get("model", ""))
        responses_api = self.path == "/v1/responses"
        streaming = bool(body.get("stream"))
        reply = item if isinstance(item, Reply) else Reply(text="this answer is cut short")
        if not streaming:
            payload = _response_object(reply, model) if responses_api else _chat_completion(reply, model, state)
            encoded = json.dumps(payload).encode()
            if isinstance(item, Fault):
                self._send_truncated(encoded)
            else:
                self._send_bytes(200, encoded, "application/json")
            return
        if responses_api:
            events = list(_response_events(reply, model))
        else:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = list(_chat_chunks(reply, model, state.flavour, include_usage))
        self._send_stream(events, cut=isinstance(item, Fault))

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json")

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_truncated(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self._drop_connection()

    def _send_stream(self, events: list[bytes], *, cut: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, event in enumerate(events):
            if cut and index == 2:
                self._drop_connection()
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop_connection(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


def _error_type(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "invalid_request_error",
        403: "permission_error",
        404: "not_found_error",
    }.get(status, "api_error")


def _error_body(message: str, error_type: str = "api_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": None}}


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _sse(payload: dict[str, Any] | str, event: str | None = None) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def _pieces(text: str) -> list[str]:
    """Split text into a few stream deltas, the way a server emits tokens."""
    words = text.split(" ")
    return [word + (" " if index < len(words) - 1 else "") for index, word in enumerate(words)]


# --- Chat Completions (OpenAI and Ollama's /v1) ---------------------------------------------


def _chat_completion(reply: Reply, model: str, state: WireServer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or ""}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in reply.tool_calls
        ]
    completion: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": _usage(reply),
    }
    if state.flavour == "ollama":
        completion["system_fingerprint"] = "fp_ollama"
    return completion


def _chat_chunks(reply: Reply, model: str, flavour: Flavour, include_usage: bool) -> Iterator[bytes]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        if flavour == "ollama":
            payload["system_fingerprint"] = "fp_ollama"
        elif include_usage:
            payload["usage"] = None
        return _sse(payload)

    if flavour == "openai":
        yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(reply.text or ""):
        if piece:
            yield chunk({"role": "assistant", "content": piece} if flavour == "ollama" else {"content": piece})
    if flavour == "ollama" and reply.tool_calls:
        # Ollama sends a turn's tool calls whole, all in one delta.
        yield chunk(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": call.call_id,
                        "index": index,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                    for index, call in enumerate(reply.tool_calls)
                ],
            }
        )
    for index, call in enumerate(reply.tool_calls if flavour == "openai" else ()):
        arguments = json.dumps(call.arguments)
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call.call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
        )
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
    finish = "tool_calls" if reply.tool_calls else "stop"
    yield chunk({"role": "assistant", "content": ""} if flavour == "ollama" else {}, finish)
    if include_usage:
        usage_chunk: dict[str, Any] = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": _usage(reply),
        }
        if flavour == "ollama":
            usage_chunk["system_fingerprint"] = "fp_ollama"
        yield _sse(usage_chunk)
    yield _sse("[DONE]")


# --- Responses API (OpenAI) -----------------------------------------------------------------


def _output_items(reply: Reply) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if reply.text is not None:
        items.append(
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
            }
        )
    for index, call in enumerate(reply.tool_calls):
        items.append(
            {
                "type": "function_call",
                "id": f"fc_{index + 1}",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": json.dumps(call.arguments),
                "status": "completed",
            }
        )
    return items


def _response_object(
    reply: Reply, model: str, *, status: str = "completed", output: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    done = status == "completed"
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": _output_items(reply) if output is None else output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": 1.0,
        "top_p": 1.0,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "usage": (
            {
                "input_tokens": reply.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": reply.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": reply.input_tokens + reply.output_tokens,
            }
            if done
            else None
        ),
    }


def _response_events(reply: Reply, model: str) -> Iterator[bytes]:
    sequence = iter(range(1_000_000))

    def event(kind: str, **fields: Any) -> bytes:
        return _sse({"type": kind, "sequence_number": next(sequence), **fields}, event=kind)

    yield event("response.created", response=_response_object(reply, model, status="in_progress", output=[]))
    yield event("response.in_progress", response=_response_object(reply, model, status="in_progress", output=[]))
    for output_index, item in enumerate(_output_items(reply)):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            yield event(
                "response.output_item.added",
                output_index=output_index,
                item={**item, "status": "in_progress", "content": []},
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            yield event(
                "response.content_part.added",
                item_id=item["id"],
                output_index=output_index,
                content_index=0,
                part=part,
            )
            for piece in _pieces(text):
                yield event(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=output_index,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            yield event(
                "response.output_text.done",
                item_id=item["id"],
                output_index=output_index,
                content_index=0,
                text=text,
                logprobs=[],
            )
            yield event(
                "response.content_part.done",
                item_id=item["id"],
                output_index=output_index,
                content_index=0,
                part={**part, "text": text},
            )
        else:
            yield event(
                "response.output_item.added",
                output_index=output_index,
                item={**item, "arguments": "", "status": "in_progress"},
            )
            yield event(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=output_index,
                delta=item["arguments"],
            )
            yield event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=output_index,
                arguments=item["arguments"],
            )
        yield event("response.output_item.done", output_index=output_index, item=item)
    yield event("response.completed", response=_response_object(reply, model))
