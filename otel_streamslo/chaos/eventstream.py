"""AWS event-stream binary framing (``application/vnd.amazon.eventstream``), encoder only.

One message: prelude (total length, headers length: big-endian uint32 each) and its CRC32,
headers, payload, then the CRC32 of everything before it. A header is its name length
(uint8), name, value type (7 = string), value length (uint16) and UTF-8 value.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Mapping
from typing import Any

from otel_streamslo.chaos.plan import json_bytes

__all__ = ["encode_message", "event_message", "exception_message"]

_STRING = 7


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", _STRING, len(raw_value)) + raw_value
    )


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message with string headers."""
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    head = prelude + struct.pack("!I", binascii.crc32(prelude))
    body = head + encoded + payload
    return body + struct.pack("!I", binascii.crc32(body))


def event_message(event_type: str, payload: Any) -> bytes:
    """An ``event`` message; ``payload`` is JSON-encoded unless it is bytes already."""
    data = payload if isinstance(payload, bytes) else json_bytes(payload)
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, data)


def exception_message(exception_type: str, payload: Mapping[str, Any]) -> bytes:
    """An ``exception`` message (botocore raises it as ``EventStreamError``)."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json_bytes(payload))
