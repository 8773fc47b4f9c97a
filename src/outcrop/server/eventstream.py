"""The `application/vnd.amazon.eventstream` frame encoder (written by hand: no library writes it;
botocore only reads it). Frames: prelude (total length, headers length, CRC32), string headers,
payload, CRC32 of everything before it."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"


def _header(name: str, value: str) -> bytes:
    encoded_name, encoded_value = name.encode(), value.encode()
    return struct.pack("B", len(encoded_name)) + encoded_name + b"\x07" + struct.pack(">H", len(encoded_value)) + encoded_value


def encode_frame(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    header_bytes = b"".join(_header(name, value) for name, value in headers)
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    frame = prelude + header_bytes + payload
    return frame + struct.pack(">I", zlib.crc32(frame))


def event_frame(event_type: str, payload: Any) -> bytes:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return encode_frame(
        [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")], body
    )


def exception_frame(exception_type: str, payload: Any) -> bytes:
    """`exception_type` is the lowerCamel member name, e.g. `modelStreamErrorException`."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return encode_frame(
        [(":exception-type", exception_type), (":content-type", "application/json"), (":message-type", "exception")],
        body,
    )
