"""DISFA (Denver Intensity of Spontaneous Facial Action, Mavadati et al., IEEE TAC 2013) -> frames and a manifest.

Layout of the distribution (as read by github.com/amogh112/deepFAU's DISFA notebook, and the 12 AUs
and SN numbers as in OpenFace's model_training/AU_training/experiments/DISFA/shared_defs.m)::

    Videos_LeftCamera/LeftVideoSN001_comp.avi      27 subjects, 4845 frames each at 20 fps
    Videos_RightCamera/RightVideoSN001_Comp.avi    (the case of "Left"/"Comp" varies between files)
    ActionUnit_Labels/SN001/SN001_au1.txt ... SN001_au26.txt
                                                    one "frame,intensity" line per frame: frame
                                                    1-based, intensity 0-5

The 12 AUs are 1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25 and 26. Folder and file names are matched
without regard to case. DISFA's landmarks (``Landmark_Points/``, MATLAB files) are not read. The
device path finds the face itself, so rows without landmarks serve evaluation; training cuts crops
from landmarks, so ``landmarks="detector"`` fills them from BlazeFace's most confident face on each
frame (``images.most_confident_landmarks``; the mouth corners estimated as for FER2013) and leaves
out, and counts, the frames where it finds none (one person facing the camera: rare).

What :func:`import_disfa` writes, and why:

- frames: a video is 4845 near-identical neighbours, so every ``stride``-th labelled frame is
  taken (frames 1, 1 + stride, ...; default 10), and only frames some AU file labels. They are
  decoded with OpenCV and written as PNG (lossless) to ``frames/SN001/left/SN001_left_000001.png``.
- labels: the intensities as coded, 0-5, one ``auN`` column per AU file; a frame an AU file does
  not list is unknown (empty). Occurrence is ``intensity >= 2`` in the AU-detection literature on
  DISFA (intensity A, 1, is a trace that coders disagree on); the evaluation applies that cut
  (``benchmarks/end_to_end.py --dataset disfa``: ``--present-at 2``). ``present_at`` writes 0/1 at
  a cut instead, for training an occurrence task with it (the trainer's own cut is 1).
- subject ``SN001``; meta ``camera`` (``left``/``right``), ``frame`` (1-based) and ``source``.
- splits: DISFA has no official split (papers use 3-fold subject-disjoint cross-validation), so
  whole subjects are carved into ``test`` by a seeded hash (``test_fraction`` 0.2, ``seed`` 0);
  ``all_split="test"`` puts every frame in ``test`` for evaluation-only use.

Everything is written under a temporary folder beside ``out`` and renamed into place once every
video and label file has been read (``staging.staged_folder``): a bad input leaves nothing behind.

Terms: DISFA is given out for research under a signed agreement (http://mohammadmahoor.com/disfa/);
never commit its frames or labels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from auedge.train.data.images import most_confident_landmarks
from auedge.train.data.manifest import DataError, ManifestRow, write_manifest
from auedge.train.data.splits import check_split_options, split_by_subject
from auedge.train.data.staging import staged_folder

SOURCE = "disfa"
AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
CAMERAS = ("left", "right")
LABELS_DIR = re.compile(r"^actionunit_labels$", re.IGNORECASE)
VIDEOS_DIR = re.compile(r"^videos_(left|right)camera$", re.IGNORECASE)
VIDEO_NAME = re.compile(r"^(left|right)video(sn\d+)_comp\.avi$", re.IGNORECASE)
SUBJECT_DIR = re.compile(r"^sn\d+$", re.IGNORECASE)
LABEL_NAME = re.compile(r"^(sn\d+)_au(\d+)\.txt$", re.IGNORECASE)
DEFAULT_STRIDE = 10
# A video may end this many frames before its labels (a decoder's count differs by a frame or two);
# more is a truncated copy and an error.
SHORT_VIDEO_FRAMES = 5
DISFA_PRESENT_AT = 2.0  # occurrence = intensity >= 2, the usual cut on DISFA
MANIFEST = "manifest.csv"
LANDMARK_SOURCES = ("none", "detector")
Log = Callable[[str], None]


def _child(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if pattern.match(p.name)) if folder.is_dir() else []


def read_labels(path: Path) -> dict[int, float]:
    """Frame (1-based) -> intensity 0-5 of one ``SN001_auN.txt``."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"label file {path} cannot be read ({exc.strerror}); restore it from the DISFA download") from None
    fix = "each line must be 'frame,intensity' (frame from 1, intensity 0-5); restore the file from the DISFA download"
    labels: dict[int, float] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            frame, value = int(cells[0]), float(cells[1])
            if len(cells) != 2:
                raise ValueError
        except (ValueError, IndexError):
            raise DataError(f"label file {path} line {number}: {line.strip()!r} is not 'frame,intensity'; {fix}") from None
        if frame < 1 or value not in (0, 1, 2, 3, 4, 5):
            raise DataError(f"label file {path} line {number}: {line.strip()!r} is out of range; {fix}")
        labels[frame] = value
    if not labels:
        raise DataError(f"label file {path} has no 'frame,intensity' lines; {fix}")
    return labels


def subject_labels(folder: Path) -> dict[str, dict[int, float]]:
    """``auN`` -> frame -> intensity for one ``ActionUnit_Labels/SN001`` folder."""
    table = {}
    for path in _child(folder, LABEL_NAME):
        match = LABEL_NAME.match(path.name)
        if match[1].upper() != folder.name.upper():
            raise DataError(f"label file {path} is named for {match[1]} but sits in {folder.name}/; move it back")
        table[f"au{int(match[2])}"] = read_labels(path)
    if not table:
        raise DataError(f"{folder} holds no SNnnn_auN.txt label files; unzip ActionUnit_Labels of the DISFA download")
    return table


def find_videos(root: Path, cameras: tuple[str, ...]) -> dict[tuple[str, str], Path]:
    """(subject ``SN001``, camera) -> video file, for the asked cameras."""
    videos = {}
    for folder in _child(root, VIDEOS_DIR):
        camera = VIDEOS_DIR.match(folder.name)[1].lower()
        if camera not in cameras:
            continue
        for path in _child(folder, VIDEO_NAME):
            match = VIDEO_NAME.match(path.name)
            videos[(match[2].upper(), match[1].lower())] = path
    return videos


def read_frames(video: Path, wanted: set[int], on_frame: Callable[[int, np.ndarray], None],
                tolerance: int = 0) -> int:
    """Call ``on_frame(frame, rgb)`` for each wanted frame (1-based) of a video, in order; returns the
    number of wanted frames past the video's end. A video that ends more than ``tolerance`` frames
    before the last wanted frame is an error (a truncated copy); within it, those frames are skipped
    (the published count is 4845 frames, and a decoder may find one or two fewer)."""
    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise DataError(f"video {video} does not open (missing codec or a broken file); copy it again from the "
                            "DISFA download, or check OpenCV's video support (python -c 'import cv2; "
                            "print(cv2.getBuildInformation())')")
        last = max(wanted)
        for frame in range(1, last + 1):
            if not capture.grab():
                if last - (frame - 1) > tolerance:
                    raise DataError(f"video {video} ends at frame {frame - 1} but its labels go to frame {last}; "
                                    "copy the video again from the DISFA download")
                return sum(f >= frame for f in wanted)
            if frame in wanted:
                ok, bgr = capture.retrieve()
                if not ok:
                    raise DataError(f"video {video}: frame {frame} does not decode; copy the video again")
                on_frame(frame, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return 0
    finally:
        capture.release()


def frame_labels(table: dict[str, dict[int, float]], frame: int, present_at: float | None) -> dict[str, float]:
    """One frame's labels: intensities, or 0/1 at ``present_at``; NaN where an AU file omits the frame."""
    out = {}
    for au, frames in table.items():
        value = frames.get(frame, math.nan)
        out[au] = value if present_at is None or math.isnan(value) else float(value >= present_at)
    return out


def import_disfa(
    src: str | Path,
    out: str | Path,
    *,
    cameras: tuple[str, ...] = ("left",),
    stride: int = DEFAULT_STRIDE,
    present_at: float | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    all_split: str | None = None,
    landmarks: str = "none",
    force: bool = False,
    log: Log = print,
) -> int:
    """Extract labelled frames of a DISFA download into ``out`` with ``out/manifest.csv``; returns the row count."""
    src, out = Path(src), Path(out)
    if stride < 1:
        raise DataError(f"disfa: --stride must be >= 1, got {stride}")
    bad = [c for c in cameras if c not in CAMERAS]
    if bad or not cameras:
        raise DataError(f"disfa: camera {bad[0] if bad else ''!r} is not one of {', '.join(CAMERAS)}")
    if landmarks not in LANDMARK_SOURCES:
        raise DataError(f"disfa: landmarks {landmarks!r} is not one of {', '.join(LANDMARK_SOURCES)}")
    if present_at is not None and not 0 < present_at <= 5:
        raise DataError(f"disfa: --present-at must be in (0, 5], got {present_at}")
    check_split_options("disfa", test_fraction, all_split)
    if not src.is_dir():
        raise DataError(f"DISFA folder {src} not found; pass --src the folder holding ActionUnit_Labels/ and Videos_LeftCamera/")
    label_dirs = _child(src, LABELS_DIR)
    if not label_dirs:
        raise DataError(f"DISFA folder {src} has no ActionUnit_Labels/ folder; unzip ActionUnit_Labels.zip into it")
    subjects = {d.name.upper(): d for d in _child(label_dirs[0], SUBJECT_DIR)}
    if not subjects:
        raise DataError(f"{label_dirs[0]} holds no SNnnn/ folders; is it DISFA's ActionUnit_Labels?")
    videos = find_videos(src, cameras)
    missing = [(s, c) for s in subjects for c in cameras if (s, c) not in videos]
    if missing:
        subject, camera = missing[0]
        raise DataError(f"DISFA folder {src}: no {camera.title()}Video{subject}_comp.avi in Videos_{camera.title()}Camera/ "
                        f"({len(missing)} videos missing); unzip the videos of the download, or choose --camera")
    tables = {subject: subject_labels(folder) for subject, folder in sorted(subjects.items())}
    if landmarks == "detector":
        from auedge.train.data.loader import open_training_detector

        detector = open_training_detector()
    else:
        detector = None
    rows: list[ManifestRow] = []
    unseen = 0
    try:
        with staged_folder(out, force=force) as stage:
            for subject, table in tables.items():
                frames = sorted(set().union(*table.values()))
                wanted = {f for f in frames if (f - 1) % stride == 0}
                for camera in cameras:
                    folder = stage / "frames" / subject / camera
                    folder.mkdir(parents=True)

                    def write(frame: int, rgb: np.ndarray, folder: Path = folder, camera: str = camera,
                              subject: str = subject, table: dict = table) -> None:
                        nonlocal unseen
                        points = None if detector is None else most_confident_landmarks(detector.detect(rgb))
                        if detector is not None and points is None:
                            unseen += 1  # no face to cut a training crop from: left out
                            return
                        path = folder / f"{subject}_{camera}_{frame:06d}.png"
                        if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                            raise DataError(f"cannot write {path}; check the space and permissions of --out's folder")
                        rows.append(ManifestRow(str(path), subject, "train", frame_labels(table, frame, present_at),
                                                points, {"camera": camera, "frame": str(frame), "source": SOURCE}))

                    past_end = read_frames(videos[(subject, camera)], wanted, write, SHORT_VIDEO_FRAMES)
                    note = f"; {past_end} past the video's end left out" if past_end else ""
                    log(f"disfa: {subject} {camera}: {len(wanted) - past_end} of {len(frames)} labelled frames "
                        f"(stride {stride}){note}")
            if not rows:
                raise DataError(f"disfa: the face detector found no face in any of the frames of {src}; "
                                "import without --landmarks detector (the benchmark locates faces itself)")
            split_by_subject(rows, test_fraction, seed, "disfa-test", all_split)
            write_manifest(rows, stage / MANIFEST)
    finally:
        if detector is not None:
            detector.backend.close()
    if unseen:
        log(f"disfa: {unseen} frames left out: the face detector found no face to take landmarks from")
    return len(rows)
