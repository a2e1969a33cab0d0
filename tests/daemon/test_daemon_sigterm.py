"""SIGTERM in a real subprocess: the daemon stops, flushes buffered records, keeps its MQTT queue, exits 0."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request

import cv2
import numpy as np
from auedge.edge.sinks.disk_queue import DiskQueue

SCRIPT = textwrap.dedent('''
    import sys
    from auedge.edge import daemon
    from auedge.edge.daemon_config import build_parser, config_from_args, setup_logging
    from auedge.edge.results import EstimateResult, FaceResult

    class Fake:
        def estimate(self, image):
            h, w = image.shape[:2]
            face = FaceResult(box=(1, 1, w - 2, h - 2), score=0.9, keypoints=[], aus={"AU12": 0.5})
            return EstimateResult(faces=[face], image_size=(w, h))

    config = config_from_args(build_parser().parse_args(sys.argv[1:]))
    setup_logging(config.log_level)
    sys.exit(daemon.run(config, estimator=Fake()))
''')


def test_sigterm_flushes_sinks_and_exits_zero(tmp_path, port_factory):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"f{i}.png"), np.full((32, 32, 3), 60 * i + 20, np.uint8))
    script = tmp_path / "run_daemon.py"
    script.write_text(SCRIPT)
    http_port, mqtt_port = port_factory(), port_factory()
    out = tmp_path / "out" / "records.jsonl"
    argv = [sys.executable, str(script), "--device", "sigterm-test", "--source", f"images:{frames}?loop=1",
            "--target-fps", "40", "--jsonl-path", str(out), "--jsonl-flush-every", "100000",
            "--http-port", str(http_port), "--mqtt-host", "127.0.0.1", "--mqtt-port", str(mqtt_port),
            "--mqtt-state-dir", str(tmp_path / "state"), "--mqtt-flush-timeout-s", "0.5",
            "--mqtt-reconnect-max-s", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = 0
        for _ in range(300):  # wait (bounded) until the loop has produced some records
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=1) as response:
                    seen = json.loads(response.read())["frames_total"]
            except OSError:
                pass
            if seen >= 5 or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert seen >= 5, proc.stderr.read() if proc.poll() is not None else "no frames"
        assert out.read_text() == ""  # buffered (flush_every=100000): only close() can write them
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    total = int(re.search(r"stopped: (\d+) frames", stderr).group(1))
    lines = out.read_text().splitlines()
    assert len(lines) == total >= 5
    records = [json.loads(line) for line in lines]
    assert [r["frame"] for r in records] == list(range(total))
    assert all(r["device"] == "sigterm-test" and len(r["faces"]) == 1 for r in records)
    # no broker was listening: every record waits in the MQTT disk queue for the next start
    queue = DiskQueue(tmp_path / "state" / "mqtt-queue.sqlite3")
    assert [json.loads(p)["frame"] for _, p in queue.peek(limit=total + 10)] == list(range(total))
    queue.close()
