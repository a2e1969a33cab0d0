package org.auedge.core;

/**
 * The one face crop of edge/align.py, for the phone: eye line horizontal, a square of side
 * {@code eyeScale * eyeDistance} centred {@code centerBelowEyes * eyeDistance} below the eye midpoint,
 * resampled bilinearly to {@code size} pixels. When the square covers more than twice the output
 * size in source pixels the image is first reduced by the same integer box filter as Python, so
 * the model sees the pixels it was trained on. Method {@code landmarks} instead fits the eyes, nose tip
 * and mouth centre to the bundle's template by least squares (edge/align.py _landmark_matrix).
 * Sampling is the fixed-point bilinear of edge/align.py, integer for integer, so the phone's crop
 * is Python's bit for bit (OpenCV's warpAffine is not: its pixels changed between versions).
 */
public final class FaceAligner {
    private final CropParams params;

    public FaceAligner(CropParams params) {
        this.params = params;
    }

    public CropParams params() {
        return params;
    }

    /** The 2x3 similarity {m00, m01, m02, m10, m11, m12} from image to crop coordinates. */
    public static double[] alignmentMatrix(double lx, double ly, double rx, double ry, CropParams params) {
        double dx = rx - lx;
        double dy = ry - ly;
        double eyeDistance = Math.hypot(dx, dy);
        if (!(eyeDistance >= 1e-3) || Double.isInfinite(eyeDistance)) {
            throw new IllegalArgumentException("eyes at (" + lx + ", " + ly + ") and (" + rx + ", " + ry
                    + ") are too close to align a face");
        }
        double cos = dx / eyeDistance;
        double sin = dy / eyeDistance;
        double side = params.eyeScale * eyeDistance;
        double scale = params.size / side;
        double below = params.centerBelowEyes * eyeDistance;
        double cx = (lx + rx) / 2.0 + below * -sin;
        double cy = (ly + ry) / 2.0 + below * cos;
        double a = cos * scale;
        double b = sin * scale;
        double c = -sin * scale;
        double d = cos * scale;
        double half = params.size / 2.0;
        return new double[] {a, b, half - (a * cx + b * cy), c, d, half - (c * cx + d * cy)};
    }

    /**
     * The 2x3 matrix of either method from alignment points {@code x0, y0, x1, y1, ...} in the order
     * image-left eye, image-right eye, nose tip, mouth centre (BlazeFace keypoints 0-3): two points
     * for {@code eyes}, four for {@code landmarks}; extra values are ignored.
     */
    public static double[] alignmentMatrix(double[] points, CropParams params) {
        int needed = params.numPoints();
        if (points.length < 2 * needed) {
            throw new IllegalArgumentException("crop method '" + params.method + "' needs " + needed + " points, got "
                    + points.length / 2);
        }
        if (needed == 2) {
            return alignmentMatrix(points[0], points[1], points[2], points[3], params);
        }
        return landmarkMatrix(points, params);
    }

    /**
     * Least-squares similarity (no reflection) from four points to the template placed in crop
     * pixels: t goes to size / 2 + (t - (0, centerBelowEyes)) * size / eyeScale; with centred p and q,
     * a = sum(p . q) / sum|p|^2, b = sum(p x q) / sum|p|^2, matrix [[a, -b, tx], [b, a, ty]].
     */
    static double[] landmarkMatrix(double[] points, CropParams params) {
        double unit = params.size / params.eyeScale;
        double half = params.size / 2.0;
        double[] target = new double[8];
        double pmx = 0;
        double pmy = 0;
        double qmx = 0;
        double qmy = 0;
        for (int i = 0; i < 4; i++) {
            double px = points[2 * i];
            double py = points[2 * i + 1];
            if (!Double.isFinite(px) || !Double.isFinite(py)) {
                throw new IllegalArgumentException("face points are not four finite (x, y) pairs");
            }
            target[2 * i] = half + params.template[2 * i] * unit;
            target[2 * i + 1] = half + (params.template[2 * i + 1] - params.centerBelowEyes) * unit;
            pmx += px;
            pmy += py;
            qmx += target[2 * i];
            qmy += target[2 * i + 1];
        }
        pmx /= 4.0;
        pmy /= 4.0;
        qmx /= 4.0;
        qmy /= 4.0;
        double spread = 0;
        double dot = 0;
        double cross = 0;
        for (int i = 0; i < 4; i++) {
            double px = points[2 * i] - pmx;
            double py = points[2 * i + 1] - pmy;
            double qx = target[2 * i] - qmx;
            double qy = target[2 * i + 1] - qmy;
            spread += px * px + py * py;
            dot += px * qx + py * qy;
            cross += px * qy - py * qx;
        }
        if (!(spread >= 1e-6)) {
            throw new IllegalArgumentException("face points coincide; they cannot align a face");
        }
        double a = dot / spread;
        double b = cross / spread;
        return new double[] {a, -b, qmx - (a * pmx - b * pmy), b, a, qmy - (b * pmx + a * pmy)};
    }

    /** Apply a 2x3 matrix to a point. */
    public static double[] transformPoint(double[] m, double x, double y) {
        return new double[] {m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]};
    }

    /** Inverse of a 2x3 affine matrix, in the order of operations of edge/align.py invert_affine. */
    public static double[] invert(double[] m) {
        double det = m[0] * m[4] - m[1] * m[3];
        det = det != 0.0 ? 1.0 / det : 0.0;
        double a11 = m[4] * det;
        double a22 = m[0] * det;
        double a12 = -m[1] * det;
        double a21 = -m[3] * det;
        double b1 = -a11 * m[2] - a12 * m[5];
        double b2 = -a21 * m[2] - a22 * m[5];
        return new double[] {a11, a12, b1, a21, a22, b2};
    }

    /** Integer box-filter factor applied before warping, so bilinear sampling never aliases. */
    public static int reductionFactor(double[] m) {
        double scale = Math.hypot(m[0], m[1]);
        return scale < 0.5 ? Math.max(1, (int) Math.floor(1.0 / (2.0 * scale))) : 1;
    }

    /** Mean of each factor x factor block, rounded half up in float32 (edge/align.py box_reduce). */
    public static RgbImage boxReduce(RgbImage image, int factor) {
        if (factor <= 1) {
            return image;
        }
        int w = image.width / factor;
        int h = image.height / factor;
        if (w == 0 || h == 0) {
            return image;
        }
        byte[] out = new byte[w * h * 3];
        float count = (float) (factor * factor);
        int[] sums = new int[w * 3];
        for (int by = 0; by < h; by++) {
            java.util.Arrays.fill(sums, 0);
            for (int y = by * factor; y < (by + 1) * factor; y++) {
                int row = y * image.width * 3;
                for (int x = 0; x < w * factor; x++) {
                    int bx = (x / factor) * 3;
                    int p = row + x * 3;
                    sums[bx] += image.pixels[p] & 0xFF;
                    sums[bx + 1] += image.pixels[p + 1] & 0xFF;
                    sums[bx + 2] += image.pixels[p + 2] & 0xFF;
                }
            }
            for (int i = 0; i < w * 3; i++) {
                // The integer sum is exact in float32, so (sum / n + 0.5) matches numpy's float32 mean.
                out[by * w * 3 + i] = (byte) (int) ((float) sums[i] / count + 0.5f);
            }
        }
        return new RgbImage(w, h, out);
    }

    /** The result of one alignment: the crop and the image-to-crop matrix. */
    public static final class Aligned {
        public final RgbImage crop;
        public final double[] matrix;
        public final int reduction;

        Aligned(RgbImage crop, double[] matrix, int reduction) {
            this.crop = crop;
            this.matrix = matrix;
            this.reduction = reduction;
        }
    }

    /** Cut the aligned crop; {@code (lx, ly)} is the image-left eye, {@code (rx, ry)} the image-right. */
    public Aligned align(RgbImage image, double lx, double ly, double rx, double ry) {
        return align(image, lx, ly, rx, ry, null);
    }

    /** As {@link #align(RgbImage, double, double, double, double)}, reusing {@code into} when given. */
    public Aligned align(RgbImage image, double lx, double ly, double rx, double ry, RgbImage into) {
        if (params.numPoints() != 2) {
            throw new IllegalArgumentException("crop method '" + params.method
                    + "' needs the nose and mouth as well as the eyes: use align(image, keypoints, into)");
        }
        return warp(image, alignmentMatrix(lx, ly, rx, ry, params), into);
    }

    /**
     * Cut the aligned crop from a detection's keypoints (x0, y0, x1, y1, ...: image-left eye,
     * image-right eye, nose tip, mouth centre, ...), whichever the bundle's crop method is.
     */
    public Aligned align(RgbImage image, float[] keypoints, RgbImage into) {
        double[] points = new double[keypoints.length];
        for (int i = 0; i < keypoints.length; i++) {
            points[i] = keypoints[i];
        }
        return warp(image, alignmentMatrix(points, params), into);
    }

    private Aligned warp(RgbImage image, double[] matrix, RgbImage into) {
        int factor = reductionFactor(matrix);
        RgbImage source = boxReduce(image, factor);
        double[] warp = matrix.clone();
        if (factor > 1) {
            // Pixel centres of the reduced image: x_full = factor * x_small + (factor - 1) / 2.
            double shift = (factor - 1) / 2.0;
            warp[0] = matrix[0] * factor;
            warp[1] = matrix[1] * factor;
            warp[3] = matrix[3] * factor;
            warp[4] = matrix[4] * factor;
            warp[2] = matrix[2] + (matrix[0] * shift + matrix[1] * shift);
            warp[5] = matrix[5] + (matrix[3] * shift + matrix[4] * shift);
        }
        RgbImage crop = into != null && into.width == params.size && into.height == params.size
                ? into : new RgbImage(params.size, params.size);
        warpBilinear(source, invert(warp), crop, "replicate".equals(params.border));
        return new Aligned(crop, matrix, factor);
    }

    /** The inverse matrix is rounded to 1/2^MATRIX_BITS, sampling positions to 1/2^SUBPIXEL_BITS pixel. */
    static final int MATRIX_BITS = 16;
    static final int SUBPIXEL_BITS = 5;
    /** Positions are clamped to +-16384 px (edge/align.py POSITION_LIMIT). */
    static final long POSITION_LIMIT = 1L << 14;

    /** A coefficient in 1/2^MATRIX_BITS: floor(v * 65536 + 0.5), as edge/align.py sampling_maps. */
    static long fixedPoint(double v) {
        return (long) Math.floor(v * (double) (1L << MATRIX_BITS) + 0.5);
    }

    /**
     * dst(x, y) = bilinear src(inv * (x, y)) in integers, exactly edge/align.py (sampling_maps and
     * bilinear_reference): q = (A x + B y + C + 2^10) >> 11 in 1/32 px with A, B, C the inverse's row
     * in 1/65536, the four neighbours weighted (32 - fx)(32 - fy), fx (32 - fy), (32 - fx) fy, fx fy,
     * (sum + 512) >> 10. Neighbours outside the image are clamped (replicate) or black (constant).
     */
    static void warpBilinear(RgbImage src, double[] inv, RgbImage dst, boolean replicate) {
        long a = fixedPoint(inv[0]);
        long b = fixedPoint(inv[1]);
        long c = fixedPoint(inv[2]);
        long d = fixedPoint(inv[3]);
        long e = fixedPoint(inv[4]);
        long f = fixedPoint(inv[5]);
        int drop = MATRIX_BITS - SUBPIXEL_BITS;
        long half = 1L << (drop - 1);
        long limit = POSITION_LIMIT << SUBPIXEL_BITS;
        int unit = 1 << SUBPIXEL_BITS;
        int sw = src.width;
        int sh = src.height;
        byte[] s = src.pixels;
        byte[] out = dst.pixels;
        int o = 0;
        for (int y = 0; y < dst.height; y++) {
            long rowX = b * y + c + half;
            long rowY = e * y + f + half;
            for (int x = 0; x < dst.width; x++) {
                long qx = Math.max(-limit, Math.min(limit, (a * x + rowX) >> drop));
                long qy = Math.max(-limit, Math.min(limit, (d * x + rowY) >> drop));
                int x0 = (int) (qx >> SUBPIXEL_BITS);
                int y0 = (int) (qy >> SUBPIXEL_BITS);
                int fx = (int) (qx & (unit - 1));
                int fy = (int) (qy & (unit - 1));
                int w00 = (unit - fx) * (unit - fy);
                int w01 = fx * (unit - fy);
                int w10 = (unit - fx) * fy;
                int w11 = fx * fy;
                int p00 = index(x0, y0, sw, sh, replicate);
                int p01 = index(x0 + 1, y0, sw, sh, replicate);
                int p10 = index(x0, y0 + 1, sw, sh, replicate);
                int p11 = index(x0 + 1, y0 + 1, sw, sh, replicate);
                for (int ch = 0; ch < 3; ch++) {
                    int v = w00 * value(s, p00, ch) + w01 * value(s, p01, ch) + w10 * value(s, p10, ch)
                            + w11 * value(s, p11, ch) + unit * unit / 2;
                    out[o++] = (byte) (v >> (2 * SUBPIXEL_BITS));
                }
            }
        }
    }

    /** Byte offset of pixel (x, y), clamped for replicate; -1 (black) outside for constant. */
    private static int index(int x, int y, int w, int h, boolean replicate) {
        if (x < 0 || y < 0 || x >= w || y >= h) {
            if (!replicate) {
                return -1;
            }
            x = Math.max(0, Math.min(w - 1, x));
            y = Math.max(0, Math.min(h - 1, y));
        }
        return (y * w + x) * 3;
    }

    private static int value(byte[] s, int offset, int c) {
        return offset < 0 ? 0 : s[offset + c] & 0xFF;
    }
}
