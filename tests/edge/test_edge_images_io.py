"""Image decoding for the CLI and sources: always RGB uint8 (H, W, 3), or one error naming the file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from auedge.edge.images_io import ImageReadError, decode_image_bytes, read_image_rgb


def test_colour_order_is_rgb(tmp_path):
    bgr = np.zeros((4, 6, 3), dtype=np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    path = tmp_path / "red.png"
    cv2.imwrite(str(path), bgr)
    rgb = read_image_rgb(path)
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [255, 0, 0]


def test_grey_and_alpha_become_three_channels(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((5, 7), 40, dtype=np.uint8), mode="L").save(tmp_path / "grey.png")
    Image.fromarray(np.full((5, 7, 4), 200, dtype=np.uint8), mode="RGBA").save(tmp_path / "alpha.png")
    assert read_image_rgb(tmp_path / "grey.png").shape == (5, 7, 3)
    assert read_image_rgb(tmp_path / "alpha.png")[0, 0].tolist() == [200, 200, 200]


def test_non_ascii_path(tmp_path):
    path = tmp_path / "visage_été.jpg"
    cv2.imwrite(str(tmp_path / "plain.jpg"), np.full((8, 8, 3), 128, dtype=np.uint8))
    path.write_bytes((tmp_path / "plain.jpg").read_bytes())
    assert read_image_rgb(path).shape == (8, 8, 3)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n truncated"])
def test_bad_files_name_the_file(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match="bad.png"):
        read_image_rgb(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="cannot read image .*absent.jpg"):
        read_image_rgb(tmp_path / "absent.jpg")
    with pytest.raises(ImageReadError, match="cannot read image"):
        read_image_rgb(tmp_path)
    with pytest.raises(ImageReadError, match="frame 3"):
        decode_image_bytes(b"junk", what="frame 3")
