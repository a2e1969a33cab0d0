"""Counters, gauges and per-stage latency histograms shared by the daemon loop and its sinks.

One object, passed explicitly (no globals), thread-safe because the HTTP sink reads it from its own
threads while the loop writes. Rendered in Prometheus text format by :meth:`render_prometheus`, so
a Pi can be scraped directly; names are prefixed ``au_edge_``. Latencies are kept as histograms
(fixed buckets in seconds) plus sum/count, which is all Prometheus needs for rates and quantiles.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import deque
from itertools import accumulate

PREFIX = "au_edge_"
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

COUNTERS = {
    "frames_total": "Frames read from the source and processed (bad frames excluded).",
    "faces_seen_total": "Faces detected over all frames.",
    "no_face_frames_total": "Processed frames in which no face was found.",
    "frames_dropped_total": "Camera frames dropped because the loop (inference or the fps cap) was slower than the camera.",
    "bad_frames_total": "Frames that could not be decoded or estimated, skipped.",
    "sink_errors_total": "Records a sink failed to take (the loop goes on).",
    "disk_write_errors_total": "Writes of records to disk that failed (full disk, I/O error) and are retried.",
    "records_lost_total": "Records a sink gave up on because the disk kept failing and its memory backlog was full.",
    "camera_reopens_total": "Times the source was closed and reopened by the watchdog.",
    "source_stalls_total": "Times the source delivered no frame for the stall timeout.",
    "mqtt_queue_dropped_total": "Records dropped from the full MQTT disk queue (oldest first).",
    "mqtt_published_total": "Records acknowledged by the MQTT broker (PUBACK).",
    "mqtt_connect_failures_total": "Failed connection attempts to the MQTT broker, by cause (tls, network).",
    "http_rejected_total": "HTTP connections refused with 503 because http.max_connections were open.",
    "http_accept_errors_total": "HTTP connections the kernel could not hand over (out of file descriptors).",
}

GAUGES = {
    "fps": "Frames processed per second over the last frames.",
    "mqtt_queue_depth": "Records waiting in the MQTT disk queue.",
    "mqtt_connected": "1 while connected to the MQTT broker.",
    "tracks": "Face tracks currently followed by the smoother.",
}


class DaemonMetrics:
    def __init__(self, fps_window: int = 30, clock=time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.started_at = clock()
        self.counters: dict[str, float] = dict.fromkeys(COUNTERS, 0)
        self.labelled: dict[tuple[str, str, str], float] = {}  # (counter, label, value) -> count
        self.gauges: dict[str, float] = dict.fromkeys(GAUGES, 0.0)
        self._stage_buckets: dict[str, list[int]] = {}
        self._stage_sum: dict[str, float] = {}
        self._stage_count: dict[str, int] = {}
        self._frame_times: deque[float] = deque(maxlen=fps_window)
        self.last_frame_at: float | None = None

    # --- writers -------------------------------------------------------------------------------
    def inc(self, name: str, amount: float = 1, label: tuple[str, str] | None = None) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + amount
            if label is not None:
                key = (name, label[0], label[1])
                self.labelled[key] = self.labelled.get(key, 0) + amount

    def set_gauge(self, name: str, value: float) -> None:
        with self._lock:
            self.gauges[name] = float(value)

    def observe_ms(self, stage: str, milliseconds: float) -> None:
        """One latency sample. Counted in its own bucket only (cumulated when rendered): the loop
        calls this nine times a frame, so it must cost next to nothing."""
        seconds = milliseconds / 1000.0
        with self._lock:
            buckets = self._stage_buckets.setdefault(stage, [0] * (len(LATENCY_BUCKETS_S) + 1))
            buckets[bisect_left(LATENCY_BUCKETS_S, seconds)] += 1  # the last slot is above every bound
            self._stage_sum[stage] = self._stage_sum.get(stage, 0.0) + seconds
            self._stage_count[stage] = self._stage_count.get(stage, 0) + 1

    def frame_done(self, faces: int) -> None:
        """One processed frame: updates frames/faces counters, fps and the health clock."""
        now = self._clock()
        with self._lock:
            self.counters["frames_total"] += 1
            self.counters["faces_seen_total"] += faces
            if faces == 0:
                self.counters["no_face_frames_total"] += 1
            self._frame_times.append(now)
            self.last_frame_at = now
            if len(self._frame_times) >= 2:
                span = self._frame_times[-1] - self._frame_times[0]
                self.gauges["fps"] = (len(self._frame_times) - 1) / span if span > 0 else 0.0

    # --- readers -------------------------------------------------------------------------------
    def get(self, name: str) -> float:
        with self._lock:
            if name in self.counters:
                return self.counters[name]
            return self.gauges.get(name, 0.0)

    def uptime(self) -> float:
        return self._clock() - self.started_at

    def last_frame_age(self) -> float | None:
        with self._lock:
            return None if self.last_frame_at is None else max(0.0, self._clock() - self.last_frame_at)

    def snapshot(self) -> dict:
        with self._lock:
            return {"counters": dict(self.counters), "gauges": dict(self.gauges),
                    "stages": {k: {"count": self._stage_count[k], "sum_s": self._stage_sum[k]}
                               for k in self._stage_count}}

    def render_prometheus(self) -> str:
        lines: list[str] = []
        age = self.last_frame_age()
        with self._lock:
            for name, help_text in COUNTERS.items():
                full = PREFIX + name
                lines += [f"# HELP {full} {help_text}", f"# TYPE {full} counter"]
                labelled = [(k, v) for k, v in self.labelled.items() if k[0] == name]
                if labelled:
                    lines += [f'{full}{{{label}="{value}"}} {count:g}' for (_, label, value), count in sorted(labelled)]
                else:
                    lines.append(f"{full} {self.counters.get(name, 0):g}")
            for name, help_text in GAUGES.items():
                full = PREFIX + name
                lines += [f"# HELP {full} {help_text}", f"# TYPE {full} gauge", f"{full} {self.gauges[name]:g}"]
            full = PREFIX + "last_frame_age_seconds"
            lines += [f"# HELP {full} Seconds since the last processed frame (-1 before the first).",
                      f"# TYPE {full} gauge", f"{full} {age if age is not None else -1:g}"]
            full = PREFIX + "uptime_seconds"
            lines += [f"# HELP {full} Seconds since the daemon started.", f"# TYPE {full} gauge",
                      f"{full} {self._clock() - self.started_at:g}"]
            full = PREFIX + "stage_latency_seconds"
            lines += [f"# HELP {full} Latency of each loop stage.", f"# TYPE {full} histogram"]
            for stage in sorted(self._stage_count):
                for bound, count in zip(LATENCY_BUCKETS_S, accumulate(self._stage_buckets[stage])):
                    lines.append(f'{full}_bucket{{stage="{stage}",le="{bound:g}"}} {count}')
                lines.append(f'{full}_bucket{{stage="{stage}",le="+Inf"}} {self._stage_count[stage]}')
                lines.append(f'{full}_sum{{stage="{stage}"}} {self._stage_sum[stage]:.6f}')
                lines.append(f'{full}_count{{stage="{stage}"}} {self._stage_count[stage]}')
        return "\n".join(lines) + "\n"
