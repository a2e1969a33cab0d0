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
}
