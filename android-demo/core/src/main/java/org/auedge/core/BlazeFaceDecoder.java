package org.auedge.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * BlazeFace anchors, decoding and MediaPipe's WEIGHTED non-maximum suppression, as
 * edge/face_detector.py does them (float32 arithmetic in the same order), so the phone and the
 * Python runtime find the same faces and eye keypoints from the same model outputs.
 */
public final class BlazeFaceDecoder {
    public static final int NUM_KEYPOINTS = 6;
    public static final int NUM_COORDS = 4 + 2 * NUM_KEYPOINTS;
    private static final float SCORE_CLIP = 100.0f;

    /** SSD anchor options of one BlazeFace variant. */
    public static final class AnchorSpec {
        public final int inputSize;
        public final int[] strides;
        public final int anchorsPerLayer;
        public final float anchorOffset;

        public AnchorSpec(int inputSize, int[] strides, int anchorsPerLayer, float anchorOffset) {
            this.inputSize = inputSize;
            this.strides = strides.clone();
            this.anchorsPerLayer = anchorsPerLayer;
            this.anchorOffset = anchorOffset;
        }
    }

    public static final AnchorSpec SHORT_RANGE = new AnchorSpec(128, new int[] {8, 16, 16, 16}, 2, 0.5f);
    public static final AnchorSpec FULL_RANGE = new AnchorSpec(192, new int[] {4}, 1, 0.5f);

    /** short_range / full_range spec for a bundle's detector kind (same aliases as Python). */
    public static AnchorSpec specForKind(String kind) {
        switch (kind) {
            case "short": case "short_range": case "short-range": case "blazeface-short-range":
                return SHORT_RANGE;
            case "full": case "full_range": case "full-range": case "blazeface-full-range":
                return FULL_RANGE;
            default:
                throw new IllegalArgumentException("face detector kind '" + kind + "' is not short_range or full_range");
        }
    }

    /** Anchor centres (x, y) normalised, interleaved, in the model's output order. */
    public static float[] generateAnchors(AnchorSpec spec) {
        List<int[]> groups = new ArrayList<>(); // {stride, anchors per cell}
        for (int stride : spec.strides) {
            if (!groups.isEmpty() && groups.get(groups.size() - 1)[0] == stride) {
                groups.get(groups.size() - 1)[1] += spec.anchorsPerLayer;
            } else {
                groups.add(new int[] {stride, spec.anchorsPerLayer});
            }
        }
        int total = 0;
        for (int[] g : groups) {
            int grid = (spec.inputSize + g[0] - 1) / g[0];
            total += grid * grid * g[1];
        }
        float[] anchors = new float[total * 2];
        int k = 0;
        for (int[] g : groups) {
            int grid = (spec.inputSize + g[0] - 1) / g[0];
            for (int y = 0; y < grid; y++) {
                float cy = ((float) y + spec.anchorOffset) / (float) grid;
                for (int x = 0; x < grid; x++) {
                    float cx = ((float) x + spec.anchorOffset) / (float) grid;
                    for (int a = 0; a < g[1]; a++) {
                        anchors[k++] = cx;
                        anchors[k++] = cy;
                    }
                }
            }
        }
        return anchors;
    }

    public static float sigmoid(float logit) {
        float clipped = Math.max(-SCORE_CLIP, Math.min(SCORE_CLIP, logit));
        return (float) (1.0 / (1.0 + Math.exp(-clipped)));
    }

    /** The logit at or above which sigmoid(logit) reaches the score threshold. */
    public static double logitThreshold(double scoreThreshold) {
        return Math.log(scoreThreshold / (1.0 - scoreThreshold));
    }

    private final AnchorSpec spec;
    private final float[] anchors;
    private final double logitThreshold;
    private final float nmsIou;
    private final int maxFaces;

    public BlazeFaceDecoder(AnchorSpec spec, float scoreThreshold, float nmsIou, int maxFaces) {
        if (!(scoreThreshold > 0 && scoreThreshold < 1) || !(nmsIou > 0 && nmsIou <= 1) || maxFaces < 1) {
            throw new IllegalArgumentException("score threshold must be in (0, 1), nms_iou in (0, 1], max faces >= 1");
        }
        this.spec = spec;
        this.anchors = generateAnchors(spec);
        this.logitThreshold = logitThreshold(scoreThreshold);
        this.nmsIou = nmsIou;
        this.maxFaces = maxFaces;
    }

    public int numAnchors() {
        return anchors.length / 2;
    }

    public AnchorSpec spec() {
        return spec;
    }

    /** Indices of the anchors whose logit passes the score threshold, in anchor order. */
    public int[] select(float[] logits) {
        int[] picked = new int[logits.length];
        int n = 0;
        for (int i = 0; i < logits.length; i++) {
            if ((double) logits[i] >= logitThreshold) {
                picked[n++] = i;
            }
        }
        return Arrays.copyOf(picked, n);
    }

    /** A face in normalised letterbox coordinates, before mapping back to the image. */
    public static final class Candidate {
        /** xmin, ymin, xmax, ymax. */
        public final float[] box;
        /** 12 values: keypoint x, y pairs. */
        public final float[] keypoints;
        public final float score;

        Candidate(float[] box, float[] keypoints, float score) {
            this.box = box;
            this.keypoints = keypoints;
            this.score = score;
        }
    }

    /** Decode one anchor's 16 regressor values (at {@code offset} in {@code raw}). */
    public Candidate decode(float[] raw, int offset, int anchor, float score) {
        float size = (float) spec.inputSize;
        float ax = anchors[2 * anchor];
        float ay = anchors[2 * anchor + 1];
        float cx = raw[offset] / size + ax;
        float cy = raw[offset + 1] / size + ay;
        float hw = raw[offset + 2] / size / 2.0f;
        float hh = raw[offset + 3] / size / 2.0f;
        float[] box = {cx - hw, cy - hh, cx + hw, cy + hh};
        float[] kps = new float[2 * NUM_KEYPOINTS];
        for (int k = 0; k < NUM_KEYPOINTS; k++) {
            kps[2 * k] = raw[offset + 4 + 2 * k] / size + ax;
            kps[2 * k + 1] = raw[offset + 5 + 2 * k] / size + ay;
        }
        return new Candidate(box, kps, score);
    }

    /**
     * All faces from the full model outputs: {@code regressors} (numAnchors x 16) and
     * {@code logits} (numAnchors), best first, in normalised letterbox coordinates.
     */
    public List<Candidate> decodeAll(float[] regressors, float[] logits) {
        int[] selected = select(logits);
        List<Candidate> candidates = new ArrayList<>(selected.length);
        for (int index : selected) {
            candidates.add(decode(regressors, index * NUM_COORDS, index, sigmoid(logits[index])));
        }
        return weightedNms(candidates, nmsIou, maxFaces);
    }

    static float iou(float[] a, float[] b) {
        float interW = Math.max(Math.min(a[2], b[2]) - Math.max(a[0], b[0]), 0.0f);
        float interH = Math.max(Math.min(a[3], b[3]) - Math.max(a[1], b[1]), 0.0f);
        float inter = interW * interH;
        float areaA = (a[2] - a[0]) * (a[3] - a[1]);
        float areaB = (b[2] - b[0]) * (b[3] - b[1]);
        float union = areaA + areaB - inter;
        return union > 0 ? inter / Math.max(union, 1e-12f) : 0.0f;
    }

    /**
     * MediaPipe's WEIGHTED suppression: take the best remaining candidate, gather every remaining
     * one overlapping it by more than {@code iouThreshold}, and replace the cluster by the
     * score-weighted mean of its boxes and keypoints, keeping the best score.
     */
    public static List<Candidate> weightedNms(List<Candidate> candidates, float iouThreshold, int maxOut) {
        List<Candidate> remaining = new ArrayList<>(candidates);
        // Stable sort by descending score, as np.argsort(-scores, kind="stable").
        remaining.sort((p, q) -> Float.compare(q.score, p.score));
        List<Candidate> kept = new ArrayList<>();
        while (!remaining.isEmpty() && kept.size() < maxOut) {
            Candidate top = remaining.get(0);
            List<Candidate> cluster = new ArrayList<>();
            List<Candidate> rest = new ArrayList<>();
            for (int i = 0; i < remaining.size(); i++) {
                Candidate c = remaining.get(i);
                if (i == 0 || iou(top.box, c.box) > iouThreshold) {
                    cluster.add(c);
                } else {
                    rest.add(c);
                }
            }
            if (cluster.size() > 1) {
                float total = 0.0f;
                for (Candidate c : cluster) {
                    total += c.score;
                }
                float[] box = new float[4];
                float[] kps = new float[2 * NUM_KEYPOINTS];
                for (Candidate c : cluster) {
                    float w = c.score / total;
                    for (int j = 0; j < 4; j++) {
                        box[j] += c.box[j] * w;
                    }
                    for (int j = 0; j < kps.length; j++) {
                        kps[j] += c.keypoints[j] * w;
                    }
                }
                kept.add(new Candidate(box, kps, top.score));
            } else {
                kept.add(top);
            }
            remaining = rest;
        }
        return kept;
    }

    /** Map a candidate from normalised letterbox coordinates back to original image pixels. */
    public Detection toImage(Candidate c, Letterbox.Geometry g) {
        double size = spec.inputSize;
        double scaleX = (double) g.newWidth / g.imageWidth;
        double scaleY = (double) g.newHeight / g.imageHeight;
        double x0 = ((double) c.box[0] * size - g.padX) / scaleX;
        double y0 = ((double) c.box[1] * size - g.padY) / scaleY;
        double x1 = ((double) c.box[2] * size - g.padX) / scaleX;
        double y1 = ((double) c.box[3] * size - g.padY) / scaleY;
        float[] points = new float[2 * NUM_KEYPOINTS];
        for (int k = 0; k < NUM_KEYPOINTS; k++) {
            points[2 * k] = snap(((double) c.keypoints[2 * k] * size - g.padX) / scaleX);
            points[2 * k + 1] = snap(((double) c.keypoints[2 * k + 1] * size - g.padY) / scaleY);
        }
        return new Detection(x0, y0, x1 - x0, y1 - y0, c.score, points);
    }

    /** Keypoints are reported on a 1/KEYPOINT_GRID px grid (edge/face_detector.py snap_keypoints). */
    public static final int KEYPOINT_GRID = 8;

    /**
     * A keypoint coordinate rounded half up to the grid, as Python does: the detector's float kernels
     * differ by device by ~1e-4 px, and snapped keypoints let two devices cut the same crop.
     */
    static float snap(double v) {
        return (float) (Math.floor(v * KEYPOINT_GRID + 0.5) / KEYPOINT_GRID);
    }

    /** decodeAll + toImage: the faces of one frame in its pixels, best first. */
    public List<Detection> detect(float[] regressors, float[] logits, Letterbox.Geometry g) {
        List<Detection> out = new ArrayList<>();
        for (Candidate c : decodeAll(regressors, logits)) {
            out.add(toImage(c, g));
        }
        return out;
    }
}
