package org.auedge.core;

import java.util.Map;

/** Affine quantization of one tensor, {@code real = scale * (q - zeroPoint)} (edge/preprocess.py). */
public final class QuantParams {
    public final float scale;
    public final int zeroPoint;
    /** "int8" or "uint8". */
    public final String dtype;

    public QuantParams(float scale, int zeroPoint, String dtype) {
        if (!(scale > 0)) {
            throw new IllegalArgumentException("quantization scale must be positive, got " + scale);
        }
        if (!"int8".equals(dtype) && !"uint8".equals(dtype)) {
            throw new IllegalArgumentException("quantization dtype '" + dtype + "' is not int8 or uint8");
        }
        this.scale = scale;
        this.zeroPoint = zeroPoint;
        this.dtype = dtype;
    }

    /** null for a missing entry or a zero scale (a float tensor), as QuantParams.from_dict does. */
    static QuantParams fromJson(Object value, String where) {
        if (value == null) {
            return null;
        }
        Map<String, Object> data = Json.asObject(value, where);
        Object scale = data.get("scale");
        if (scale == null || Json.asNumber(scale, where + ".scale") == 0.0) {
            return null;
        }
        Object dtype = data.get("dtype");
        return new QuantParams((float) Json.asNumber(scale, where + ".scale"),
                (int) Json.asNumber(data.get("zero_point"), where + ".zero_point"),
                dtype == null ? "int8" : Json.asString(dtype, where + ".dtype"));
    }

    public int min() {
        return "int8".equals(dtype) ? -128 : 0;
    }

    public int max() {
        return "int8".equals(dtype) ? 127 : 255;
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
