"""A tiny static HTTP server for tests: path -> (status, headers, body), on 127.0.0.1 in a thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Route:
    def __init__(self, body: bytes = b"", status: int = 200, headers: dict[str, str] | None = None,
                 fail_times: int = 0, fail_status: int = 503, retry_after: str | None = None,
                 delay: float = 0.0, stream_bytes: int = 0, claim_length: int | None = None) -> None:
        """stream_bytes: send that many zero bytes lazily (chunked, or with claim_length as the
        Content-Length), to test size caps without holding the body in memory."""
        self.delay, self.stream_bytes, self.claim_length = delay, stream_bytes, claim_length
        self.body, self.status, self.headers = body, status, headers or {}
        self.fail_times, self.fail_status, self.retry_after = fail_times, fail_status, retry_after
        self.hits = 0


class StaticServer:
    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, str]] = []  # (path, user-agent)
        self.streamed: list[tuple[str, int]] = []  # (path, bytes written before the client hung up)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append((self.path, self.headers.get("User-Agent", "")))
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    self._send(404, {"Content-Type": "text/plain"}, b"not found")
                    return
                route.hits += 1
                if route.hits <= route.fail_times:
                    h = {"Content-Type": "text/plain"}
                    if route.retry_after is not None:
                        h["Retry-After"] = route.retry_after
                    self._send(route.fail_status, h, b"busy")
                    return
                if route.delay:
                    import time

                    time.sleep(route.delay)
                if route.stream_bytes:
                    self._stream(route)
                    return
                self._send(route.status, route.headers, route.body)

            def _stream(self, route: Route) -> None:
                self.send_response(route.status)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                chunked = route.claim_length is None
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(route.claim_length))
                self.end_headers()
                chunk = b"\0" * 65536
                sent = 0
                try:
                    while sent < route.stream_bytes:
                        if chunked:
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        else:
                            self.wfile.write(chunk)
                        sent += len(chunk)
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the client hung up: that is what a size cap does
                server.streamed.append((self.path, sent))

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients hanging up (size caps, kill -9 tests) are expected here

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> StaticServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
