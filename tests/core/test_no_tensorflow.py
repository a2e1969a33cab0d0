"""auedge.edge must work on a device with no TensorFlow: import it with TensorFlow blocked."""

import subprocess
import sys
import textwrap

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    class BlockTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "tf_keras"):
                raise ImportError(f"{name} is blocked: the edge runtime must not need it")
            return None

    sys.meta_path.insert(0, BlockTensorFlow())
    """
)


def run_blocked(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + code], capture_output=True, text=True, timeout=120, check=False)


def test_blocker_really_blocks():
    result = run_blocked("import tensorflow")
    assert result.returncode != 0 and "blocked" in result.stderr


def test_edge_imports_without_tensorflow():
    modules = ["auedge.edge", "auedge.edge.align", "auedge.edge.bundle", "auedge.edge.preprocess",
               "auedge.edge.results"]
    optional = ["auedge.edge.estimator", "auedge.edge.face_detector", "auedge.edge.cli", "auedge.edge.daemon",
                "auedge.edge.backends", "auedge.edge.sources", "auedge.edge.sinks"]
    code = textwrap.dedent(
        f"""
        import importlib, importlib.util
        for name in {modules!r}:
            importlib.import_module(name)
        for name in {optional!r}:
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        assert not any(m.split('.')[0] == 'tensorflow' for m in sys.modules)
        print('ok')
        """
    )
    result = run_blocked(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
