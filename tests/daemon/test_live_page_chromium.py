"""The live page at / in a real headless Chromium, against a running daemon (issue 39 item 5).

The daemon runs its real loop, smoother and HTTP sink on a fake camera and estimator whose AU12
follows the frame's brightness (changing every frame) and whose AU4 region is covered; then the
camera shows nobody. The page must show AU12 values that change, AU4 as "not observable", then
"no face", and never an image. Skipped with the reason when Chromium is missing and cannot be
installed (root with apt installs Debian's package, as ``scripts/setup.sh --test`` does).
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.request

import numpy as np
import pytest
from auedge.edge.daemon import run
from auedge.edge.daemon_config import DaemonConfig
from auedge.edge.results import EstimateResult, FaceResult
from auedge.edge.sinks.http_sink import live_page
from auedge.edge.sources.base import Frame, FrameSource
from chromium_cdp import Chromium, install_chromium

MARKUP = '<img src="x" id="injected">'


class CoveredBrowEstimator:
    """One face, AU12 = mean red / 255, AU4 judged covered; no face when the frame is black. A third
    output is named like markup: the page must show it as text."""

    def estimate(self, image: np.ndarray) -> EstimateResult:
        h, w = image.shape[:2]
        if not image.any():
            return EstimateResult(faces=[], image_size=(w, h))
        au12 = float(image[..., 0].mean() / 255.0)
        face = FaceResult(box=(8, 8, 16, 16), score=0.9, keypoints=[], aus={"AU12": au12, "AU4": 0.3, MARKUP: 0.5},
                          present={"AU12": au12 >= 0.5, "AU4": False}, observable={"AU12": True, "AU4": False})
        return EstimateResult(faces=[face], image_size=(w, h))


class FakeCamera(FrameSource):
    """A live source at ~20 fps whose brightness swings with time; black (nobody) once ``empty`` is set."""

    live = True

    def __init__(self, empty: threading.Event) -> None:
        super().__init__()
        self.empty = empty

    def read(self) -> Frame:
        time.sleep(0.05)
        level = 0 if self.empty.is_set() else int(128 + 100 * math.sin(time.monotonic() * 3.0))
        return Frame(image=np.full((32, 32, 3), level, np.uint8), ts=time.time(), index=self._take_index())


@pytest.fixture(scope="module")
def chromium_binary():
    path, why = install_chromium()
    if path is None:
        pytest.skip(why)
    return path


PAGE_STATE = """document.getElementById("status") === null ? "null" : JSON.stringify({
  status: document.getElementById("status").textContent,
  rows: Object.fromEntries([...document.querySelectorAll("tr[data-au]")].map(
    (r) => [r.dataset.au, [...r.cells].slice(1, 4).map((c) => c.textContent)])),
  inked: (() => { const c = document.querySelector('tr[data-au="AU12"] canvas');
    if (!c) return 0; const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; })(),
  images: document.querySelectorAll("img, video, picture, object, embed, iframe").length,
})"""


def wait_for(browser: Chromium, condition, timeout_s: float, seen: list) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = json.loads(browser.evaluate(PAGE_STATE))
        if state is None:  # still loading
            time.sleep(0.1)
            continue
        seen.append(state)
        if condition(state):
            return state
        time.sleep(0.25)
    raise AssertionError(f"the page never reached the state; last seen: {seen[-1] if seen else None}")


@pytest.mark.parametrize("with_token", [False, True], ids=["open", "token"])
def test_live_page_shows_changing_values_not_observable_and_no_face(chromium_binary, port_factory, tmp_path,
                                                                     with_token):
    config = DaemonConfig(device="pagetest", source="camera:0", target_fps=20)
    config.http.port = port_factory()
    fragment = ""
    if with_token:  # the page sends the token from #token=... on its /events request
        secret = "s3cret-" + "x" * 24
        (tmp_path / "token").write_text(secret)
        (tmp_path / "token").chmod(0o600)
        config.http.token_file = str(tmp_path / "token")
        fragment = f"#token={secret}"
    stop, empty = threading.Event(), threading.Event()
    daemon = threading.Thread(target=run, args=(config,), daemon=True,
                              kwargs={"estimator": CoveredBrowEstimator(), "source_factory": lambda: FakeCamera(empty),
                                      "stop": stop})
    daemon.start()
    url = f"http://127.0.0.1:{config.http.port}/"
    browser = None
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/html")
            policy = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "unsafe-inline" not in policy
            assert response.read() == live_page()
        browser = Chromium(chromium_binary, url + fragment)
        seen: list[dict] = []
        wait_for(browser, lambda s: len({s["rows"]["AU12"][0] for s in seen if "AU12" in s["rows"]}) >= 4, 20, seen)
        state = seen[-1]
        assert state["status"] == "1 face"
        assert state["rows"]["AU4"][2] == "not observable" and state["rows"]["AU12"][2] in ("present", "absent")
        low, high = (float(v) for v in state["rows"]["AU12"][1].replace("min ", "").split(" max "))
        assert high - low > 0.05  # the window's range shows the swing
        assert state["inked"] > 0 and state["images"] == 0 and MARKUP in state["rows"]  # shown as text
        empty.set()
        state = wait_for(browser, lambda s: s["status"].startswith("no face"), 10, seen)
        assert state["rows"]["AU12"][0] == "no face" and state["images"] == 0
    finally:
        if browser is not None:
            browser.close()
        stop.set()
        daemon.join(10)
