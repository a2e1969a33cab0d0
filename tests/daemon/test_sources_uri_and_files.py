"""Frame sources: URI parsing, image folders with a corrupt file, a real video file, picamera2 absent."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
from auedge.edge.sources import URI_FORMS, SourceError, make_source, open_source, parse_source_uri


def test_parse_forms():
    assert parse_source_uri("camera:0") == ("camera", "0", {})
    assert parse_source_uri("video:clip.mp4?loop=1&fps=5") == ("video", "clip.mp4", {"loop": "1", "fps": "5"})
    assert parse_source_uri("images:/data/frames/") == ("images", "/data/frames/", {})
    assert parse_source_uri("picamera2") == ("picamera2", "", {})
    assert parse_source_uri("picamera2:1?size=320x240") == ("picamera2", "1", {"size": "320x240"})
    assert parse_source_uri("picamera2?lores=1") == ("picamera2", "", {"lores": "1"})


@pytest.mark.parametrize("uri", ["", "webcam:0", "camera:front", "video:", "images:?loop=1",
                                 "video:a.mp4?speed=2", "picamera2:x", "/dev/video0"])
def test_bad_uri_lists_the_forms(uri):
    with pytest.raises(ValueError) as info:
        make_source(uri)
    message = str(info.value)
    for form in URI_FORMS:
        assert form in message


def test_bad_option_values():
    with pytest.raises(ValueError, match="loop= must be 0 or 1"):
        make_source("video:a.mp4?loop=maybe")
    with pytest.raises(ValueError, match="fps= must be a number"):
        make_source("images:d?fps=fast")
    with pytest.raises(ValueError, match="size= must look like 640x480"):
        make_source("camera:0?size=big")
    for value in ("nan", "inf", "-1"):  # NaN passed the old `fps < 0` check and ran uncapped
        with pytest.raises(ValueError, match="fps= must be a finite number >= 0"):
            make_source(f"video:a.mp4?fps={value}")


def _write_images(folder, count):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = np.zeros((24, 32, 3), np.uint8)
        image[..., 2] = 10 * i  # red in RGB after cv2's BGR
        assert cv2.imwrite(str(folder / f"img_{i:02d}.png"), image)


def test_images_folder_sorted_with_corrupt_file(tmp_path):
    folder = tmp_path / "frames"
    _write_images(folder, 3)
    (folder / "img_01b.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    (folder / "notes.txt").write_text("not an image, ignored by suffix")
    with open_source(f"images:{folder}") as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [f.bad for f in frames] == [False, False, True, False]
    assert frames[2].image is None and "img_01b.jpg" in frames[2].error
    good = [f for f in frames if not f.bad]
    assert [f.meta["file"] for f in good] == ["img_00.png", "img_01.png", "img_02.png"]
    assert good[2].image.dtype == np.uint8 and good[2].image.shape == (24, 32, 3)
    assert good[2].image[0, 0, 0] == 20  # red channel: BGR converted to RGB
    assert good[2].image[0, 0, 2] == 0
    assert source.is_open is False


def test_images_loop_keeps_counting(tmp_path):
    folder = tmp_path / "frames"
    _write_images(folder, 2)
    with open_source(f"images:{folder}?loop=1") as source:
        frames = [source.read() for _ in range(5)]
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.meta["file"] for f in frames] == ["img_00.png", "img_01.png"] * 2 + ["img_00.png"]


def test_images_missing_or_empty_folder(tmp_path):
    with pytest.raises(SourceError, match="is not a folder"):
        open_source(f"images:{tmp_path / 'nope'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no image files"):
        open_source(f"images:{tmp_path / 'empty'}")


def _write_video(path, count, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened()
    for i in range(count):
        bgr = np.zeros((size[1], size[0], 3), np.uint8)
        bgr[..., 2] = 20 * (i + 1)  # red
        writer.write(bgr)
    writer.release()


def test_video_file_frames_and_loop(tmp_path):
    path = tmp_path / "clip.avi"
    _write_video(path, 5)
    with open_source(f"video:{path}") as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    assert len(frames) == 5
    assert frames[0].image.shape == (48, 64, 3)
    reds = [int(f.image[..., 0].mean()) for f in frames]
    assert reds == sorted(reds) and abs(reds[0] - 20) <= 6  # RGB order, increasing red
    assert int(frames[0].image[..., 2].mean()) <= 6
    with open_source(f"video:{path}?loop=1") as source:
        looped = [source.read() for _ in range(12)]
    assert all(f is not None and not f.bad for f in looped)
    assert [f.index for f in looped] == list(range(12))


def test_video_missing_or_not_a_video(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        open_source(f"video:{tmp_path / 'none.mp4'}")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"definitely not a video" * 10)
    with pytest.raises(SourceError, match="cannot open"):
        open_source(f"video:{junk}")


def test_missing_camera_is_a_clear_error():
    with pytest.raises(SourceError, match=r"camera:97: no camera at index 97"):
        open_source("camera:97")


def test_picamera2_absent_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes `import picamera2` fail
    source = make_source("picamera2")
    with pytest.raises(SourceError) as info:
        source.open()
    assert "sudo apt install python3-picamera2" in str(info.value)
    assert "--system-site-packages" in str(info.value)


def test_picamera2_with_a_fake_module(monkeypatch):
    """The configuration and colour handling, with a stand-in for libcamera's Picamera2."""
    import types

    configs = []

    class FakePicamera2:
        def __init__(self, num):
            self.num = num

        def create_video_configuration(self, **kw):
            configs.append(kw)
            return kw

        def configure(self, config):
            self.config = config

        def start(self):
            pass

        def capture_array(self, stream):
            w, h = self.config[stream]["size"]
            if stream == "lores":  # I420 of a uniform mid-grey
                return np.full((h * 3 // 2, w), 128, np.uint8)
            bgr = np.zeros((h, w, 3), np.uint8)
            bgr[..., 0] = 200  # picamera2 RGB888 = B,G,R bytes: this is blue
            return bgr

        def stop(self):
            pass

        def close(self):
            pass

    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    with open_source("picamera2:0?size=64x48") as source:
        frame = source.read()
    assert configs[-1]["main"] == {"size": (64, 48), "format": "RGB888"}
    assert frame.image.shape == (48, 64, 3)
    assert frame.image[0, 0].tolist() == [0, 0, 200]  # blue ends up in the RGB blue channel
    assert configs[-1]["controls"] == {}
    with open_source("picamera2?lores=1&size=64x48&fps=10") as source:
        frame = source.read()
    assert configs[-1]["lores"] == {"size": (64, 48), "format": "YUV420"}
    assert configs[-1]["controls"] == {"FrameRate": 10.0}
    assert frame.image.shape == (48, 64, 3)
    assert abs(int(frame.image.mean()) - 128) <= 3
