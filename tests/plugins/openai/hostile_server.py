"""A misbehaving OpenAI-compatible server on 127.0.0.1: raw sockets, so it can break HTTP as real ones do.

``GET /v1/models/<id>`` always answers properly (the zero-shot target looks its model up);
``POST /v1/chat/completions`` answers according to ``mode``.
"""

from __future__ import annotations

import json
import socketserver
import threading
import time
from typing import Any

MODES = ("ok", "trickle", "endless", "huge", "malformed", "empty", "html")


def _completion(content: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-hostile",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }
    ).encode()


class _Handler(socketserver.StreamRequestHandler):
    server: HostileServer

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.request.recv(65536)
            if not data:
                return
            head += data
        header, _, rest = head.partition(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        length = next(
            (int(v) for k, _, v in (ln.partition(":") for ln in lines[1:]) if k.lower() == "content-length"), 0
        )
        while len(rest) < length:
            rest += self.request.recv(65536)
        try:
            if method == "GET" and path.startswith("/v1/models/") and self.server.models_mode == "huge":
                self._huge()
            elif method == "GET" and path.startswith("/v1/models/") and self.server.models_mode == "trickle":
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 100:
                    self.wfile.write(bytes([byte]))  # the headers, one byte a second
                    self.wfile.flush()
                    time.sleep(1.0)  # the behaviour under test: a server that trickles its headers
            elif method == "GET" and path.startswith("/v1/models/"):
                body = json.dumps({"id": path.rsplit("/", 1)[-1], "object": "model", "created": 1, "owned_by": "x"})
                self._send(200, body.encode())
            elif method == "POST" and path.endswith("/chat/completions"):
                self.server.chat_requests += 1
                self._chat(json.loads(rest))
            else:
                self._send(404, b'{"error": {"message": "no", "type": "x", "param": null, "code": null}}')
        except OSError:
            pass  # the client hung up: what these tests want

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.wfile.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )

    def _chat(self, request: dict[str, Any]) -> None:
        mode = self.server.mode
        if mode == "ok" or (mode.startswith("ok-then-") and self.server.chat_requests <= self.server.good):
            self._send(200, _completion(str(request["messages"][-1]["content"])[:40]))
            return
        mode = mode.removeprefix("ok-then-")
        if mode == "malformed":
            self._send(200, b'{"id": "chatcmpl-x", "choices": [{"message": ')
        elif mode == "empty":
            self._send(200, b'{"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []}')
        elif mode == "html":
            self._send(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        elif mode == "trickle":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
            for byte in _completion("slow")[:1000]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1.0)  # the behaviour under test: a body sent one byte a second
        elif mode == "endless":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"a" * 8192
            self._chunk(b'{"id": "x", "choices": [{"message": {"content": "')
            while not self.server.stopped.is_set():
                self._chunk(chunk)
                self.server.sent += len(chunk)
        elif mode == "huge":
            self._huge()

    def _huge(self) -> None:
        """300 MB of one JSON string, written until the client hangs up."""
        total = 300 * 2**20
        self.wfile.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {total}\r\n\r\n".encode()
        )
        self.wfile.write(b'{"choices": [{"message": {"content": "')
        block = b"a" * 65536
        while self.server.sent < total and not self.server.stopped.is_set():
            self.wfile.write(block)
            self.server.sent += len(block)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


class HostileServer(socketserver.ThreadingTCPServer):
    """Use as a context manager; ``url`` is its API root, ``mode`` can change between runs."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str, good: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode, self.good = mode, good
        # the model lookup (a job-lifecycle call of the sync client): "huge" answers 300 MB, "trickle" sends
        # its headers one byte a second
        self.models_mode = "ok"  # "ok-then-<mode>": the first `good` chat requests are fine
        self.chat_requests = 0
        self.sent = 0  # body bytes written by `endless` and `huge`
        self.stopped = threading.Event()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.shutdown()
        self.server_close()
