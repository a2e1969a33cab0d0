"""Issue 36 item 9: an image over a pixel limit (default 50 MP, configurable) is refused from its
header, before it is decoded, with one line naming the file: in ``au-edge infer``, in the daemon's
``images:`` source and in :mod:`auedge.edge.images_io`. (A 30000x30000 black PNG of 0.9 MB took
5.3 GB and 24 s in ``infer``.) The decoder is replaced by one that fails the test if called."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from auedge.edge import images_io
from auedge.edge.cli import main
from auedge.edge.sources import make_source


def black_png(path, width: int, height: int):
    """A valid black greyscale PNG, written row by row through zlib (never held decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor, row = zlib.compressobj(9), bytes(width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def huge_png(tmp_path):
    return black_png(tmp_path / "huge.png", 8000, 7000)  # 56 MP, 80 KB


@pytest.fixture
def small_png(tmp_path):
    return black_png(tmp_path / "small.png", 160, 120)


@pytest.fixture
def no_decoding(monkeypatch):
    """Any decode of an image over the limit is a test failure, not just slow."""
    real = images_io.cv2.imdecode

    def guarded(buf, flags):
        decoded = real(buf, flags)
        assert decoded is None or decoded.shape[0] * decoded.shape[1] <= 1_000_000, "a huge image was decoded"
        return decoded

    monkeypatch.setattr(images_io.cv2, "imdecode", guarded)


def test_infer_refuses_an_image_over_the_default_limit(write_tiny_bundle, huge_png, small_png, no_decoding, capsys):
    code = main(["infer", "--bundle", str(write_tiny_bundle()), "--json", str(huge_png), str(small_png)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert lines[0]["path"] == str(huge_png)
    assert "8000x7000" in lines[0]["error"] and "over the limit of 50 MP" in lines[0]["error"]
    assert "--max-pixels" in lines[0]["error"] and "\n" not in lines[0]["error"]
    assert lines[1]["faces"] == []  # the other image is still read


def test_infer_max_pixels_sets_the_limit(write_tiny_bundle, small_png, capsys):
    bundle = str(write_tiny_bundle())
    assert main(["infer", "--bundle", bundle, str(small_png), "--max-pixels", "10000"]) == 1
    assert "160x120 (0.0192 MP), over the limit of 0.01 MP" in capsys.readouterr().out
    assert main(["infer", "--bundle", bundle, str(small_png), "--max-pixels", "0"]) == 0
    assert main(["infer", "--bundle", bundle, str(small_png), "--max-pixels", "-1"]) == 2


def test_images_source_makes_a_huge_image_a_bad_frame(tmp_path, huge_png, small_png, no_decoding):
    with make_source(f"images:{tmp_path}") as source:
        huge, small = source.read(), source.read()
    assert huge.bad and huge.image is None and "huge.png is 8000x7000" in huge.error
    assert "images:DIR?max_pixels=N" in huge.error
    assert not small.bad and small.image.shape == (120, 160, 3)


def test_images_source_max_pixels_option(tmp_path, small_png):
    with make_source(f"images:{tmp_path}?max_pixels=10000") as source:
        assert source.read().bad
    with make_source(f"images:{tmp_path}?max_pixels=0") as source:
        assert not source.read().bad


def test_decode_image_bytes_checks_the_header_too(huge_png, small_png, no_decoding):
    with pytest.raises(images_io.ImageTooLargeError, match="frame 7 is 8000x7000"):
        images_io.decode_image_bytes(huge_png.read_bytes(), what="frame 7")
    assert images_io.decode_image_bytes(small_png.read_bytes(), max_pixels=20_000).shape == (120, 160, 3)


def test_an_image_over_pillows_own_bomb_limit_is_refused_by_ours(tmp_path, no_decoding):
    header_only = tmp_path / "giant.png"  # 30000x30000 by its header; the data need not be there
    black_png(header_only, 16, 16)
    data = bytearray(header_only.read_bytes())
    data[16:24] = struct.pack(">II", 30000, 30000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    header_only.write_bytes(bytes(data))
    with pytest.raises(images_io.ImageTooLargeError, match="giant.png is more than [0-9]+ MP, over the limit"):
        images_io.read_image_rgb(header_only)
    assert np.asarray(images_io.read_image_rgb(black_png(tmp_path / "ok.png", 4, 4))).shape == (4, 4, 3)
