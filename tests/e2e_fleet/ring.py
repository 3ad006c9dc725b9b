"""Where the loadbalancing exporter (v0.152.0, collector/builder-config.yaml) sends a routing key.

A replica of its consistent hash ring (``consistent_hashing.go``): each endpoint of the sorted
static list takes 100 positions ``crc32(endpoint + uint32le(i)) % 36000`` (a taken position moves
up to 10 steps ahead, else is dropped); a key goes to the first position at or after
``crc32(key) % 36000``, wrapping around. With ``routing_key: service`` the key is
``service.name=<name>|``. The fleet test uses it to pick gateway ports that split the services
(with random ports, all six services land on one gateway in a few percent of runs) and then
asserts the real exporter placed every service where this replica says.
"""

from __future__ import annotations

import bisect
import struct
import zlib

MAX_POSITIONS = 36_000
WEIGHT = 100
PROBE_LIMIT = 10


class HashRing:
    def __init__(self, endpoints: list[str]) -> None:
        taken: set[int] = set()
        items: list[tuple[int, str]] = []
        for endpoint in sorted(endpoints):
            for i in range(WEIGHT):
                pos = zlib.crc32(endpoint.encode() + struct.pack("<I", i)) % MAX_POSITIONS
                probed = 0
                while pos in taken and probed < PROBE_LIMIT:
                    pos = (pos + 1) % MAX_POSITIONS
                    probed += 1
                if probed >= PROBE_LIMIT:
                    continue
                taken.add(pos)
                items.append((pos, endpoint))
        items.sort()
        self._positions = [p for p, _ in items]
        self._endpoints = [e for _, e in items]

    def endpoint_for(self, key: bytes) -> str:
        i = bisect.bisect_left(self._positions, zlib.crc32(key) % MAX_POSITIONS)
        return self._endpoints[i % len(self._endpoints)]


def service_key(service: str) -> bytes:
    """The routing key of ``routing_key: service`` (``buildAttributeRoutingKeyValue``)."""
    return f"service.name={service}|".encode()


def placement(endpoints: list[str], services: list[str]) -> dict[str, str]:
    ring = HashRing(endpoints)
    return {s: ring.endpoint_for(service_key(s)) for s in services}
