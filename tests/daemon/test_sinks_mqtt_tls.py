"""Issue 36 security, MQTT: mutual TLS against a real mosquitto (require_certificate true), a TLS
failure logged and counted on every failed connect (items 10, 8), the password file's mode, and
the clear-text password warning. Certificates are made here with the openssl command."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from auedge.edge import daemon
from auedge.edge.daemon_metrics import DaemonMetrics
from mosquitto_helpers import MOSQUITTO, start_mosquitto

mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed (pip install .[edge])")
from auedge.edge.sinks.mqtt_sink import MqttSink, MqttSinkOptions

OPENSSL = shutil.which("openssl")
needs_tools = pytest.mark.skipif(MOSQUITTO is None or OPENSSL is None,
                                 reason="needs mosquitto and openssl: apt-get install -y mosquitto openssl")
TOPIC = "au-edge/tlsdev/aus"


def openssl(*args: str) -> None:
    subprocess.run([OPENSSL, *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a broker certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    if OPENSSL is None:
        pytest.skip("the openssl command is needed to make certificates")
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    for name, ext in (("broker", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(d / f"{name}.key"),
                "-out", str(d / f"{name}.csr"))
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.pem"))
    return d


class Mosquitto:
    def __init__(self, folder, lines: list[str]) -> None:
        self.port = free_port()
        conf = folder / f"mosquitto-{self.port}.conf"
        user = ["user root"] if os.geteuid() == 0 else []
        conf.write_text("\n".join([f"listener {self.port} 127.0.0.1", "allow_anonymous true", *user,
                                   "log_dest stderr", "log_type error", *lines]) + "\n")
        self.proc = start_mosquitto(conf, self.port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def mtls_broker(pki, tmp_path):
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed: apt-get install -y mosquitto")
    broker = Mosquitto(tmp_path, [f"cafile {pki / 'ca.pem'}", f"certfile {pki / 'broker.pem'}",
                                  f"keyfile {pki / 'broker.key'}", "require_certificate true"])
    yield broker
    broker.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sink_options(port: int, state, **kw) -> MqttSinkOptions:
    return MqttSinkOptions(host="127.0.0.1", port=port, state_dir=str(state), reconnect_min_s=0.2,
                           reconnect_max_s=0.5, keepalive_s=5, flush_timeout_s=2.0, **kw)


def subscriber(port: int, pki, received: list, ready: threading.Event):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="tls-sub")
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
    client.tls_set_context(context)
    client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(TOPIC, qos=1)
    client.on_subscribe = lambda *a: ready.set()
    client.on_message = lambda c, u, m: received.append(json.loads(m.payload)["frame"])
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


@needs_tools
def test_mutual_tls_delivers_to_a_broker_that_requires_client_certificates(mtls_broker, pki, tmp_path):
    received: list[int] = []
    ready = threading.Event()
    sub = subscriber(mtls_broker.port, pki, received, ready)
    assert ready.wait(10), "the test subscriber could not connect with its client certificate"
    metrics = DaemonMetrics()
    sink = MqttSink(sink_options(mtls_broker.port, tmp_path / "state", tls=True, ca_file=str(pki / "ca.pem"),
                                 cert_file=str(pki / "client.pem"), key_file=str(pki / "client.key")), "tlsdev", metrics)
    try:
        assert sink.connected.wait(10)
        for i in range(20):
            sink.emit({"device": "tlsdev", "frame": i, "faces": []})
        assert sink.flush(10)
        deadline = time.monotonic() + 10
        while len(set(received)) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(set(received)) == list(range(20)) and metrics.get("mqtt_published_total") == 20
    finally:
        sink.close()
        sub.disconnect()
        sub.loop_stop()


def wait_for_failures(metrics: DaemonMetrics, cause: str, timeout: float = 10.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = metrics.labelled.get(("mqtt_connect_failures_total", "cause", cause), 0)
        if count >= 2:
            return count
        time.sleep(0.05)
    return metrics.labelled.get(("mqtt_connect_failures_total", "cause", cause), 0)


@needs_tools
def test_tls_against_a_plaintext_broker_is_logged_and_counted_every_time(pki, tmp_path, caplog):
    broker = Mosquitto(tmp_path, [])
    metrics = DaemonMetrics()
    try:
        with caplog.at_level(logging.WARNING, logger="auedge.edge.sinks.mqtt"):
            sink = MqttSink(sink_options(broker.port, tmp_path / "state", tls=True, ca_file=str(pki / "ca.pem")),
                            "tlsdev", metrics)
            sink.emit({"frame": 1})
            failures = wait_for_failures(metrics, "tls")
            sink.close()
    finally:
        broker.stop()
    assert failures >= 2  # counted on every failed connect
    lines = [r.getMessage() for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert lines and f"127.0.0.1:{broker.port}" in lines[0] and "records kept on disk" in lines[0]
    assert any("1 records not yet acknowledged" in r.getMessage() for r in caplog.records)


@needs_tools
def test_missing_client_certificate_is_refused_by_the_broker_and_reported(mtls_broker, pki, tmp_path, caplog):
    metrics = DaemonMetrics()
    with caplog.at_level(logging.WARNING, logger="auedge.edge.sinks.mqtt"):
        sink = MqttSink(sink_options(mtls_broker.port, tmp_path / "state", tls=True, ca_file=str(pki / "ca.pem")),
                        "tlsdev", metrics)
        sink.emit({"frame": 1})
        time.sleep(2.0)
        connected = sink.connected.is_set()
        sink.close()
    assert not connected and metrics.get("mqtt_published_total") == 0
    assert metrics.labelled.get(("mqtt_connect_failures_total", "cause", "tls"), 0) >= 1
    lines = [r.getMessage() for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert lines and "mqtt.cert_file" in lines[0], [r.getMessage() for r in caplog.records]


def test_file_keys_name_the_key_and_the_path(tmp_path):
    for key in ("ca_file", "cert_file", "password_file"):
        kw = {key: str(tmp_path / "missing.pem"), "tls": True}
        if key == "cert_file":
            kw["key_file"] = kw[key]
        with pytest.raises(ValueError, match=f"mqtt.{key} {tmp_path / 'missing.pem'} does not exist"):
            MqttSinkOptions(host="h", **kw).validate()
    (tmp_path / "c.pem").write_text("x")
    with pytest.raises(ValueError, match="go together"):
        MqttSinkOptions(host="h", tls=True, cert_file=str(tmp_path / "c.pem")).validate()
    with pytest.raises(ValueError, match="tls = true"):
        MqttSinkOptions(host="h", ca_file=str(tmp_path / "c.pem")).validate()
    with pytest.raises(ValueError, match="do not load"):
        MqttSinkOptions(host="h", tls=True, cert_file=str(tmp_path / "c.pem"), key_file=str(tmp_path / "c.pem")
                        ).ssl_context()


def test_password_file_readable_by_others_is_refused(tmp_path, capsys):
    secret = tmp_path / "mqtt-password"
    secret.write_text("hunter2hunter2\n")
    secret.chmod(0o644)
    assert daemon.main(["--mqtt-host", "broker", "--mqtt-username", "u", "--mqtt-password-file", str(secret),
                        "--source", "camera:0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mqtt.password_file" in err[0] and f"chmod 600 {secret}" in err[0]


def test_password_without_tls_is_a_warning(tmp_path, caplog):
    secret = tmp_path / "mqtt-password"
    secret.write_text("hunter2hunter2\n")
    secret.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="auedge.edge.sinks.mqtt"):
        sink = MqttSink(sink_options(free_port(), tmp_path / "state", username="u", password_file=str(secret)),
                        "tlsdev", DaemonMetrics())
        sink.close()
    assert any("in clear text" in r.getMessage() and "mqtt.tls = true" in r.getMessage() for r in caplog.records)
    assert not any("hunter2" in r.getMessage() for r in caplog.records)
