"""A gunicorn worker that reads each request whole before a thread sees it.

gunicorn's gthread worker gives a connection to a thread as soon as a byte arrives, and the thread
then blocks until the request is complete: 16 clients sending a byte now and then (2 workers x 8
threads) stalled every other request, /health included. This worker reads requests in its event
loop, without a thread, until the head and the whole body are in (REQUEST_READ_TIMEOUT seconds at
most, then 408; more than MAX_BODY_BYTES: 413), and only then hands them to a thread. nginx in
front (deploy/nginx.conf) buffers the same way and also takes TLS off the app.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import selectors
import time
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

MAX_HEAD_BYTES = 64 * 1024
READ_CHUNK = 65536
DEFAULT_READ_TIMEOUT = 15.0
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r?$")
_CHUNKED = re.compile(rb"(?im)^transfer-encoding:[^\r\n]*\bchunked\b")
_EXPECT_CONTINUE = re.compile(rb"(?im)^expect:[ \t]*100-continue[ \t]*\r\n")
REFUSALS = {
    408: b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    413: b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
    b"Connection: close\r\n\r\n",
}


class RequestRefused(Exception):
    """A request the worker answers itself, with this status, and closes."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def request_complete(data: bytes, max_body: int) -> bool:
    """Whether `data` holds a whole HTTP/1.x request: its head and, by Content-Length or chunks,
    its body. Raises RequestRefused(431 or 413) for a head or body over the limits."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        if len(data) > MAX_HEAD_BYTES:
            raise RequestRefused(431)
        return False
    head, body = data[: head_end + 2], data[head_end + 4 :]
    if _CHUNKED.search(head):
        return _chunks_complete(body, max_body)
    length = _CONTENT_LENGTH.search(head)
    size = int(length.group(1)) if length else 0
    if size > max_body:
        raise RequestRefused(413)
    return len(body) >= size


def _chunks_complete(body: bytes, max_body: int) -> bool:
    position = 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            return False
        try:
            size = int(body[position:line_end].split(b";")[0], 16)
        except ValueError:
            return True  # malformed: let gunicorn's parser answer 400
        if size == 0:
            return body.find(b"\r\n\r\n", line_end) >= 0  # optional trailers, then a blank line
        position = line_end + 2 + size + 2
        if position > max_body:
            raise RequestRefused(413)
        if position > len(body):
            return False


class BufferedThreadWorker(ThreadWorker):
    """gthread, with requests read whole in the event loop (see the module docstring)."""

    def init_process(self) -> None:
        from settings import load_settings

        if self.cfg.is_ssl:
            raise RuntimeError("this worker does not terminate TLS: do it in nginx (deploy/)")
        self.max_body = load_settings().max_body_bytes
        self.read_timeout = float(os.environ.get("REQUEST_READ_TIMEOUT", DEFAULT_READ_TIMEOUT))
        self.reading: dict[TConn, float] = {}  # connection -> deadline for its request
        super().init_process()

    def accept(self, listener) -> None:
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._read(TConn(self.cfg, client, address, listener.getsockname()), b"")

    def on_client_socket_readable(self, conn: TConn, client) -> None:
        """A kept-alive connection's next request has started."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read(conn, b"")

    def enqueue_req(self, conn: TConn) -> None:
        """gunicorn hands back a connection holding bytes of a pipelined next request: read that
        one whole too, rather than let a thread block on its rest."""
        if getattr(conn, "buffered", None) is None and conn.parser is not None:
            self._read(conn, conn.parser.unreader.take_buffered())
            return
        super().enqueue_req(conn)

    def handle(self, conn: TConn):
        buffered, conn.buffered = conn.buffered, None
        conn.init()  # the HTTP/1 parser; no I/O for plain HTTP
        conn.parser.unreader.unread(buffered)
        return super().handle(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn in [conn for conn, deadline in self.reading.items() if deadline < now]:
            self._refuse(conn, 408)

    def _read(self, conn: TConn, data: bytes) -> None:
        conn.sock.setblocking(False)
        conn.buffer, conn.buffered, conn.sent_continue = bytearray(data), None, False
        self.reading[conn] = time.monotonic() + self.read_timeout
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_data, conn))
        if data:
            self._check(conn)

    def _on_data(self, conn: TConn, sock) -> None:
        try:
            chunk = sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away
            self._close(conn)
            return
        conn.buffer += chunk
        self._check(conn)

    def _check(self, conn: TConn) -> None:
        try:
            complete = request_complete(conn.buffer, self.max_body)
        except RequestRefused as refused:
            self._refuse(conn, refused.status)
            return
        if not complete:
            self._maybe_continue(conn)
            return
        self._stop_reading(conn)
        conn.data_ready = True
        conn.buffered = _EXPECT_CONTINUE.sub(b"", bytes(conn.buffer), count=1)
        conn.buffer = None
        super().enqueue_req(conn)

    def _maybe_continue(self, conn: TConn) -> None:
        """A client that sent 'Expect: 100-continue' (curl does) waits for it before its body."""
        head_end = conn.buffer.find(b"\r\n\r\n")
        if conn.sent_continue or head_end < 0:
            return
        if _EXPECT_CONTINUE.search(bytes(conn.buffer[: head_end + 2])):
            conn.sent_continue = True
            with contextlib.suppress(OSError):  # a client that left is closed on its next read
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _refuse(self, conn: TConn, status: int) -> None:
        with contextlib.suppress(OSError):  # the client is gone: there is no one to tell
            conn.sock.send(REFUSALS[status])
        self._close(conn)

    def _close(self, conn: TConn) -> None:
        self._stop_reading(conn)
        self.nr_conns -= 1
        conn.close()

    def _stop_reading(self, conn: TConn) -> None:
        if self.reading.pop(conn, None) is not None:
            self.poller.unregister(conn.sock)
