package org.auedge.core;

import java.util.List;

/**
 * What edge/estimator.py check_model checks when an AU model is loaded, so the app refuses at start,
 * with one message, a model that does not fit its bundle.json (not at the first face, or never).
 * The app reads the tensors with its interpreter and hands in what they say.
 */
public final class ModelCheck {
    /** np.isclose(model scale, bundle scale, rtol=1e-4, atol=0), as resolve_quant. */
    static final double SCALE_RTOL = 1e-4;

    private ModelCheck() {
    }

    /** Every outputs[].index must be one of the {@code outputSize} values the model gives per face. */
    public static void outputIndices(List<BundleManifest.OutputSpec> outputs, int outputSize, String model)
            throws BundleException {
        if (outputs.isEmpty()) {
            return; // the manifest refuses an empty outputs list
        }
        BundleManifest.OutputSpec highest = outputs.get(0);
        for (BundleManifest.OutputSpec spec : outputs) {
            if (spec.index > highest.index) {
                highest = spec;
            }
        }
        if (highest.index >= outputSize) {
            throw new BundleException("AU model " + model + " gives " + outputSize + " value(s) per face, but bundle.json maps "
                    + highest.au + " to output index " + highest.index + "; fix outputs[].index or re-export the bundle");
        }
    }

    /**
     * The quantization to use for one tensor (edge/backends/base.py resolve_quant): the model's own,
     * since the interpreter computes with it; bundle.json's only when the tensor carries none. A bundle
     * figure that differs, or another dtype, means bundle.json and the model come from different
     * exports, which would shift every value, so it is refused.
     *
     * @param dtype     the tensor's type in lower case ("float32", "int8", "uint8", ...)
     * @param scale     the tensor's scale; 0 when it carries no quantization
     * @param zeroPoint the tensor's zero point
     * @param what      "input" or "output"
     * @return null for a float32 tensor
     */
    public static QuantParams quantization(String dtype, float scale, int zeroPoint, QuantParams fromBundle,
                                           String what, String model) throws BundleException {
        if ("float32".equals(dtype)) {
            if (fromBundle != null) {
                // Python ignores the figure here; the app has refused it all along (the export is inconsistent).
                throw new BundleException(what + " of " + model + " is float32, but bundle.json gives its quantization dtype as "
                        + fromBundle.dtype + "; the bundle is inconsistent, re-export it");
            }
            return null;
        }
        if (!"int8".equals(dtype) && !"uint8".equals(dtype)) {
            throw new BundleException(what + " of AU model " + model + " is " + dtype
                    + "; the app handles float32, int8 or uint8");
        }
        QuantParams own = scale == 0 ? null : ownQuant(scale, zeroPoint, dtype, what, model);
        if (own != null && fromBundle != null && !agree(own, fromBundle)) {
            throw new BundleException(what + " quantization of " + model + " is scale=" + own.scale + " zero_point="
                    + own.zeroPoint + ", but bundle.json says scale=" + fromBundle.scale + " zero_point="
                    + fromBundle.zeroPoint + "; the bundle is inconsistent, re-export it");
        }
        if (fromBundle != null && !fromBundle.dtype.equals(dtype)) {
            // Values quantized for int8 and written into a uint8 tensor (or the reverse) are all wrong.
            throw new BundleException(what + " of " + model + " is " + dtype + ", but bundle.json gives its quantization dtype as "
                    + fromBundle.dtype + "; the bundle is inconsistent, re-export it");
        }
        if (own == null && fromBundle == null) {
            throw new BundleException(what + " of " + model + " is " + dtype + " but neither the model nor bundle.json gives"
                    + " its quantization (scale, zero point); re-export the bundle");
        }
        return own != null ? own : fromBundle;
    }

    /** Same zero point, and scales equal to within {@link #SCALE_RTOL} of the bundle's. */
    static boolean agree(QuantParams model, QuantParams bundle) {
        double diff = Math.abs((double) model.scale - (double) bundle.scale);
        return diff <= SCALE_RTOL * Math.abs((double) bundle.scale) && model.zeroPoint == bundle.zeroPoint;
    }

    private static QuantParams ownQuant(float scale, int zeroPoint, String dtype, String what, String model)
            throws BundleException {
        try {
            return new QuantParams(scale, zeroPoint, dtype);
        } catch (IllegalArgumentException e) {
            throw new BundleException(what + " of " + model + " carries unusable quantization (" + e.getMessage()
                    + "); re-export the bundle", e);
        }
    }
}
