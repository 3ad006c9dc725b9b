"""Loopback ports for processes the tests start (collectors, Prometheus), drawn outside the
kernel's ephemeral range.

``bind(("127.0.0.1", 0))`` then ``close()`` hands out a port from the ephemeral range, the same
range every outgoing connection takes its local port from. Between the draw and the child
process's own bind, a connection (a Prometheus scrape of a target not up yet, an exporter's retry)
can take that port, and the child fails with "address already in use" (seen once in a full run:
the fleet test's reference collector). A port below (or above) ``ip_local_port_range`` is never
taken that way. Each port is also checked free by a bind and handed out once per test process.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_HANDED_OUT: set[int] = set()
_RNG = random.Random()


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def _candidates() -> range:
    lo, hi = _ephemeral_range()
    if lo - 20000 >= 2000:
        return range(20000, lo)
    if 65535 - hi >= 2000:
        return range(hi + 1, 65536)
    return range(1024, 65536)  # the ephemeral range covers nearly everything: best effort


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free loopback TCP port outside the ephemeral range, not handed out before."""
    ports = _candidates()
    for _ in range(500):
        port = _RNG.choice(ports)
        if port not in _HANDED_OUT and _bindable(port):
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free loopback port in {ports.start}-{ports.stop - 1} after 500 draws")
