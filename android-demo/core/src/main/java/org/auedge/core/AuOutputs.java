package org.auedge.core;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Model outputs to AU values: dequantize (int8/uint8 model) or take the float, pick each AU's output
 * index, clip to its range, decide presence against its threshold, and mark an AU not observable when
 * its occlusion flag says covered (edge/estimator.py).
 */
public final class AuOutputs {
    public static final float DEFAULT_THRESHOLD = 0.5f;
    /**
     * An occurrence output named e.g. "AU12_occluded" flags AU12's face region as covered: at or above
     * its threshold the AU is reported not observable (edge/bundle.py {@code OCCLUDED_SUFFIX}).
     */
    public static final String OCCLUDED_SUFFIX = "_occluded";

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

    /** Whether output {@code i} is an occlusion flag rather than an AU. */
    public boolean isOcclusionFlag(int i) {
        return specs.get(i).au.endsWith(OCCLUDED_SUFFIX);
    }

    /** AU name -> value for the AUs (occlusion flags left out), in bundle output order. */
    public Map<String, Float> aus(float[] values) {
        Map<String, Float> out = new LinkedHashMap<>();
        for (int i = 0; i < values.length; i++) {
            if (!isOcclusionFlag(i)) {
                out.put(specs.get(i).au, values[i]);
            }
        }
        return out;
    }

    /** AU name -> presence, for the occurrence AUs (occlusion flags and intensity outputs left out). */
    public Map<String, Boolean> presence(float[] values) {
        Map<String, Boolean> out = new LinkedHashMap<>();
        for (int i = 0; i < values.length; i++) {
            if (!isOcclusionFlag(i) && "occurrence".equals(specs.get(i).kind)) {
                out.put(specs.get(i).au, present(i, values[i]));
            }
        }
        return out;
    }

    /**
     * AU name -> whether its value can be trusted: false when the AU's "&lt;AU&gt;_occluded" output is at or
     * above its threshold (its region is covered), true for an AU without such an output; every AU of
     * {@link #aus} is a key, as in the Python runtime's {@code FaceResult.observable}.
     */
    public Map<String, Boolean> observable(float[] values) {
        Map<String, Boolean> covered = new LinkedHashMap<>();
        for (int i = 0; i < values.length; i++) {
            if (isOcclusionFlag(i)) {
                String au = specs.get(i).au;
                covered.put(au.substring(0, au.length() - OCCLUDED_SUFFIX.length()), present(i, values[i]));
            }
        }
        Map<String, Boolean> out = new LinkedHashMap<>();
        for (String au : aus(values).keySet()) {
            out.put(au, !covered.getOrDefault(au, false));
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
