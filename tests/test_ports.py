"""tests/ports.py: ports for child processes come from outside the ephemeral range, once each."""

from __future__ import annotations

import socket

from tests.ports import _ephemeral_range, free_port


def test_free_ports_are_outside_the_ephemeral_range_distinct_and_bindable() -> None:
    lo, hi = _ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(not lo <= p <= hi for p in ports), (lo, hi, ports)
    for p in ports[:5]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))
