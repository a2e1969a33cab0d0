package org.auedge.core;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Model outputs to AU values: dequantize (int8/uint8 model) or take the float, pick each AU's output
 * index, clip to its range, and decide presence against its threshold (edge/estimator.py).
 */
public final class AuOutputs {
    public static final float DEFAULT_THRESHOLD = 0.5f;

    private final List<BundleManifest.OutputSpec> specs;
    private final QuantParams outputQuant;

    public AuOutputs(List<BundleManifest.OutputSpec> specs, QuantParams outputQuant) {
        this.specs = specs;
        this.outputQuant = outputQuant;
    }

    /** Dequantized raw outputs of a quantized model (bytes as the interpreter wrote them). */
    public float[] dequantize(byte[] raw) {
        if (outputQuant == null) {
            throw new IllegalStateException("this model has a float output");
        }
        float[] out = new float[raw.length];
        for (int i = 0; i < raw.length; i++) {
            out[i] = outputQuant.dequantize(outputQuant.fromByte(raw[i]));
        }
        return out;
    }

    /**
     * The mean of the raw outputs for a crop and for its mirror, in float32 exactly as
     * edge/estimator.py computes {@code (raw + raw_mirrored) / 2.0}; used when the bundle says
     * {@code inference.flip_average}.
     */
    public static float[] flipAverage(float[] raw, float[] rawMirrored) {
        if (raw.length != rawMirrored.length) {
            throw new IllegalArgumentException("outputs of " + raw.length + " and " + rawMirrored.length + " values");
        }
        float[] out = new float[raw.length];
        for (int i = 0; i < raw.length; i++) {
            out[i] = (raw[i] + rawMirrored[i]) / 2f;
        }
        return out;
    }

    /** AU values in bundle output order, clipped to each output's range. */
    public float[] values(float[] raw) {
        float[] values = new float[specs.size()];
        for (int i = 0; i < values.length; i++) {
            BundleManifest.OutputSpec spec = specs.get(i);
            if (spec.index >= raw.length) {
                throw new IllegalArgumentException("the model gives " + raw.length + " values, bundle.json maps output index "
                        + spec.index + "; re-export the bundle");
            }
            values[i] = Math.max(spec.low, Math.min(spec.high, raw[spec.index]));
        }
        return values;
    }

    /** AU name -> value. */
    public Map<String, Float> byName(float[] values) {
        Map<String, Float> out = new LinkedHashMap<>();
        for (int i = 0; i < values.length; i++) {
            out.put(specs.get(i).au, values[i]);
        }
        return out;
    }

    /** Whether an occurrence output is at or above its threshold (false for intensity outputs). */
    public boolean present(int i, float value) {
        BundleManifest.OutputSpec spec = specs.get(i);
        if (!"occurrence".equals(spec.kind)) {
            return false;
        }
        float threshold = Float.isNaN(spec.threshold) ? DEFAULT_THRESHOLD : spec.threshold;
        return value >= threshold;
    }
}
