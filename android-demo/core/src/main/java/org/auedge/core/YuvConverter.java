package org.auedge.core;

import java.nio.ByteBuffer;

/**
 * YUV 4:2:0 camera frames to upright RGB: NV21 byte arrays and YUV_420_888 planes (any row and
 * pixel strides, so I420, NV12 and NV21 layouts all pass), BT.601 full range (JFIF, what Android
 * camera HALs emit for YUV_420_888 and what the JPEG encoder assumes) or limited range (16-235).
 *
 * <p>Integer arithmetic with 16 fractional bits; within one grey level of the float formulas.
 */
public final class YuvConverter {
    /** Which BT.601 variant the Y, U, V values use. */
    public enum Range { FULL, LIMITED }

    private static final int SHIFT = 16;
    private static final int HALF = 1 << (SHIFT - 1);

    private final int yScale;
    private final int yOffset;
    private final int rv;
    private final int gu;
    private final int gv;
    private final int bu;

    public YuvConverter(Range range) {
        if (range == Range.FULL) {
            yScale = fixed(1.0);
            yOffset = 0;
            rv = fixed(1.402);
            gu = fixed(0.344136);
            gv = fixed(0.714136);
            bu = fixed(1.772);
        } else {
            yScale = fixed(255.0 / 219.0);
            yOffset = 16;
            rv = fixed(255.0 / 224.0 * 1.402);
            gu = fixed(255.0 / 224.0 * 0.344136);
            gv = fixed(255.0 / 224.0 * 0.714136);
            bu = fixed(255.0 / 224.0 * 1.772);
        }
    }

    private static int fixed(double v) {
        return (int) Math.round(v * (1 << SHIFT));
    }

    private static int clamp(int v) {
        return v < 0 ? 0 : (v > 255 ? 255 : v);
    }

    /** NV21: width*height Y bytes, then interleaved V, U at half resolution (Camera1 default). */
    public RgbImage nv21ToRgb(byte[] nv21, int width, int height, int rotationDegrees) {
        ByteBuffer all = ByteBuffer.wrap(nv21);
        int frame = width * height;
        ByteBuffer v = ByteBuffer.wrap(nv21, frame, nv21.length - frame).slice();
        ByteBuffer u = ByteBuffer.wrap(nv21, frame + 1, nv21.length - frame - 1).slice();
        return toRgb(all, width, u, v, width, 2, width, height, rotationDegrees);
    }

    /**
     * YUV_420_888 planes (ImageProxy.getPlanes(): Y, U, V) to RGB, rotated clockwise by
     * {@code rotationDegrees} (0, 90, 180, 270; ImageInfo.getRotationDegrees()) so faces are upright.
     * Buffers are read with absolute gets, so their positions are left alone.
     */
    public RgbImage toRgb(ByteBuffer y, int yRowStride, ByteBuffer u, ByteBuffer v, int uvRowStride,
                          int uvPixelStride, int width, int height, int rotationDegrees) {
        if (rotationDegrees % 90 != 0) {
            throw new IllegalArgumentException("rotation must be a multiple of 90 degrees, got " + rotationDegrees);
        }
        int rot = ((rotationDegrees % 360) + 360) % 360;
        boolean swap = rot == 90 || rot == 270;
        RgbImage out = new RgbImage(swap ? height : width, swap ? width : height);
        int outW = out.width;
        byte[] d = out.pixels;
        for (int row = 0; row < height; row++) {
            int yRow = row * yRowStride;
            int uvRow = (row >> 1) * uvRowStride;
            for (int col = 0; col < width; col++) {
                int yy = ((y.get(yRow + col) & 0xFF) - yOffset) * yScale;
                int uvIndex = uvRow + (col >> 1) * uvPixelStride;
                int uu = (u.get(uvIndex) & 0xFF) - 128;
                int vv = (v.get(uvIndex) & 0xFF) - 128;
                int r = clamp((yy + rv * vv + HALF) >> SHIFT);
                int g = clamp((yy - gu * uu - gv * vv + HALF) >> SHIFT);
                int b = clamp((yy + bu * uu + HALF) >> SHIFT);
                int ox;
                int oy;
                switch (rot) {
                    case 90: ox = height - 1 - row; oy = col; break;
                    case 180: ox = width - 1 - col; oy = height - 1 - row; break;
                    case 270: ox = row; oy = width - 1 - col; break;
                    default: ox = col; oy = row; break;
                }
                int o = (oy * outW + ox) * 3;
                d[o] = (byte) r;
                d[o + 1] = (byte) g;
                d[o + 2] = (byte) b;
            }
        }
        return out;
    }
}
