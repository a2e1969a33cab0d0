"""A source in, one result per frame out: the daemon's pipeline for Python users and ``au-edge analyze``.

    import auedge.edge

    for result in auedge.edge.stream("clip.mp4"):
        for face in result.faces:
            print(result.media_s, face.track_id, face.aus, face.observable, face.aus_smoothed)

(``auedge.edge.stream`` is :func:`stream` of this module, which is not called ``stream.py`` so that
the function and a submodule cannot shadow each other on the package.)

One frame's work (estimate with tracking, then smooth per face track) is :class:`FrameProcessor`,
which the daemon runs too: a recorded video gives here the values the daemon would record for it.
What differs is only the driving: :func:`stream` reads the source in the caller's thread, in
order, never pacing (``?fps=`` only sets the clock of stills) and never dropping a frame, and
stamps each result with the clip's own media time, not with how fast this CPU decodes.

Every frame read gives one result, including a frame with no face (``faces == []``) and a frame
that could not be decoded or estimated (``bad=True`` with ``error``): a consumer counts frames
read, never guesses them. :func:`to_rows` flattens results into the rows of ``au-edge analyze``'s
CSV (:mod:`auedge.edge.analyze`), and :func:`to_dataframe` into a pandas DataFrame when pandas is
installed (it is not a dependency).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auedge.edge.results import FaceResult
from auedge.edge.smoothing import FaceSmoother, SmoothingOptions
from auedge.edge.sources import make_source
from auedge.edge.sources.base import Frame, FrameSource

__all__ = ["FrameProcessor", "FrameResult", "StreamOptions", "open_stream_source", "stream", "to_dataframe",
           "to_rows"]


@dataclass
class FrameResult:
    """One frame of a source: its faces (AU values, flags, smoothed values, track ids) and timings.

    ``index`` counts frames read from 0; ``media_s`` is the frame's time in seconds on the clip's
    own clock from its first frame (a camera: from the first frame read); ``ts`` is the source's
    timestamp (wall-clock based, as in daemon records). ``au_names`` are the AUs every face
    carries, in bundle order. ``bad`` frames (undecodable, or the estimator failed on them) have
    no faces and say why in ``error``. ``detected`` is False when tracking carried the faces.
    """

    index: int
    ts: float
    media_s: float
    faces: list[FaceResult]
    au_names: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    detected: bool = True
    bad: bool = False
    error: str = ""

    def rows(self) -> list[dict[str, Any]]:
        """This frame as CSV rows (:data:`auedge.edge.analyze.FRAME_COLUMNS` + per-AU columns)."""
        from auedge.edge.analyze import frame_rows

        return frame_rows(self)

    def to_dict(self) -> dict[str, Any]:
        return {"frame": self.index, "ts": round(self.ts, 3), "media_s": round(self.media_s, 4),
                "image_size": None if self.image_size is None else list(self.image_size),
                "faces": [face.to_dict() for face in self.faces], "detected": self.detected, "bad": self.bad,
                "error": self.error, "timings_ms": {k: round(float(v), 3) for k, v in self.timings_ms.items()}}


def reported_aus(estimator: Any) -> tuple[str, ...]:
    """The AUs the estimator's faces carry (none known for a stand-in without a bundle)."""
    return tuple(getattr(getattr(estimator, "bundle", None), "reported_aus", ()))


class FrameProcessor:
    """One frame's work: estimate (with the estimator's tracking), then smooth per face track.

    Shared by the daemon and :func:`stream`, so both give the same values for the same frames.
    Call :meth:`process` once per frame, in order; :meth:`reset` where frames stop being continuous
    (a reopened camera, a new clip): no smoothing and no tracked face carry across.
    """

    def __init__(self, estimator: Any, smoothing: SmoothingOptions | None = None) -> None:
        self.estimator = estimator
        self.smoother = FaceSmoother(smoothing)
        self.au_names = reported_aus(estimator)

    def reset(self, new_clip: bool = False) -> None:
        """Forget faces and filters (a reopened camera); ``new_clip`` also numbers faces from 1 again,
        so a clip's face ids do not depend on what the estimator saw before it."""
        if new_clip:
            self.smoother = FaceSmoother(self.smoother.options)
        else:
            self.smoother.reset()
        reset_tracking = getattr(self.estimator, "reset_tracking", None)
        if callable(reset_tracking):
            reset_tracking(restart_ids=True) if new_clip else reset_tracking()

    def process(self, frame: Frame, media_s: float | None = None) -> FrameResult:
        """The result of ``frame`` (which must carry an image). Raises what the estimator raises:
        the caller decides whether one odd frame stops it (the daemon and stream() go on)."""
        t0 = time.perf_counter()
        result = self.estimator.estimate(frame.image)
        t1 = time.perf_counter()
        smoothed = self.smoother.update(result.faces, frame.ts)
        for face, smooth in zip(result.faces, smoothed):
            face.track_id = smooth.track_id  # the estimator's id when it tracks; the smoother's otherwise
            face.aus_smoothed = smooth.aus
        t2 = time.perf_counter()
        timings = {**result.timings_ms, "estimate": (t1 - t0) * 1e3, "smooth": (t2 - t1) * 1e3}
        return FrameResult(index=frame.index, ts=frame.ts, media_s=frame.ts if media_s is None else media_s,
                           faces=list(result.faces), au_names=self.au_names, image_size=tuple(result.image_size),
                           timings_ms=timings, detected=bool(getattr(result, "detected", True)))

    def bad_result(self, frame: Frame, media_s: float, error: str) -> FrameResult:
        return FrameResult(index=frame.index, ts=frame.ts, media_s=media_s, faces=[], au_names=self.au_names,
                           bad=True, error=error)


@dataclass(frozen=True)
class StreamOptions:
    """How :func:`stream` runs when it makes its own estimator.

    ``estimator``: what to load (None: the default bundle, one thread, tracking on as in the
    daemon). ``smoothing``: the daemon's defaults unless given. ``pace``: False reads as fast as
    decoding allows (analysis); True honours a file source's ``?fps=`` like the daemon does.
    ``max_frames``: stop after this many frames (0 = until the source ends; a camera never does).
    """

    estimator: Any = None  # EstimatorOptions | None (imported lazily: it pulls in an interpreter)
    smoothing: SmoothingOptions = field(default_factory=SmoothingOptions)
    pace: bool = False
    max_frames: int = 0

    def __post_init__(self) -> None:
        self.smoothing.validate()
        if self.max_frames < 0:
            raise ValueError(f"max_frames must be >= 0 (got {self.max_frames}); 0 means until the source ends")


def source_uri(source: str | Path) -> str:
    """A plain path as a source URI (an existing folder: its images; anything else: a video); a URI as is."""
    text = str(source)
    scheme = text.partition(":")[0]
    if scheme in {"video", "images", "camera", "picamera2"} and not Path(text).exists():
        return text
    return f"images:{text}" if Path(text).is_dir() else f"video:{text}"


def open_stream_source(source: str | Path | FrameSource, pace: bool = False) -> FrameSource:
    """The opened source for ``source`` (a URI, a path, or a FrameSource to open); SourceError if it cannot."""
    if isinstance(source, FrameSource):
        if not source.is_open:
            source.open()
        return source
    opened = make_source(source_uri(source), pace=pace)
    opened.open()
    return opened


def _default_estimator() -> Any:
    from auedge.edge.default_bundle import choose_bundle
    from auedge.edge.estimator import Estimator, EstimatorOptions
    from auedge.edge.tracking import TrackingOptions

    return Estimator.create_from_options(EstimatorOptions(bundle_path=choose_bundle(None).path,
                                                          tracking=TrackingOptions()))


def stream(source: str | Path | FrameSource, options: StreamOptions | None = None, *,
           estimator: Any = None) -> Iterator[FrameResult]:
    """Yield one :class:`FrameResult` per frame of ``source``, in order, until it ends.

    ``source``: a URI of the daemon's (``video:clip.mp4``, ``images:dir/?fps=30``, ``camera:0``), a
    path (a folder is read as its images, anything else as a video), or a :class:`FrameSource`.
    ``estimator``: an Estimator to reuse across calls (its tracking is reset here, and it is not
    closed); otherwise one is made from ``options.estimator`` and closed at the end. The source is
    closed at the end too, one passed in included. Faces are numbered from 1 in each call. Raises
    :class:`~auedge.edge.sources.base.SourceError` when the source cannot be opened, before any result.
    """
    options = options or StreamOptions()
    own = estimator is None
    if own:
        if options.estimator is None:
            estimator = _default_estimator()
        else:
            from auedge.edge.estimator import Estimator

            estimator = Estimator.create_from_options(options.estimator)
    try:
        opened = open_stream_source(source, options.pace)
        try:
            yield from _results(opened, FrameProcessor(estimator, options.smoothing), options.max_frames)
        finally:
            opened.close()
    finally:
        if own:
            estimator.close()


def _results(source: FrameSource, processor: FrameProcessor, max_frames: int) -> Iterator[FrameResult]:
    processor.reset(new_clip=True)  # nothing carried in from what the estimator saw before; ids from 1
    first_ts: float | None = None
    count = 0
    while not max_frames or count < max_frames:
        frame = source.read()
        if frame is None:
            return
        frame.index = count  # this source's own count (a source built elsewhere may have read before)
        count += 1
        first_ts = frame.ts if first_ts is None else first_ts
        media_s = frame.media_s if frame.media_s is not None else frame.ts - first_ts
        if frame.bad or frame.image is None:
            yield processor.bad_result(frame, media_s, frame.error or "no image")
            continue
        try:
            result = processor.process(frame, media_s)
        except Exception as exc:  # noqa: BLE001 - as in the daemon: one odd frame must not end the run
            result = processor.bad_result(frame, media_s, f"estimate failed: {exc!r}")
        yield result


def to_rows(results: Iterable[FrameResult]) -> list[dict[str, Any]]:
    """The CSV rows of ``au-edge analyze`` for ``results``: one per face, or one with ``success=0``."""
    return [row for result in results for row in result.rows()]


def to_dataframe(results: Iterable[FrameResult]):
    """:func:`to_rows` as a pandas DataFrame with the documented columns, in order (needs pandas)."""
    try:
        import pandas
    except ImportError as exc:
        raise ImportError("to_dataframe needs pandas, which au-edge does not install: pip install pandas "
                          "(or use to_rows(), plain dicts)") from exc
    from auedge.edge.analyze import csv_columns

    results = list(results)
    names = next((r.au_names for r in results if r.au_names), ())
    return pandas.DataFrame(to_rows(results), columns=csv_columns(names))
