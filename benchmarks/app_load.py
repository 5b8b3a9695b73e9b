"""Requests per second of the playground's Pronounce action, and the server's memory after many requests.

    python benchmarks/app_load.py                     # 1,000 requests per phase (1, 4, 4 clients), every g2p model
    python benchmarks/app_load.py --requests 200      # a quicker look

Starts ``nnzoo app`` in its own process on a free loopback port (nothing leaves the machine), warms it with 20
requests, then sends ``--requests`` Pronounce requests ("nnzoo", "apple", … in turn; n-best 3, with attention
maps) from one client, then the same number from 4 clients at once, twice. Reports requests per second and latency
percentiles for each phase, and the server's resident memory (VmRSS from /proc, Linux) after the warm-up and after
each phase: the growth is what the requests leave behind, and a last phase that adds nothing shows it is bounded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

import httpx

from nnzoo.app.server import serving

WORDS = ["nnzoo", "apple", "pytorch", "lecture", "attention", "zebra", "knight", "through"]


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def load(url: str, requests: int, clients: int) -> tuple[float, list[float]]:
    """Seconds for ``requests`` Pronounce requests spread over ``clients`` threads, and each one's latency."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(count: int, offset: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for i in range(count):
                start = time.perf_counter()
                response = http.post("api/pronounce", json={"text": WORDS[(offset + i) % len(WORDS)], "nbest": 3})
                took = time.perf_counter() - start
                with lock:
                    latencies.append(took)
                    if response.status_code != 200:
                        failures.append(response.text)

    share = [requests // clients + (i < requests % clients) for i in range(clients)]
    threads = [threading.Thread(target=client, args=(n, i)) for i, n in enumerate(share)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return time.perf_counter() - start, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    with serving(["g2p"]) as served:
        url, pid = served.url, served.process.pid
        with httpx.Client(base_url=url) as http:
            models = [m["name"] for m in http.post("api/catalog", json={}).json()["tabs"]["pronounce"]]
        load(url, 20, 1)
        results = {"models": models, "requests": args.requests, "rss_after_warmup_mb": resident_mb(pid)}
        results["phases"] = []
        for clients in (1, 4, 4):  # the second 4-client phase shows whether memory still grows
            seconds, latencies = load(url, args.requests, clients)
            cuts = statistics.quantiles(latencies, n=20)
            results["phases"].append(
                {
                    "clients": clients,
                    "requests_per_second": args.requests / seconds,
                    "latency_p50_ms": 1000 * statistics.median(latencies),
                    "latency_p95_ms": 1000 * cuts[18],
                    "rss_after_mb": resident_mb(pid),  # after this phase's requests
                }
            )
        results["rss_growth_mb"] = results["phases"][-1]["rss_after_mb"] - results["rss_after_warmup_mb"]
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
