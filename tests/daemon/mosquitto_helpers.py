"""A real mosquitto for the MQTT tests: where its binary is, and waiting until it listens."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


def start_mosquitto(conf, port: int) -> subprocess.Popen:
    """mosquitto -c ``conf``, returned once ``port`` accepts connections (RuntimeError with its stderr if it exits)."""
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {proc.stderr.read().decode()}") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mosquitto did not start listening")
