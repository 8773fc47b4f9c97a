"""A raw HTTP/2 client over a plain socket, built on the h2 state machine, for the framing that real
clients produce but high-level ones hide: a body in many tiny DATA frames, a reset stream, a GOAWAY
while a response is in flight, a window that is never reopened."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
from h2.errors import ErrorCodes
from h2.settings import SettingCodes


@dataclass
class StreamState:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False
    reset: ErrorCodes | None = None


class RawH2:
    def __init__(self, url: str, *, initial_window: int | None = None, auto_ack: bool = True) -> None:
        parts = urlsplit(url)
        self.authority = parts.netloc
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        if initial_window is not None:
            self.conn.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: initial_window})
        self.auto_ack = auto_ack
        self.streams: dict[int, StreamState] = {}
        self.terminated: h2.events.ConnectionTerminated | None = None
        self.closed = False
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path: str, body: bytes, *, chunk: int | None = None, headers: dict[str, str] | None = None) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, [
            (":method", "POST"), (":path", path), (":scheme", "http"), (":authority", self.authority),
            ("content-type", "application/json"), ("content-length", str(len(body))), *(headers or {}).items(),
        ])
        self.streams[stream_id] = StreamState()
        step = chunk or max(1, len(body))
        for start in range(0, len(body), step):
            self.conn.send_data(stream_id, body[start:start + step])
            self.flush()
        self.conn.end_stream(stream_id)
        self.flush()
        return stream_id

    def pump(self, timeout: float = 0.5) -> bool:
        """Read what arrives within `timeout`; False once the server closed the connection."""
        if self.closed:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 16)
        except TimeoutError:
            return True
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        for event in self.conn.receive_data(data):
            self._handle(event)
        self.flush()
        return True

    def _handle(self, event: Any) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            state = self.streams[event.stream_id]
            state.headers = dict(event.headers)
            state.status = int(state.headers[":status"])
        elif isinstance(event, h2.events.DataReceived):
            self.streams[event.stream_id].body += event.data
            if self.auto_ack:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self.streams[event.stream_id].ended = True
        elif isinstance(event, h2.events.StreamReset):
            self.streams[event.stream_id].reset = event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.terminated = event

    def wait(self, condition: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "condition not reached"
            if not self.pump() and not condition():
                raise AssertionError("the server closed the connection")

    def finished(self, stream_id: int) -> bool:
        state = self.streams[stream_id]
        return state.ended or state.reset is not None

    def response(self, stream_id: int, timeout: float = 60.0) -> StreamState:
        self.wait(lambda: self.finished(stream_id), timeout)
        return self.streams[stream_id]

    def reset(self, stream_id: int) -> None:
        self.conn.reset_stream(stream_id, ErrorCodes.CANCEL)
        self.flush()

    def goaway(self, error: ErrorCodes = ErrorCodes.NO_ERROR) -> None:
        """Send GOAWAY as Node's session.close() does, without h2 closing our side: frames keep flowing."""
        from hyperframe.frame import GoAwayFrame

        frame = GoAwayFrame(0)
        frame.last_stream_id = 0
        frame.error_code = error
        self.sock.sendall(frame.serialize())

    def open_window(self, stream_id: int | None, size: int = 1 << 20) -> None:
        self.conn.increment_flow_control_window(size, stream_id=stream_id)
        self.flush()

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            self.closed = True
