package org.auedge.core;

import java.util.Arrays;

/**
 * The detector's input, as edge/face_detector.py builds it: the frame fitted into the square input
 * keeping its aspect ratio (black padding centred), shrunk with the same cheap anti-aliasing
 * (bilinear to twice the target, then an exact 2x box) and mapped to [-1, 1].
 */
public final class Letterbox {
    /** Where the frame sits inside the square input. */
    public static final class Geometry {
        public final int imageWidth;
        public final int imageHeight;
        public final int newWidth;
        public final int newHeight;
        public final int padX;
        public final int padY;

        public Geometry(int imageWidth, int imageHeight, int newWidth, int newHeight, int padX, int padY) {
            this.imageWidth = imageWidth;
            this.imageHeight = imageHeight;
            this.newWidth = newWidth;
            this.newHeight = newHeight;
            this.padX = padX;
            this.padY = padY;
        }
    }

    private final int size;

    public Letterbox(int size) {
        this.size = size;
    }

    /** Python: scale = size / max(h, w); new = max(1, round(side * scale)) (half to even). */
    public Geometry geometry(int width, int height) {
        double scale = (double) size / Math.max(width, height);
        int newW = Math.max(1, (int) Math.rint(width * scale));
        int newH = Math.max(1, (int) Math.rint(height * scale));
        return new Geometry(width, height, newW, newH, Math.floorDiv(size - newW, 2), Math.floorDiv(size - newH, 2));
    }

    /** The square uint8 canvas the detector sees (before mapping to [-1, 1]). */
    public RgbImage canvas(RgbImage image, Geometry g) {
        double scale = (double) size / Math.max(image.width, image.height);
        RgbImage resized;
        if (scale < 1.0) {
            resized = image.width <= 2 * g.newWidth ? Resize.area(image, g.newWidth, g.newHeight)
                    : Resize.blockMean(Resize.linearExact(image, 2 * g.newWidth, 2 * g.newHeight), 2, 2);
        } else {
            resized = Resize.linearExact(image, g.newWidth, g.newHeight);
        }
        RgbImage canvas = new RgbImage(size, size);
        Arrays.fill(canvas.pixels, (byte) 0);
        for (int y = 0; y < g.newHeight; y++) {
            System.arraycopy(resized.pixels, y * g.newWidth * 3, canvas.pixels,
                    ((y + g.padY) * size + g.padX) * 3, g.newWidth * 3);
        }
        return canvas;
    }

    /** uint8 -> float32 in [-1, 1], bit-identical to the Python table p / float32(127.5) - 1. */
    public static float toUnitRange(int level) {
        return (float) level / 127.5f - 1.0f;
    }

    /** Fill {@code out} (size*size*3 floats, NHWC) from a canvas. */
    public static void toTensor(RgbImage canvas, float[] out) {
        for (int i = 0; i < canvas.pixels.length; i++) {
            out[i] = toUnitRange(canvas.pixels[i] & 0xFF);
        }
    }
}
