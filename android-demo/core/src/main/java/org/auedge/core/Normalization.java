package org.auedge.core;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Per-channel {@code (x - mean) / std} on RGB 0-255 pixels (edge/preprocess.py Normalization). */
public final class Normalization {
    /** What the app feeds a model: the crop as RGB pixels in 0-255 (edge/preprocess.py COLOR, PIXEL_RANGE). */
    public static final String COLOR = "RGB";

    public final float[] mean;
    public final float[] std;

    public Normalization(float[] mean, float[] std) {
        if (mean.length != 3 || std.length != 3 || Math.min(std[0], Math.min(std[1], std[2])) <= 0) {
            throw new IllegalArgumentException("normalization needs three means and three positive stds");
        }
        this.mean = mean.clone();
        this.std = std.clone();
    }

    /**
     * Normalization.from_dict: {@code color} and {@code pixel_range} record the input convention;
     * only RGB 0-255 is implemented, so another value is refused rather than silently ignored (the
     * model would run on swapped colours or the wrong scale). Missing, they mean RGB 0-255.
     */
    static Normalization fromJson(Map<String, Object> data) {
        double[] m = three(data, "mean");
        double[] s = three(data, "std");
        if (Math.min(s[0], Math.min(s[1], s[2])) <= 0) {
            throw new IllegalArgumentException("normalization std must be three positive numbers, got "
                    + Json.show(data.get("std")));
        }
        Object color = data.containsKey("color") ? data.get("color") : COLOR;
        if (!COLOR.equals(color)) {
            throw new IllegalArgumentException("normalization color " + Json.show(color)
                    + " is not supported: au-edge feeds " + COLOR + " pixels");
        }
        Object range = data.get("pixel_range");
        if (data.containsKey("pixel_range") && !isPixelRange(range)) {
            throw new IllegalArgumentException(isNumbers(range)
                    ? "normalization pixel_range " + Json.show(range) + " is not supported: au-edge feeds pixels in [0, 255]"
                    : "normalization pixel_range must be [0, 255], got " + Json.show(range));
        }
        return new Normalization(new float[] {(float) m[0], (float) m[1], (float) m[2]},
                new float[] {(float) s[0], (float) s[1], (float) s[2]});
    }

    private static boolean isPixelRange(Object value) {
        return isNumbers(value) && ((List<?>) value).size() == 2 && Double.valueOf(0).equals(((List<?>) value).get(0))
                && Double.valueOf(255).equals(((List<?>) value).get(1));
    }

    private static boolean isNumbers(Object value) {
        return value instanceof List && ((List<?>) value).stream().allMatch(v -> v instanceof Double);
    }

    private static double[] three(Map<String, Object> data, String key) {
        Object value = data.get(key);
        List<?> list = value instanceof List ? (List<?>) value : List.of();
        double[] v = new double[list.size()];
        for (int i = 0; i < v.length; i++) {
            Object item = list.get(i);
            v[i] = item instanceof Double ? (Double) item : Double.NaN;
        }
        if (v.length != 3 || !Arrays.stream(v).allMatch(Double::isFinite)) {
            throw new IllegalArgumentException("normalization " + key
                    + " must be three numbers (one per RGB channel), got " + Json.show(value));
        }
        return v;
    }

    /**
     * The float32 model input for pixel value {@code level} in {@code channel}, bit-identical to
     * numpy's {@code (float32(p) - float32(mean)) * (float32(1) / float32(std))}.
     */
    public float apply(int level, int channel) {
        float invStd = 1.0f / std[channel];
        return ((float) level - mean[channel]) * invStd;
    }
}
