package org.auedge.core;

import java.util.Map;

/** Affine quantization of one tensor, {@code real = scale * (q - zeroPoint)} (edge/preprocess.py). */
public final class QuantParams {
    public final float scale;
    public final int zeroPoint;
    /** "int8" or "uint8". */
    public final String dtype;

    public QuantParams(float scale, int zeroPoint, String dtype) {
        check(scale, (double) zeroPoint, zeroPoint, dtype);
        this.scale = scale;
        this.zeroPoint = zeroPoint;
        this.dtype = dtype;
    }

    /**
     * QuantParams.__post_init__: dtype, then scale, then a whole zero point in the dtype's range (out
     * of it, quantize() would clip every value to one end). {@code shown} is the value as given.
     */
    private static void check(float scale, double zeroPoint, Object shown, String dtype) {
        if (!"int8".equals(dtype) && !"uint8".equals(dtype)) {
            throw new IllegalArgumentException("quantization dtype '" + dtype + "' is not int8 or uint8");
        }
        if (!(scale > 0) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("quantization scale must be a positive number, got " + scale);
        }
        if (!(zeroPoint == Math.rint(zeroPoint) && zeroPoint >= lowest(dtype) && zeroPoint <= highest(dtype))) {
            throw new IllegalArgumentException("quantization zero_point must be an integer in [" + lowest(dtype) + ", "
                    + highest(dtype) + "] for " + dtype + ", got " + Json.show(shown));
        }
    }

    /**
     * null for a missing entry or a zero scale (a float tensor), as QuantParams.from_dict does.
     * IllegalArgumentException says what is wrong; the manifest adds which entry.
     */
    static QuantParams fromJson(Object value, String where) {
        if (value == null) {
            return null;
        }
        Map<String, Object> data = Json.asObject(value, where);
        Object scale = data.get("scale");
        if (scale == null || Json.asNumber(scale, where + ".scale") == 0.0) {
            return null;
        }
        if (!data.containsKey("zero_point")) {
            throw new IllegalArgumentException("zero_point is missing (an entry needs scale, zero_point and dtype)");
        }
        Object dtype = data.get("dtype");
        float s = (float) Json.asNumber(scale, where + ".scale");
        String d = dtype == null ? "int8" : Json.asString(dtype, where + ".dtype");
        Object zp = data.get("zero_point");
        // Checked before the int cast, which would turn -1.6 into -1 and 1e10 into 2^31 - 1.
        check(s, zp instanceof Double ? (Double) zp : Double.NaN, zp, d);
        return new QuantParams(s, ((Double) zp).intValue(), d);
    }

    private static int lowest(String dtype) {
        return "int8".equals(dtype) ? -128 : 0;
    }

    private static int highest(String dtype) {
        return "int8".equals(dtype) ? 127 : 255;
    }

    public int min() {
        return lowest(dtype);
    }

    public int max() {
        return highest(dtype);
    }

    /** numpy: clip(round(x / scale) + zero_point) with round-half-to-even, in float32. */
    public int quantize(float value) {
        float q = (float) Math.rint(value / scale) + (float) zeroPoint;
        return (int) Math.max(min(), Math.min(max(), q));
    }

    /** The stored byte (int8 two's complement, or uint8) back to a real value. */
    public float dequantize(int q) {
        return ((float) q - (float) zeroPoint) * scale;
    }

    /** Reads a raw tensor byte as this dtype's integer. */
    public int fromByte(byte b) {
        return "int8".equals(dtype) ? b : (b & 0xFF);
    }
}
