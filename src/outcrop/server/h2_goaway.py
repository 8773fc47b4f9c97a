"""Keep a client's streams alive after it sends GOAWAY(NO_ERROR): RFC 9113 section 6.8.

The AWS SDK for JavaScript v3 builds its bedrock-runtime client with `disableConcurrentStreams: true`:
its HTTP/2 handler calls Node's `session.close()` as soon as response headers arrive, which sends
GOAWAY(NO_ERROR, last_stream_id=0) and expects the request already in flight to finish. A GOAWAY
only says "I will accept no new streams from you"; streams the sender opened itself go on.

Two libraries under Hypercorn 0.18.0 end them instead:
- h2 4.x (python-hyper/h2 issue 1181, open) moves the whole connection to CLOSED on any received
  GOAWAY and clears its outbound buffer, so no further HEADERS or DATA can be sent;
- Hypercorn's H2Protocol turns the resulting ConnectionTerminated event into a closed connection,
  so every open stream gets `http.disconnect` at once.
The JS SDK then saw a ConverseStream end after `messageStart`, and a large InvokeModel body cut at
65,535 bytes (the bytes the initial flow-control window let out before the socket closed).

No release of either library fixes it, so outcrop serves HTTP/2 with the two subclasses below (the
same fix hyperium/h2 made for Rust servers): a graceful GOAWAY from the client marks the connection
as going away, open streams run to their end, and the connection closes once none is left, or when
the client closes it. A GOAWAY with an error code still closes everything at once. Hypercorn's
GOAWAY for its own graceful shutdown is untouched: that path sends, it does not receive.

Two more gaps of Hypercorn 0.18.0's HTTP/2 are closed here. A client that holds its window at 0
got the whole response buffered in server memory (the sender popped 0 bytes, which released the
app's writer); the writer now waits for a WINDOW_UPDATE, so the stalled-send timeout in
server/disconnect.py can see it. And a stream whose app ends before its response does (cancelled
for such a client) is reset (RST_STREAM CANCEL) instead of being left open with its buffer held.
"""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from h2.errors import ErrorCodes
from hyperframe.frame import Frame, GoAwayFrame
from hypercorn.events import Closed
from hypercorn.protocol.events import StreamClosed
from hypercorn.protocol.h2 import H2Protocol


class GracefulH2Connection(h2.connection.H2Connection):
    """h2's server connection, but a peer's GOAWAY(NO_ERROR) leaves open streams usable."""

    def _receive_goaway_frame(self, frame: GoAwayFrame) -> tuple[list[Frame], list[h2.events.Event]]:
        if frame.error_code != ErrorCodes.NO_ERROR:
            return super()._receive_goaway_frame(frame)
        event = h2.events.ConnectionTerminated()
        event.error_code = ErrorCodes.NO_ERROR
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


class GracefulH2Protocol(H2Protocol):
    """Hypercorn's HTTP/2 protocol over `GracefulH2Connection`, closing a gone-away connection only
    once its last stream has sent its last byte."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rebuilt with the same settings Hypercorn gives its own connection.
        connection = GracefulH2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding=None))
        connection.DEFAULT_MAX_INBOUND_FRAME_SIZE = self.config.h2_max_inbound_frame_size
        connection.local_settings = self.connection.local_settings
        self.connection = connection
        self.peer_going_away = False

    @property
    def _drained(self) -> bool:
        # A stream leaves `streams` when its app is done, and `stream_buffers` only once its last
        # DATA frame and END_STREAM have been written: both must be empty before closing.
        return not self.streams and not self.stream_buffers

    async def _handle_events(self, events: list[h2.events.Event]) -> None:
        passed: list[h2.events.Event] = []
        for event in events:
            if isinstance(event, h2.events.ConnectionTerminated) and event.error_code == ErrorCodes.NO_ERROR:
                self.peer_going_away = True
            else:
                passed.append(event)
        await super()._handle_events(passed)
        await self._close_if_done()

    async def _send_data(self, stream_id: int) -> None:
        buffer = self.stream_buffers.get(stream_id)
        if buffer is not None and not buffer.complete and self._window(stream_id) <= 0:
            # Hypercorn would pop 0 bytes here, which un-pauses the app's writer: with a window held at 0
            # the whole response piled up in memory. Leave the writer paused until a WINDOW_UPDATE.
            self.priority.block(stream_id)
        else:
            await super()._send_data(stream_id)
        await self._close_if_done()

    def _window(self, stream_id: int) -> int:
        try:
            return self.connection.local_flow_control_window(stream_id)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
            return 1  # a closed stream: Hypercorn's own path cleans it up

    async def stream_send(self, event: Any) -> None:
        if isinstance(event, StreamClosed):
            await self._reset_if_unfinished(event.stream_id)
        await super().stream_send(event)
        await self._close_if_done()

    async def _reset_if_unfinished(self, stream_id: int) -> None:
        """An app that ends before its response does (cancelled for a client that stopped reading) gets
        its stream reset; Hypercorn alone would leave it open, its buffer held, the client waiting."""
        buffer = self.stream_buffers.get(stream_id)
        if buffer is None or buffer._complete:  # _complete: the app sent its last body message
            return
        try:
            self.connection.reset_stream(stream_id, ErrorCodes.CANCEL)
            await self._flush()
        except h2.exceptions.ProtocolError:
            pass  # already closed on the wire
        await buffer.close()
        del self.stream_buffers[stream_id]
        self.priority.remove_stream(stream_id)

    async def _close_if_done(self) -> None:
        if self.peer_going_away and self._drained and not self.closed:
            self.peer_going_away = False  # close once
            await self.send(Closed())


def install() -> None:
    """Make Hypercorn build `GracefulH2Protocol` for every HTTP/2 connection (h2c, h2 by ALPN, and
    the h11 → h2c upgrade), which all go through `hypercorn.protocol.ProtocolWrapper`."""
    import hypercorn.protocol

    hypercorn.protocol.H2Protocol = GracefulH2Protocol  # type: ignore[attr-defined]
