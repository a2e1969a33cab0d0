package org.auedge.core;

import java.util.Map;

/** Per-channel {@code (x - mean) / std} on RGB 0-255 pixels (edge/preprocess.py Normalization). */
public final class Normalization {
    public final float[] mean;
    public final float[] std;

    public Normalization(float[] mean, float[] std) {
        if (mean.length != 3 || std.length != 3 || Math.min(std[0], Math.min(std[1], std[2])) <= 0) {
            throw new IllegalArgumentException("normalization needs three means and three positive stds");
        }
        this.mean = mean.clone();
        this.std = std.clone();
    }

    static Normalization fromJson(Map<String, Object> data) {
        double[] m = Json.asNumbers(data.get("mean"), "normalization.mean");
        double[] s = Json.asNumbers(data.get("std"), "normalization.std");
        if (m.length != 3 || s.length != 3) {
            throw new IllegalArgumentException("normalization needs three means and three stds");
        }
        return new Normalization(new float[] {(float) m[0], (float) m[1], (float) m[2]},
                new float[] {(float) s[0], (float) s[1], (float) s[2]});
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
