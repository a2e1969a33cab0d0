package org.auedge.core;

/**
 * The resizes the Python letterbox uses, in plain Java: INTER_AREA (area-weighted mean, OpenCV's
 * coefficient tables; exact block mean for integer factors) and the exact fixed-point bilinear of
 * edge/align.py ({@link #linearExact}); {@link #linear} is INTER_LINEAR in floating point, within one
 * grey level of OpenCV's 11-bit fixed point.
 */
public final class Resize {
    private Resize() {
    }

    /**
     * INTER_LINEAR's geometry (pixel centres at (i + 0.5) * src / dst - 0.5, edges replicated) sampled
     * by the crop's exact fixed-point bilinear (edge/align.py resize_bilinear, FaceAligner.warpBilinear):
     * the letterbox's resize, bit-identical to Python's.
     */
    public static RgbImage linearExact(RgbImage src, int dstW, int dstH) {
        double sx = (double) dstW / src.width;
        double sy = (double) dstH / src.height;
        double[] warp = {sx, 0.0, 0.5 * sx - 0.5, 0.0, sy, 0.5 * sy - 0.5};
        RgbImage dst = new RgbImage(dstW, dstH);
        FaceAligner.warpBilinear(src, FaceAligner.invert(warp), dst, true);
        return dst;
    }

    /** Bilinear resize with pixel centres at (i + 0.5) * src / dst - 0.5, edges clamped (floating point). */
    public static RgbImage linear(RgbImage src, int dstW, int dstH) {
        RgbImage dst = new RgbImage(dstW, dstH);
        double sx = (double) src.width / dstW;
        double sy = (double) src.height / dstH;
        int[] x0 = new int[dstW];
        int[] x1 = new int[dstW];
        float[] fx = new float[dstW];
        for (int x = 0; x < dstW; x++) {
            double f = (x + 0.5) * sx - 0.5;
            int i = (int) Math.floor(f);
            float frac = (float) (f - i);
            if (i < 0) {
                i = 0;
                frac = 0f;
            }
            if (i >= src.width - 1) {
                i = src.width - 1;
                frac = 0f;
            }
            x0[x] = i;
            x1[x] = Math.min(i + 1, src.width - 1);
            fx[x] = frac;
        }
        byte[] s = src.pixels;
        byte[] d = dst.pixels;
        int o = 0;
        for (int y = 0; y < dstH; y++) {
            double f = (y + 0.5) * sy - 0.5;
            int j = (int) Math.floor(f);
            float fy = (float) (f - j);
            if (j < 0) {
                j = 0;
                fy = 0f;
            }
            if (j >= src.height - 1) {
                j = src.height - 1;
                fy = 0f;
            }
            int r0 = j * src.width * 3;
            int r1 = Math.min(j + 1, src.height - 1) * src.width * 3;
            for (int x = 0; x < dstW; x++) {
                int a = x0[x] * 3;
                int b = x1[x] * 3;
                for (int c = 0; c < 3; c++) {
                    float top = (s[r0 + a + c] & 0xFF) + fx[x] * ((s[r0 + b + c] & 0xFF) - (s[r0 + a + c] & 0xFF));
                    float bot = (s[r1 + a + c] & 0xFF) + fx[x] * ((s[r1 + b + c] & 0xFF) - (s[r1 + a + c] & 0xFF));
                    d[o++] = (byte) Math.max(0, Math.min(255, Math.round(top + fy * (bot - top))));
                }
            }
        }
        return dst;
    }

    /** Area-weighted downscale (cv2.INTER_AREA); use only for dst <= src in both directions. */
    public static RgbImage area(RgbImage src, int dstW, int dstH) {
        if (src.width % dstW == 0 && src.height % dstH == 0) {
            return blockMean(src, src.width / dstW, src.height / dstH);
        }
        float[][] wx = areaTable(src.width, dstW);
        float[][] wy = areaTable(src.height, dstH);
        RgbImage dst = new RgbImage(dstW, dstH);
        double[] row = new double[dstW * 3];
        double[] acc = new double[dstW * 3];
        int[] xStart = new int[dstW];
        for (int x = 0; x < dstW; x++) {
            xStart[x] = (int) wx[x][0];
        }
        for (int y = 0; y < dstH; y++) {
            java.util.Arrays.fill(acc, 0.0);
            int sy0 = (int) wy[y][0];
            for (int k = 1; k < wy[y].length; k++) {
                int sy = sy0 + k - 1;
                java.util.Arrays.fill(row, 0.0);
                int r = sy * src.width * 3;
                for (int x = 0; x < dstW; x++) {
                    for (int m = 1; m < wx[x].length; m++) {
                        int p = r + (xStart[x] + m - 1) * 3;
                        double w = wx[x][m];
                        row[3 * x] += (src.pixels[p] & 0xFF) * w;
                        row[3 * x + 1] += (src.pixels[p + 1] & 0xFF) * w;
                        row[3 * x + 2] += (src.pixels[p + 2] & 0xFF) * w;
                    }
                }
                double beta = wy[y][k];
                for (int i = 0; i < acc.length; i++) {
                    acc[i] += row[i] * beta;
                }
            }
            for (int i = 0; i < acc.length; i++) {
                dst.pixels[y * dstW * 3 + i] = (byte) Math.max(0, Math.min(255, (int) Math.rint(acc[i])));
            }
        }
        return dst;
    }

    /**
     * Per destination index: {first source index, weight of it, weight of the next, ...}, as
     * OpenCV's computeResizeAreaTab (partial cells at both ends, weights divided by the cell width).
     */
    static float[][] areaTable(int srcSize, int dstSize) {
        double scale = (double) srcSize / dstSize;
        float[][] table = new float[dstSize][];
        for (int dx = 0; dx < dstSize; dx++) {
            double fsx1 = dx * scale;
            double fsx2 = fsx1 + scale;
            double cellWidth = Math.min(scale, srcSize - fsx1);
            int sx1 = (int) Math.ceil(fsx1);
            int sx2 = (int) Math.floor(fsx2);
            sx2 = Math.min(sx2, srcSize - 1);
            sx1 = Math.min(sx1, sx2);
            java.util.List<Float> weights = new java.util.ArrayList<>();
            int first = sx1;
            if (sx1 - fsx1 > 1e-3) {
                first = sx1 - 1;
                weights.add((float) ((sx1 - fsx1) / cellWidth));
            }
            for (int sx = sx1; sx < sx2; sx++) {
                weights.add((float) (1.0 / cellWidth));
            }
            if (fsx2 - sx2 > 1e-3) {
                weights.add((float) (Math.min(Math.min(fsx2 - sx2, 1.0), cellWidth) / cellWidth));
            }
            float[] entry = new float[weights.size() + 1];
            entry[0] = first;
            for (int i = 0; i < weights.size(); i++) {
                entry[i + 1] = weights.get(i);
            }
            table[dx] = entry;
        }
        return table;
    }

    /** Exact mean of fx x fy blocks, rounded half up (OpenCV's fast INTER_AREA path). */
    static RgbImage blockMean(RgbImage src, int fx, int fy) {
        int w = src.width / fx;
        int h = src.height / fy;
        RgbImage dst = new RgbImage(w, h);
        int n = fx * fy;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    int sum = 0;
                    for (int j = 0; j < fy; j++) {
                        int r = ((y * fy + j) * src.width + x * fx) * 3 + c;
                        for (int i = 0; i < fx; i++) {
                            sum += src.pixels[r + 3 * i] & 0xFF;
                        }
                    }
                    dst.pixels[(y * w + x) * 3 + c] = (byte) ((sum + n / 2) / n);
                }
            }
        }
        return dst;
    }
}
