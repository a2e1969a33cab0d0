package org.auedge.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The AU model's input from an aligned crop: normalised float32, or that value quantized to
 * int8/uint8 with the model's input parameters. As in edge/estimator.py, a pixel has only 256
 * values, so the per-channel table is computed once with the reference formulas and then looked up.
 */
public final class ModelInput {
    private final float[] floatTable; // 256 * 3, level-major
    private final byte[] quantTable;  // 256 * 3, or null for a float model
    private final QuantParams quant;

    public ModelInput(Normalization norm, QuantParams inputQuant) {
        this.quant = inputQuant;
        floatTable = new float[256 * 3];
        quantTable = inputQuant == null ? null : new byte[256 * 3];
        for (int level = 0; level < 256; level++) {
            for (int c = 0; c < 3; c++) {
                float v = norm.apply(level, c);
                floatTable[level * 3 + c] = v;
                if (quantTable != null) {
                    quantTable[level * 3 + c] = (byte) inputQuant.quantize(v);
                }
            }
        }
    }

    public boolean isQuantized() {
        return quant != null;
    }

    /** Bytes per input element: 4 for float32, 1 for int8/uint8. */
    public int bytesPerElement() {
        return quant == null ? 4 : 1;
    }

    /** Normalised float32 values of a crop (H*W*3, NHWC). */
    public void toFloat(RgbImage crop, float[] out) {
        byte[] p = crop.pixels;
        for (int i = 0; i < p.length; i++) {
            out[i] = floatTable[(p[i] & 0xFF) * 3 + (i % 3)];
        }
    }

    /** Quantized bytes of a crop (H*W*3, NHWC); only for a quantized model. */
    public void toQuantized(RgbImage crop, byte[] out) {
        if (quantTable == null) {
            throw new IllegalStateException("this model takes float32 input; use toFloat");
        }
        byte[] p = crop.pixels;
        for (int i = 0; i < p.length; i++) {
            out[i] = quantTable[(p[i] & 0xFF) * 3 + (i % 3)];
        }
    }

    /** Write the model input into an interpreter buffer (rewound; floats in native order). */
    public void fill(RgbImage crop, ByteBuffer buffer) {
        buffer.rewind();
        byte[] p = crop.pixels;
        if (quantTable != null) {
            for (int i = 0; i < p.length; i++) {
                buffer.put(quantTable[(p[i] & 0xFF) * 3 + (i % 3)]);
            }
        } else {
            buffer.order(ByteOrder.nativeOrder());
            for (int i = 0; i < p.length; i++) {
                buffer.putFloat(floatTable[(p[i] & 0xFF) * 3 + (i % 3)]);
            }
        }
        buffer.rewind();
    }
}
