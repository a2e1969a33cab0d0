"""Issue 36 security: the HTTP sink's bearer token (file, mode 0600, constant-time compare), the
refusal to serve the network without one, the Host check against DNS rebinding, and HTTPS with a
self-signed certificate made here."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest
from auedge.edge import daemon
from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.sinks.http_auth import HostCheck, bearer_matches
from auedge.edge.sinks.http_sink import HttpSink, HttpSinkOptions

TOKEN = "0123456789abcdef0123456789abcdef"


def token_file(tmp_path, text: str = TOKEN, mode: int = 0o600):
    path = tmp_path / "http-token"
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


def get(url: str, headers: dict | None = None, context=None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read(2000).decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def sink_factory():
    made = []

    def make(**kw) -> HttpSink:
        sink = HttpSink(HttpSinkOptions(port=0, **kw), DaemonMetrics())
        sink.emit({"frame": 1, "faces": []})
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.close()


def test_token_protects_the_data_but_not_health_or_the_page(tmp_path, sink_factory):
    sink = sink_factory(token_file=str(token_file(tmp_path)))
    for path in ("/latest", "/metrics"):
        assert get(sink.url + path)[0] == 401
        assert get(sink.url + path, {"Authorization": "Bearer wrong-token-wrong-token"})[0] == 401
        assert get(sink.url + path, {"Authorization": f"Basic {TOKEN}"})[0] == 401
        assert get(sink.url + path, {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert get(sink.url + "/events")[0] == 401
    assert get(sink.url + "/healthz")[0] in (200, 503)
    status, body = get(sink.url + "/")
    assert status == 200 and "<title>au-edge live</title>" in body


def test_bearer_compare():
    assert bearer_matches(f"Bearer {TOKEN}", TOKEN) and bearer_matches(f"bearer  {TOKEN} ", TOKEN)
    assert not bearer_matches(None, TOKEN) and not bearer_matches(f"Bearer {TOKEN}x", TOKEN)


@pytest.mark.parametrize(("text", "mode", "needle"), [
    (TOKEN, 0o644, "chmod 600"),
    (TOKEN, 0o640, "chmod 600"),
    ("short", 0o600, "at least 16 characters"),
])
def test_bad_token_files_are_one_config_line(tmp_path, capsys, text, mode, needle):
    path = token_file(tmp_path, text, mode)
    assert daemon.main(["--http-token-file", str(path), "--source", "camera:0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "http.token_file" in err[0] and needle in err[0] and str(path) in err[0]


def test_missing_token_file_names_it(tmp_path, capsys):
    assert daemon.main(["--http-token-file", str(tmp_path / "nope"), "--source", "camera:0"]) == 2
    err = capsys.readouterr().err
    assert "http.token_file" in err and "does not exist" in err and "openssl rand" in err


def test_network_bind_needs_a_token_or_an_explicit_opt_out(tmp_path, capsys, sink_factory):
    assert daemon.main(["--http-host", "0.0.0.0", "--source", "camera:0"]) == 2
    err = capsys.readouterr().err
    assert "http.token_file" in err and "allow_unauthenticated" in err
    with pytest.raises(ValueError, match="allow_unauthenticated"):
        HttpSinkOptions(host="0.0.0.0").validate()
    HttpSinkOptions(host="0.0.0.0", allow_unauthenticated=True).validate()
    HttpSinkOptions(host="0.0.0.0", token_file=str(token_file(tmp_path))).validate()
    sink = sink_factory(host="0.0.0.0", allow_unauthenticated=True)
    assert get(f"http://127.0.0.1:{sink.port}/latest")[0] == 200


def raw_get(port: int, host_header: str, path: str = "/latest") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data


def test_host_header_from_a_rebinding_name_is_refused(sink_factory):
    sink = sink_factory(allowed_hosts="au-edge.lan")
    assert raw_get(sink.port, "evil.example.com").startswith(b"HTTP/1.0 403")
    assert b"http.allowed_hosts" in raw_get(sink.port, "evil.example.com:8080")
    for host in (f"127.0.0.1:{sink.port}", f"localhost:{sink.port}", "au-edge.lan", "[::1]:80", "192.168.1.20"):
        assert raw_get(sink.port, host).startswith(b"HTTP/1.0 200"), host
    check = HostCheck("", "127.0.0.1")
    assert check.allows(socket.gethostname()) and not check.allows(None) and not check.allows("attacker.test")


OPENSSL = shutil.which("openssl")


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command makes the self-signed certificate")
def test_https_with_a_self_signed_certificate(tmp_path, sink_factory):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    sink = sink_factory(cert_file=str(cert), key_file=str(key), token_file=str(token_file(tmp_path)))
    assert sink.url.startswith("https://")
    context = ssl.create_default_context(cafile=str(cert))
    status, body = get(sink.url + "/latest", {"Authorization": f"Bearer {TOKEN}"}, context)
    assert status == 200 and json.loads(body)["frame"] == 1
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # it is TLS, self-signed
        get(sink.url + "/latest", context=ssl.create_default_context())
    plain = sink.url.replace("https://", "http://")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        get(plain + "/healthz")
    assert get(sink.url + "/healthz", context=context)[0] in (200, 503)  # still serving


def test_cert_and_key_go_together_and_must_load(tmp_path):
    with pytest.raises(ValueError, match="go together"):
        HttpSinkOptions(cert_file=str(tmp_path / "c.pem")).validate()
    with pytest.raises(ValueError, match="http.cert_file .* does not exist"):
        HttpSinkOptions(cert_file=str(tmp_path / "c.pem"), key_file=str(tmp_path / "k.pem")).validate()
    (tmp_path / "c.pem").write_text("not a certificate")
    (tmp_path / "k.pem").write_text("not a key")
    with pytest.raises(ValueError, match="do not load as a certificate"):
        HttpSink(HttpSinkOptions(port=0, cert_file=str(tmp_path / "c.pem"), key_file=str(tmp_path / "k.pem")),
                 DaemonMetrics())
