"""The central's databases as local unix sockets, forwarded through the central's SSH
connection (what `ssh -L local.sock:ADDR:6641` does), so the lab's own OVSDB clients
(ovn-nbctl, ovn-sbctl, ovn-trace, the port-up wait) work unchanged on an ssh lab.

The sockets live in a private directory of this process and go away with it: nothing
listens on the network on this side."""

from __future__ import annotations

import atexit
import contextlib
import logging
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("lab.ssh")

CHUNK = 65536


class Forwarder:
    """Accepts on a unix socket; each connection becomes a direct-tcpip channel to
    (address, port) as seen from the remote host."""

    def __init__(
        self,
        transport: Any,
        path: Path,
        address: str,
        port: int,
        opener: Callable[[], Any] | None = None,
    ):
        self.transport = transport
        self.target = (address, port)
        self.opener = opener  # instead of direct-tcpip: a channel relaying to the remote end
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True, name=f"fwd-{path.name}").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            if self.opener is not None:
                chan = self.opener()
            else:
                chan = self.transport.open_channel("direct-tcpip", self.target, ("127.0.0.1", 0))
        except Exception as exc:  # the remote end refused: the client sees a closed socket
            log.warning("forwarding to %s:%s failed: %s", *self.target, exc)
            client.close()
            return
        back = threading.Thread(target=_pump, args=(chan, client, client.shutdown), daemon=True)
        back.start()
        _pump(client, chan, lambda _how: chan.shutdown_write())
        back.join(timeout=5)
        chan.close()
        client.close()

    def close(self) -> None:
        self.sock.close()


def _pump(source: Any, sink: Any, end: Any) -> None:
    """Copy one direction until the source ends, then tell the sink no more will come
    (socket and paramiko channel alike: recv() and sendall())."""
    try:
        while data := source.recv(CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            end(socket.SHUT_WR)


class DbTunnels:
    """ovnnb_db.sock and ovnsb_db.sock in one private directory, forwarded to the central.

    `openers` (NB, SB): with `ssl: true` the central's TCP ports speak only TLS, so each
    connection is relayed to the central's own unix sockets instead
    (lab.providers.ssh.tls.relay)."""

    def __init__(
        self,
        transport: Any,
        address: str,
        nb_port: int,
        sb_port: int,
        openers: tuple[Callable[[], Any], Callable[[], Any]] | None = None,
    ):
        self.dir = Path(tempfile.mkdtemp(prefix="ovn-lab-ssh-"))
        atexit.register(shutil.rmtree, self.dir, True)
        nb, sb = openers or (None, None)
        self.forwarders = [
            Forwarder(transport, self.dir / "ovnnb_db.sock", address, nb_port, nb),
            Forwarder(transport, self.dir / "ovnsb_db.sock", address, sb_port, sb),
        ]

    def close(self) -> None:
        for fwd in self.forwarders:
            fwd.close()
        shutil.rmtree(self.dir, ignore_errors=True)
