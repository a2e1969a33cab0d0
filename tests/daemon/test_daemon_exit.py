"""The daemon's end: no reader thread may still be inside a source's ``read()`` (native OpenCV code) when
``run`` returns, or the interpreter's finalisation aborts the process after a clean run (issue 38: the
arm64 check's picamera2 lores daemon, exit -6 after "stopped: 6 frames")."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from auedge.edge.daemon import run
from busy_camera import BusyCamera
from daemon_helpers import config, records

SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from auedge.edge.daemon import run
    from auedge.edge.daemon_config import setup_logging
    from auedge.edge.results import EstimateResult
    from busy_camera import BusyCamera
    from daemon_helpers import config

    class NoFace:
        def estimate(self, image):
            return EstimateResult(faces=[], image_size=image.shape[1::-1])

    cfg = config(Path(sys.argv[2]))
    cfg.debug.max_frames = 2
    setup_logging("INFO")
    sys.exit(run(cfg, estimator=NoFace(), source_factory=BusyCamera))
''')


def test_no_source_thread_outlives_the_run(tmp_path, fake_estimator):
    cfg = config(tmp_path)
    cfg.debug.max_frames = 2
    before = set(threading.enumerate())
    assert run(cfg, estimator=fake_estimator, source_factory=BusyCamera) == 0
    assert [thread.name for thread in threading.enumerate() if thread not in before] == []
    assert len(records(cfg)) == 2


def test_process_exits_cleanly_while_the_reader_is_inside_opencv(tmp_path):
    """The symptom itself, in a real interpreter: before the fix this aborted (SIGABRT) nearly every run,
    with "terminate called without an active exception" or "FATAL: exception not rethrown" (the same
    forced unwind meeting OpenCV's catch-all instead of its destructor)."""
    script = tmp_path / "busy_daemon.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(Path(__file__).parent), str(tmp_path)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "stopped: 2 frames" in proc.stderr
