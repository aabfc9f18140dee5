"""`cppforge demo`'s ports: the defaults when free, a free one (said so) in place of one that is held."""

from __future__ import annotations

import io
import socket

from services.demo.run import pick_ports
from tests.helpers.servers import free_port


def test_a_held_port_is_replaced_and_named() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        free_a, free_b = free_port(), free_port()
        said = io.StringIO()
        verifier, inference, trainer = pick_ports((free_a, busy, free_b), said)
    assert (verifier, trainer) == (free_a, free_b)
    assert inference not in (busy, free_a, free_b)
    assert said.getvalue() == f"port {busy} (inference) is busy: using {inference} instead\n"


def test_free_defaults_are_kept_silently() -> None:
    ports = (free_port(), free_port(), free_port())
    said = io.StringIO()
    assert pick_ports(ports, said) == ports and said.getvalue() == ""
