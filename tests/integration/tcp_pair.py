"""A TCP sender/receiver run inside lab VMs: `server ADDR` prints bytes and md5 received,
`client ADDR` sends 1 MiB and prints bytes and md5 sent."""

import hashlib
import socket
import sys
import time

PORT = 5001


def server(address: str) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, PORT))
    sock.listen(1)
    sock.settimeout(20)
    conn, _ = sock.accept()
    digest, total = hashlib.md5(), 0
    while chunk := conn.recv(65536):
        digest.update(chunk)
        total += len(chunk)
    print(total, digest.hexdigest())


def client(address: str) -> None:
    data = bytes(range(256)) * 4096
    for _ in range(50):  # the server may still be starting
        try:
            conn = socket.create_connection((address, PORT), timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit("server never accepted")
    conn.sendall(data)
    conn.close()
    print(len(data), hashlib.md5(data).hexdigest())


if __name__ == "__main__":
    {"server": server, "client": client}[sys.argv[1]](sys.argv[2])
