"""Who may read the HTTP sink: a bearer token, the Host header, and TLS.

Why each: bound to anything but loopback, the sink's records (faces' AUs, a personal signal)
would be readable by anyone on the network, so it refuses to start without a token unless the
config says ``allow_unauthenticated = true``. The token comes from a file that only its owner may
read (like ``mqtt.password_file``) and is compared in constant time. The Host header is checked on
every request so that a web page elsewhere cannot read the sink through DNS rebinding (its
requests carry the attacker's name): IP literals, ``localhost`` and this machine's names are
accepted, plus ``allowed_hosts``. TLS (``cert_file``/``key_file``) keeps the token and the records
off the wire in clear.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
import ssl
import stat
from pathlib import Path

MIN_TOKEN_CHARS = 16


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_token(path: str) -> str:
    """The secret in ``path``; ValueError naming ``http.token_file`` and the fix when unusable."""
    file = Path(path)
    try:
        info = file.stat()
        text = file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ValueError(f"http.token_file {path} does not exist: create it, e.g. "
                         f"`openssl rand -hex 32 > {path} && chmod 600 {path}`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"http.token_file {path} cannot be read ({exc}): check the path and its permissions") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"http.token_file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise ValueError(f"http.token_file {path} may be read by group or others (mode "
                         f"{stat.S_IMODE(info.st_mode):04o}): chmod 600 {path}")
    if len(text) < MIN_TOKEN_CHARS or any(c.isspace() for c in text):
        raise ValueError(f"http.token_file {path} must hold one secret of at least {MIN_TOKEN_CHARS} characters "
                         f"without spaces, e.g. `openssl rand -hex 32 > {path}`")
    return text


def bearer_matches(authorization: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class HostCheck:
    """Accepts a Host header that is an IP literal, localhost, this machine's name, or a listed name."""

    def __init__(self, allowed_hosts: str, bind_host: str) -> None:
        name = socket.gethostname().lower()
        self.names = {"localhost", name, f"{name}.local", bind_host.lower()}
        self.names |= {h.strip().lower() for h in allowed_hosts.split(",") if h.strip()}

    def allows(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        host = host_header.strip().lower()
        if host.startswith("["):  # [::1]:8080
            host = host[1:].partition("]")[0]
        elif host.count(":") == 1:
            host = host.partition(":")[0]
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            return host.rstrip(".") in self.names


def check_file(key: str, path: str) -> None:
    if not os.path.isfile(path):
        raise ValueError(f"{key} {path} does not exist or is not a file: give the path of a PEM file")


def make_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context (TLS 1.2+); ValueError naming the keys when the pair does not load."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"http.cert_file {cert_file} / http.key_file {key_file} do not load as a certificate "
                         f"and its private key ({exc}): give PEM files that belong together") from None
    return context
