"""benchmarks/http_clients.py end to end, short: a table, a JSON result, a daemon child that ends."""

from __future__ import annotations

import json
import sys

import pytest
from auedge.benchmarks import http_clients

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the benchmark reads /proc")


def test_http_clients_prints_a_table_and_writes_json(tmp_path, capsys):
    code = http_clients.main(["--seconds", "1", "--warmup", "0.2", "--clients", "40", "--fake-ms", "10",
                              "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "40 clients" in out and "% of idle" in out
    (path,) = tmp_path.glob("http_clients-*.json")
    result = json.loads(path.read_text())
    assert result["idle"]["fps"] > 5 and result["crowded"]["bad_frames"] == 0
    assert result["crowded"]["peak_threads"] < 40  # bounded workers, not one thread per client
    assert result["environment"]["cpu_count"] and result["options"]["clients"] == 40
