"""HTTP/2 framing faults against the real app (in a thread, so its engines can be inspected): a client
that really goes away frees its generation slot at once (RST_STREAM, GOAWAY then close, connection
closed); a graceful GOAWAY leaves the response whole; tiny DATA frames, 100 concurrent streams and a
window that is never reopened are answered or cleaned up, with no 5xx, no leaked slot and a
connection that still serves. The HTTP/1.1 counterpart (socket closed mid-stream) is
tests/test_vision_stream_lifecycle.py::test_client_gone_mid_stream_frees_the_slot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from h2.errors import ErrorCodes
from h2.settings import SettingCodes

from h2_raw import RawH2
from servers import ThreadServer
from test_vision_stream_lifecycle import MODELS, watch_generations, wait_until

LONG = "amazon.nova-lite-v1:0"  # stream_timeout_s 600, 16,000 tokens allowed
SHORT_DEADLINE = "amazon.nova-pro-v1:0"  # stream_timeout_s 3
EMBED = "amazon.titan-embed-image-v1"
STALLED_S = 2.0  # the server's stalled_send_timeout_s here (60 s by default)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with ThreadServer.for_profile("test", MODELS, tmp_path_factory.mktemp("models"), stalled_send_timeout_s=STALLED_S) as server:
        yield server


def converse_body(max_tokens: int) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": [{"text": "write a long story"}]}],
                       "inferenceConfig": {"maxTokens": max_tokens}}).encode()


def stream_path(model_id: str) -> str:
    return f"/model/{model_id}/converse-stream"


def assert_connection_serves(client: RawH2) -> None:
    stream_id = client.request(f"/model/{EMBED}/invoke", json.dumps({"inputText": "still here"}).encode())
    response = client.response(stream_id)
    assert response.status == 200 and len(json.loads(bytes(response.body))["embedding"]) == 1024


def start_long_stream(server: ThreadServer, client: RawH2) -> tuple[Any, list[tuple[bool, Any]], int]:
    engine = server.engine(LONG)
    seen = watch_generations(engine)
    stream_id = client.request(stream_path(LONG), converse_body(15000))
    client.wait(lambda: client.streams[stream_id].body.count(b"contentBlockDelta") >= 3)
    return engine, seen, stream_id


def assert_cut_short(engine: Any, seen: list[tuple[bool, Any]]) -> None:
    wait_until(lambda: bool(seen) and engine.scheduler.running == 0, timeout=30)
    cancelled, result = seen[0]
    assert cancelled and result.output_tokens < 15000
    assert engine.scheduler.depth == 0


def test_reset_stream_mid_response_frees_the_slot(app_server: ThreadServer) -> None:
    client = RawH2(app_server.url)
    engine, seen, stream_id = start_long_stream(app_server, client)
    client.reset(stream_id)
    assert_cut_short(engine, seen)
    assert_connection_serves(client)  # the other streams of the connection are untouched
    client.close()


def test_goaway_then_close_mid_response_frees_the_slot(app_server: ThreadServer) -> None:
    client = RawH2(app_server.url)
    engine, seen, _ = start_long_stream(app_server, client)
    client.goaway()
    client.close()
    assert_cut_short(engine, seen)


def test_goaway_with_an_error_code_frees_the_slot(app_server: ThreadServer) -> None:
    client = RawH2(app_server.url)
    engine, seen, _ = start_long_stream(app_server, client)
    client.goaway(ErrorCodes.PROTOCOL_ERROR)
    assert_cut_short(engine, seen)
    client.close()


def test_connection_closed_mid_response_frees_the_slot(app_server: ThreadServer) -> None:
    client = RawH2(app_server.url)
    engine, seen, _ = start_long_stream(app_server, client)
    client.close()
    assert_cut_short(engine, seen)


def test_graceful_goaway_lets_the_open_stream_finish(app_server: ThreadServer) -> None:
    """What the AWS SDK for JavaScript v3 does on every bedrock-runtime call (Node's session.close())."""
    client = RawH2(app_server.url)
    stream_id = client.request(stream_path(LONG), converse_body(400))
    client.wait(lambda: client.streams[stream_id].status is not None)
    client.goaway()
    response = client.response(stream_id)
    assert response.status == 200 and response.ended and response.reset is None
    assert b"messageStop" in response.body and b"metadata" in response.body
    # Once its last stream is done, the server closes the gone-away connection.
    client.wait(lambda: client.closed, timeout=10)


def test_request_body_in_one_byte_data_frames(app_server: ThreadServer) -> None:
    client = RawH2(app_server.url)
    body = json.dumps({"inputText": "a red car, sent one byte per DATA frame"}).encode()
    response = client.response(client.request(f"/model/{EMBED}/invoke", body, chunk=1))
    assert response.status == 200 and len(json.loads(bytes(response.body))["embedding"]) == 1024
    client.close()


def test_hundred_concurrent_streams_on_one_connection(app_server: ThreadServer) -> None:
    client = RawH2(app_server.url)
    ids = [client.request(f"/model/{EMBED}/invoke", json.dumps({"inputText": f"car {i}"}).encode()) for i in range(100)]
    client.wait(lambda: all(client.finished(i) for i in ids), timeout=120)
    statuses = [client.streams[i].status for i in ids]
    assert all(status in (200, 429) for status in statuses), statuses  # served, or throttled by a full queue
    assert statuses.count(200) >= 16
    for i in ids:
        if client.streams[i].status == 429:
            assert client.streams[i].headers["x-amzn-errortype"].startswith("ThrottlingException")
    assert_connection_serves(client)
    client.close()


def test_client_that_stops_reading_frees_the_slot_and_gets_a_reset(app_server: ThreadServer) -> None:
    """Window 0 for every stream: the server can send no DATA. Once its writes have been blocked for the
    stalled-send timeout the generation is cancelled, its slot freed and the stream reset; the
    connection serves again."""
    engine = app_server.engine(LONG)
    seen = watch_generations(engine)
    client = RawH2(app_server.url, initial_window=0)
    stream_id = client.request(stream_path(LONG), converse_body(15000))
    client.wait(lambda: client.finished(stream_id), timeout=60)
    assert client.streams[stream_id].status == 200 and not client.streams[stream_id].body
    assert client.streams[stream_id].reset == ErrorCodes.CANCEL
    assert_cut_short(engine, seen)
    client.conn.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 65535})
    client.flush()
    assert_connection_serves(client)
    client.close()


def test_stalled_reader_after_the_stream_deadline(app_server: ThreadServer) -> None:
    """The 3 s stream deadline ends the generation first; the error event then cannot be sent, and the
    stalled write ends in a reset instead of holding the stream open."""
    engine = app_server.engine(SHORT_DEADLINE)
    seen = watch_generations(engine)
    client = RawH2(app_server.url, initial_window=0)
    stream_id = client.request(stream_path(SHORT_DEADLINE), converse_body(15000))
    wait_until(lambda: bool(seen) and engine.scheduler.running == 0, timeout=30)
    assert seen[0][0]  # the deadline stopped it
    assert client.response(stream_id, timeout=30).reset == ErrorCodes.CANCEL
    client.close()


def test_slow_reader_within_the_timeout_gets_everything(app_server: ThreadServer) -> None:
    """A reader that holds its window at 0 for less than the timeout, then reads, loses nothing."""
    client = RawH2(app_server.url, initial_window=0)
    stream_id = client.request(stream_path(LONG), converse_body(200))
    client.wait(lambda: client.streams[stream_id].status is not None)
    client.pump(STALLED_S / 2)
    client.open_window(stream_id)
    response = client.response(stream_id)
    assert response.reset is None and b"messageStop" in response.body and b"metadata" in response.body
    client.close()
