"""keep_freed_memory: one glibc arena for every thread, so worker threads stop faulting freed pages back in."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")

PROBE = textwrap.dedent(
    """
    import ctypes, ctypes.util, os, sys, tempfile, threading
    import numpy as np
    if sys.argv[1] == "fixed":
        from auedge.train.trainer import keep_freed_memory
        assert keep_freed_memory()

    def churn():
        for _ in range(50):
            a = np.ones(300_000)  # 2.4 MB, from malloc in this thread's arena
            del a

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    path = os.path.join(tempfile.mkdtemp(), "malloc.xml")
    fp = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(open(path).read().count("<heap nr="))
    """
)


def heaps_after_threads(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120, check=True)
    return int(out.stdout.strip())


def test_threads_share_one_arena_after_keep_freed_memory():
    if heaps_after_threads("plain") < 2:
        pytest.skip("this libc gives threads no arenas of their own; nothing to fix")
    assert heaps_after_threads("fixed") == 1
