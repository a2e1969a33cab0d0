package org.auedge.core;

/** An RGB image, 8 bits per channel, rows packed ({@code width * 3} bytes each). */
public final class RgbImage {
    public final int width;
    public final int height;
    /** R, G, B, R, G, B, ... row after row. */
    public final byte[] pixels;

    public RgbImage(int width, int height) {
        this(width, height, new byte[width * height * 3]);
    }

    public RgbImage(int width, int height, byte[] pixels) {
        if (width <= 0 || height <= 0 || pixels.length != width * height * 3) {
            throw new IllegalArgumentException("RGB image " + width + "x" + height + " needs " + (width * height * 3)
                    + " bytes, got " + pixels.length);
        }
        this.width = width;
        this.height = height;
        this.pixels = pixels;
    }

    public int get(int x, int y, int channel) {
        return pixels[(y * width + x) * 3 + channel] & 0xFF;
    }

    /**
     * This image mirrored left-right into {@code out} (same size), for flip averaging: the mirror of
     * an aligned crop is what edge/estimator.py feeds the model as {@code crop[:, ::-1]}.
     */
    public RgbImage mirrorInto(RgbImage out) {
        if (out.width != width || out.height != height || out == this) {
            throw new IllegalArgumentException("mirror target must be a different " + width + "x" + height + " image");
        }
        for (int y = 0; y < height; y++) {
            int row = y * width * 3;
            for (int x = 0; x < width; x++) {
                int src = row + x * 3;
                int dst = row + (width - 1 - x) * 3;
                out.pixels[dst] = pixels[src];
                out.pixels[dst + 1] = pixels[src + 1];
                out.pixels[dst + 2] = pixels[src + 2];
            }
        }
        return out;
    }
}
