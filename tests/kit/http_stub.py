"""A local HTTP server for the `http` action, in a thread: each path answers the (status,
JSON body) answers it is scripted in turn, repeating the last one; every request is counted
and its body kept."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Stub:
    url: str = ""
    answers: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    received: dict[str, list[Any]] = field(default_factory=dict)
    # The server answers in threads: one request's bookkeeping at a time.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answer(self, path: str, status: int, body: Any = None) -> str:
        """Answer every request to `path` alike; returns the path's URL."""
        return self.script(path, (status, body))

    def script(self, path: str, *answers: tuple[int, Any]) -> str:
        """Answer requests to `path` with `answers` in turn, then the last one again."""
        self.answers[path] = list(answers)
        self.received.setdefault(path, [])
        return self.url + path

    def next_answer(self, path: str) -> tuple[int, Any]:
        answers = self.answers.get(path) or [(404, {"error": "no such path"})]
        return answers.pop(0) if len(answers) > 1 else answers[0]


@contextlib.contextmanager
def serve_stub() -> Iterator[Stub]:
    stub = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            with stub.lock:
                stub.hits[self.path] += 1
                stub.received.setdefault(self.path, []).append(body)
                status, answer = stub.next_answer(self.path)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
