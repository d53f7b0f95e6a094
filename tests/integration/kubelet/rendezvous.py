"""A tiny rendezvous program the gang tests run in every worker (as ``python3 -c``): it prints its rank, the
world size and the rendezvous address from the variables the Volcano adapter sets, then rank 0 listens on
``MASTER_ADDR:MASTER_PORT`` and every other rank connects to it; each side prints what it got.
Exits 0 only when rank 0 heard from every other rank and each of them got rank 0's answer."""

import os
import socket
import sys
import time

rank, world = int(os.environ["NODE_RANK"]), int(os.environ["WORLD_SIZE"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
print(f"rank={rank} world_size={world} rendezvous={addr}:{port} host={socket.gethostname()}", flush=True)
if rank == 0:
    server = socket.create_server((addr, port))
    server.settimeout(90)
    heard = set()
    while len(heard) < world - 1:
        conn, _ = server.accept()
        with conn:
            other = int(conn.recv(64).decode().split()[-1])
            conn.sendall(b"welcome from rank 0")
            heard.add(other)
            print(f"rank 0 heard from rank {other}", flush=True)
    sys.exit(0)
deadline = time.monotonic() + 90
while True:
    try:
        conn = socket.create_connection((addr, port), timeout=5)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
with conn:
    conn.sendall(f"hello from rank {rank}".encode())
    print(f"rank {rank} connected to rank 0: {conn.recv(64).decode()}", flush=True)
