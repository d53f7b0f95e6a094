"""A health prober in its own process (so the fuzzing process's own work cannot delay its checks): checks
``grpc.health.v1`` every 20 ms with a 100 ms deadline until its stdin closes, then prints one JSON line with
the number of checks, the misses (checks without a SERVING answer inside the deadline) and the slowest check.

    python -m tests.fuzz.health_prober 127.0.0.1:50051 [deadline_seconds]
"""

from __future__ import annotations

import json
import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main(address: str, deadline: float = 0.100) -> None:
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    checks = missed = 0
    slowest = 0.0
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        health.Check(health_pb2.HealthCheckRequest(), timeout=10)  # connected before measuring
        print("ready", flush=True)
        while not stop.wait(0.02):
            began = time.perf_counter()
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=deadline)
                missed += reply.status != health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError:
                missed += 1
            slowest = max(slowest, time.perf_counter() - began)
            checks += 1
    print(json.dumps({"checks": checks, "missed": missed, "slowest_ms": round(slowest * 1000, 1)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.100)
