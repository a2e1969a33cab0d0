"""Record sinks, one small module each behind :class:`Sink` (``emit(record)``, ``close()``).

* ``jsonl_sink``: JSON lines with size-based rotation.
* ``http_sink``: /healthz, /latest, /events (SSE), /metrics (Prometheus) on 127.0.0.1.
* ``mqtt_sink``: QoS 1 to ``au-edge/<device>/aus`` through a bounded on-disk queue (``disk_queue``).

Modules are imported by the daemon only when configured (paho is optional).
"""

from auedge.edge.sinks.base import RateLimitedLog, Record, Sink, SinkSet

__all__ = ["RateLimitedLog", "Record", "Sink", "SinkSet"]
