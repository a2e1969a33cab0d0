"""``http_clients``: does a crowd of idle (slowloris) HTTP clients slow the daemon's frame loop?

Runs the daemon in a child process (open-file limit ``--nofile``, as on a small device), over a
looping folder of frames, with the HTTP sink on, and measures twice for ``--seconds`` each: idle,
then with ``--clients`` idle TCP connections from another loopback address (127.0.0.2) that are
re-opened as soon as the sink closes them (a real slowloris keeps its connections up). For each
phase: frames per second (from ``/metrics``), bad frames, the child's threads and open file
descriptors (peak, from /proc), and the time a monitor on 127.0.0.1 waits for ``/healthz``.

Without ``--bundle`` the estimator is a stand-in that sleeps ``--fake-ms`` per frame and returns
one face (what is measured is the HTTP side, and it keeps the CPU free on a shared machine); with
``--bundle`` the real estimator runs, capped at ``--target-fps``.

    python benchmarks/http_clients.py                       # stand-in estimator, 300 clients
    python benchmarks/http_clients.py --bundle B --target-fps 10

Prints a table and writes ``benchmarks/results/http_clients-<date>.json``. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from auedge.benchmarks.store import RESULTS_DIR, BenchmarkError, environment, stamp, utc_now, write_json

ATTACKER = "127.0.0.2"


def child_main(args: argparse.Namespace) -> int:
    """The daemon under test (``--child``): prints its port, runs until stdin closes."""
    import resource

    import numpy as np
    from auedge.edge.daemon import run
    from auedge.edge.daemon_config import DaemonConfig
    from auedge.edge.results import EstimateResult, FaceResult

    resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    class SleepingEstimator:
        def estimate(self, image: np.ndarray) -> EstimateResult:
            time.sleep(args.fake_ms / 1000.0)
            face = FaceResult(box=(10, 10, 50, 50), score=0.9, keypoints=[], aus={"AU12": float(image.mean() / 255)})
            return EstimateResult(faces=[face], image_size=image.shape[1::-1])

    config = DaemonConfig(device="bench", source=f"images:{args.frames}?loop=1", bundle=args.bundle or "",
                          target_fps=args.target_fps, log_level="WARNING")
    config.http.port = args.port
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    return run(config, estimator=None if args.bundle else SleepingEstimator(), stop=stop)


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    return {name: float(value) for name, _, value in (line.rpartition(" ") for line in lines)
            if name and not name.startswith("#")}


def proc_counts(pid: int) -> tuple[int, int]:
    threads = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("Threads:"))
    return threads, len(os.listdir(f"/proc/{pid}/fd"))


def healthz_ms(port: int) -> float | None:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            response.read()
    except OSError:
        return None
    return (time.perf_counter() - start) * 1e3


class Slowloris:
    """``count`` idle connections from ATTACKER; one the server closes is re-opened ``reopen_s`` later
    (0: at once, which turns the crowd into a connection flood once the sink answers 503)."""

    def __init__(self, port: int, count: int, reopen_s: float) -> None:
        self.port = port
        self.count = count
        self.reopen_s = reopen_s
        self._closed_at: list[float] = []
        self.stop = threading.Event()
        self.opened = 0
        self.refused = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self) -> socket.socket | None:
        sock = socket.socket()
        try:
            sock.bind((ATTACKER, 0))
            sock.connect(("127.0.0.1", self.port))
            sock.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        except OSError:
            sock.close()
            self.refused += 1
            return None
        self.opened += 1
        return sock

    def _run(self) -> None:
        import selectors

        selector = selectors.DefaultSelector()
        while not self.stop.is_set():
            now = time.monotonic()
            self._closed_at = [t for t in self._closed_at if now - t < self.reopen_s]
            while len(selector.get_map()) + len(self._closed_at) < self.count and not self.stop.is_set():
                sock = self._connect()
                if sock is None:
                    break
                selector.register(sock, selectors.EVENT_READ)
            for key, _ in selector.select(timeout=0.05):  # readable = answered (503) or closed
                selector.unregister(key.fileobj)
                key.fileobj.close()
                self._closed_at.append(time.monotonic())
        for key in list(selector.get_map().values()):
            key.fileobj.close()

    def __enter__(self):  # returns self
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self._thread.join(10)


def measure(pid: int, port: int, seconds: float) -> dict[str, Any]:
    before, start = metrics(port), time.monotonic()
    peak_threads = peak_fds = 0
    waits = []
    while time.monotonic() - start < seconds:
        threads, fds = proc_counts(pid)
        peak_threads, peak_fds = max(peak_threads, threads), max(peak_fds, fds)
        waits.append(healthz_ms(port))
        time.sleep(0.5)
    after, elapsed = metrics(port), time.monotonic() - start
    answered = sorted(w for w in waits if w is not None)
    return {
        "fps": (after["au_edge_frames_total"] - before["au_edge_frames_total"]) / elapsed,
        "bad_frames": after["au_edge_bad_frames_total"] - before["au_edge_bad_frames_total"],
        "peak_threads": peak_threads, "peak_fds": peak_fds,
        "healthz_answered": f"{len(answered)}/{len(waits)}",
        "healthz_median_ms": answered[len(answered) // 2] if answered else None,
        "http_rejected": after.get("au_edge_http_rejected_total", 0) - before.get("au_edge_http_rejected_total", 0),
    }


def make_frames(folder: Path, count: int = 8) -> None:
    import cv2
    import numpy as np

    for i in range(count):
        cv2.imwrite(str(folder / f"frame_{i:02d}.png"), np.full((240, 320, 3), 30 * i, np.uint8))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    if not Path("/proc/self/fd").is_dir():
        raise BenchmarkError("http_clients reads /proc: run it on Linux")
    with tempfile.TemporaryDirectory() as tmp:
        make_frames(Path(tmp))
        port = free_port()
        command = [sys.executable, "-m", "auedge.benchmarks.http_clients", "--child", "--frames", tmp,
                   "--port", str(port), "--nofile", str(args.nofile), "--fake-ms", str(args.fake_ms),
                   "--target-fps", str(args.target_fps)] + (["--bundle", args.bundle] if args.bundle else [])
        child = subprocess.Popen(command, stdin=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while healthz_ms(port) is None:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise BenchmarkError(f"the daemon did not start (exit {child.poll()})")
                time.sleep(0.2)
            time.sleep(args.warmup)
            idle = measure(child.pid, port, args.seconds)
            with Slowloris(port, args.clients, args.reopen_s) as attack:
                time.sleep(1.0)
                crowded = measure(child.pid, port, args.seconds)
            crowded["attacker_connections_opened"] = attack.opened
        finally:
            child.stdin.close()
            child.wait(30)
    return {"idle": idle, "crowded": crowded,
            "fps_ratio": crowded["fps"] / idle["fps"] if idle["fps"] else None}


def print_table(result: dict[str, Any], clients: int) -> None:
    rows = [("idle", result["idle"]), (f"{clients} clients", result["crowded"])]
    print(f"{'phase':<16} {'fps':>7} {'bad':>5} {'threads':>8} {'fds':>5} {'/healthz ok':>12} {'median ms':>10} "
          f"{'503s':>7}")
    for name, r in rows:
        median = "-" if r["healthz_median_ms"] is None else f"{r['healthz_median_ms']:.1f}"
        print(f"{name:<16} {r['fps']:7.2f} {r['bad_frames']:5.0f} {r['peak_threads']:8d} {r['peak_fds']:5d} "
              f"{r['healthz_answered']:>12} {median:>10} {r['http_rejected']:7.0f}")
    print(f"frame rate with the clients: {100 * result['fps_ratio']:.1f} % of idle")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="auedge-bench-http-clients", description=__doc__.splitlines()[0].strip("`"))
    p.add_argument("--bundle", default="", help="a real bundle (default: a stand-in estimator that sleeps)")
    p.add_argument("--clients", type=int, default=300)
    p.add_argument("--reopen-s", type=float, default=1.0,
                   help="an attacker connection closed by the sink is re-opened this much later (0 = a flood)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--nofile", type=int, default=256, help="the daemon's open-file limit")
    p.add_argument("--fake-ms", type=float, default=20.0, help="stand-in estimator time per frame")
    p.add_argument("--target-fps", type=float, default=0.0, help="0 = uncapped")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--frames", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        return child_main(args)
    try:
        result = run_benchmark(args)
    except BenchmarkError as exc:
        print(f"http_clients: error: {exc}", file=sys.stderr)
        return 2
    print_table(result, args.clients)
    if not args.no_save:
        moment = utc_now()
        options = {k: v for k, v in vars(args).items() if k not in ("child", "frames", "port", "out_dir", "no_save")}
        path = write_json(args.out_dir / f"http_clients-{stamp(moment)}.json",
                          {"benchmark": "http_clients", "created": moment.isoformat(), "options": options,
                           "environment": environment(), **result})
        print(f"wrote {path}")
    print(json.dumps({"fps_ratio": result["fps_ratio"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
