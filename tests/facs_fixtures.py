"""Tiny CK+, DISFA and UNBC-McMaster trees in their distribution layouts, drawn with the synthetic face renderer.

No CK+, DISFA or UNBC-McMaster file is on this machine or in the repository (all are licensed): these
trees copy the documented layouts (see ``train/data/ckplus.py``, ``disfa.py`` and ``unbc.py``) with
synthetic faces whose five landmarks are known, so a reader's rows can be checked exactly.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from auedge.train.data.synthetic import identity_for, render_face

SIZE = 256
# CK+ sequences: (subject, sequence, frames, peak codes {AU: intensity}, emotion or None)
CK_SEQUENCES = (
    ("S005", "001", 3, {12: 3, 6: 0}, 5),
    ("S005", "002", 3, {4: 4, 7: 2}, None),
    ("S010", "004", 4, {4: 0, 17: 1}, 1),
)


def by_name(rows: list) -> dict:
    """Manifest rows by their image's file name."""
    return {Path(row.path).name: row for row in rows}


def write_image(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def face(subject_index: int, k: int, au12: float, au4: float) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic face (RGB, SIZE px) of one identity and its five landmarks."""
    return render_face(identity_for(7, subject_index), np.random.default_rng([7, subject_index, k]), au12, au4, SIZE)


def points_68(five: np.ndarray) -> np.ndarray:
    """68-point markup whose eye contours average to the two eye centres and whose nose tip (30) and
    mouth corners (48, 54) are the given points, listed subject-right first as the 68-point scheme is."""
    points = np.zeros((68, 2))
    points[:] = five.mean(axis=0)
    ring = np.array([[-6, 0], [-3, -3], [3, -3], [6, 0], [3, 3], [-3, 3]], dtype=np.float64)
    points[36:42] = five[0] + ring
    points[42:48] = five[1] + ring
    points[30] = five[2]
    points[48], points[54] = five[3], five[4]
    return points


def make_ckplus(root: Path, landmarks: bool = True) -> tuple[Path, dict[str, np.ndarray]]:
    """A CK+ tree; returns it and the five true landmarks of every frame written (by file name)."""
    truth = {}
    for s, (subject, sequence, frames, codes, emotion) in enumerate(CK_SEQUENCES):
        for f in range(1, frames + 1):
            level = (f - 1) / (frames - 1)  # neutral first, peak last
            rgb, five = face(s, f, 4.0 * level * (12 in codes), 4.0 * level * (4 in codes))
            stem = f"{subject}_{sequence}_{f:08d}"
            write_image(root / "cohn-kanade-images" / subject / sequence / f"{stem}.png", rgb)
            truth[f"{stem}.png"] = five
            if landmarks:
                path = root / "Landmarks" / subject / sequence / f"{stem}_landmarks.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("".join(f"   {x:.7e}   {y:.7e}\n" for x, y in points_68(five)))
        facs = root / "FACS" / subject / sequence / f"{stem}_facs.txt"
        facs.parent.mkdir(parents=True, exist_ok=True)
        facs.write_text("".join(f"   {au:.7e}   {value:.7e}\n" for au, value in codes.items()))
        if emotion is not None:
            path = root / "Emotion" / subject / sequence / f"{stem}_emotion.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"   {emotion:.7e}\n")
    return root, truth


# DISFA: per subject, per frame (au4, au12) intensities; other AUs' files hold zeros.
DISFA_LABELS = {
    "SN001": [(0, 0), (3, 0), (1, 0), (0, 4), (0, 2)],
    "SN002": [(0, 1), (2, 0), (0, 0), (5, 0), (0, 3)],
}


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (SIZE, SIZE))
    assert writer.isOpened()
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def make_disfa(root: Path, cameras: tuple[str, ...] = ("left",)) -> Path:
    """A DISFA tree: MJPG videos named as in the download (mixed case) and ``frame,intensity`` files."""
    for s, (subject, labels) in enumerate(DISFA_LABELS.items()):
        frames = [face(10 + s, k, au12, au4)[0] for k, (au4, au12) in enumerate(labels)]
        for camera in cameras:
            # The download mixes the case: LeftVideoSN001_comp.avi, RightVideoSN001_Comp.avi.
            name = f"LeftVideo{subject}_comp.avi" if camera == "left" else f"RightVideo{subject}_Comp.avi"
            write_video(root / f"Videos_{camera.title()}Camera" / name, frames)
        folder = root / "ActionUnit_Labels" / subject
        folder.mkdir(parents=True, exist_ok=True)
        for au in (1, 2, 4, 12):
            values = [{4: a4, 12: a12}.get(au, 0) for a4, a12 in labels]
            (folder / f"{subject}_au{au}.txt").write_text("".join(f"{i},{v}\n" for i, v in enumerate(values, start=1)))
    return root


# UNBC-McMaster sequences: (subject folder, sequence, per frame {AU: intensity} (AU 0: FACS' neutral-face
# line), columns a FACS line is written with (the download's four, or two), {measure: value} or None).
UNBC_SEQUENCES = (
    ("042-ll042", "ll042t1aaaff", ({}, {4: 2, 6: 1}, {4: 3, 7: 2, 43: 1}, {12: 2}), 4, {"VAS": 3, "OPR": 2, "AFF": 5}),
    ("042-ll042", "ll042t2aaunaff", ({}, {12: 3, 25: 1}, {6: 0, 12: 1}), 2, {"VAS": 0, "OPR": 0}),
    ("043-jh043", "jh043t1afaff", ({4: 1, 9: 2, 10: 3}, {0: 0}, {12: 4, 6: 3}), 4, None),
)


def points_66(five: np.ndarray) -> np.ndarray:
    """66-point AAM markup: the 68-point one without the inner mouth corners (68's 60 and 64)."""
    return np.delete(points_68(five), [60, 64], axis=0)


def unbc_pspi(codes: dict[int, int]) -> int:
    return codes.get(4, 0) + max(codes.get(6, 0), codes.get(7, 0)) + max(codes.get(9, 0), codes.get(10, 0)) + (43 in codes)


def write_lines(path: Path, rows: list[tuple[float, ...]]) -> Path:
    """Numbers written as the Pittsburgh tools write them: three spaces, then 4.0000000e+00."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("".join(f"   {v:.7e}" for v in row) + "\n" for row in rows))
    return path


def make_unbc(root: Path, landmarks: bool = True, pspi: bool = True) -> tuple[Path, dict[str, np.ndarray]]:
    """A UNBC-McMaster tree; returns it and the five true landmarks of every frame written (by file name)."""
    truth = {}
    for s, (subject, sequence, frames, columns, measures) in enumerate(UNBC_SEQUENCES):
        where = Path(subject) / sequence
        for f, codes in enumerate(frames, start=1):
            rgb, five = face(20 + s, f, float(codes.get(12, 0)), float(codes.get(4, 0)))
            stem = f"{sequence}{f:03d}"
            write_image(root / "Images" / where / f"{stem}.png", rgb)
            truth[f"{stem}.png"] = five
            lines = [(au, value, 0, 0)[:columns] for au, value in codes.items()]
            write_lines(root / "Frame_Labels" / "FACS" / where / f"{stem}_facs.txt", lines)  # empty file: no AU
            if pspi:
                write_lines(root / "Frame_Labels" / "PSPI" / where / f"{stem}_facs.txt", [(unbc_pspi(codes),)])
            if landmarks:
                write_lines(root / "AAM_landmarks" / where / f"{stem}_aam.txt", [tuple(p) for p in points_66(five)])
        for name, value in (measures or {}).items():
            write_lines(root / "Sequence_Labels" / name / subject / f"{sequence}.txt", [(value,)])
    return root, truth
