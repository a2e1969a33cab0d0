package org.auedge.core;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import javax.imageio.ImageIO;

/** Reads the golden vectors written by android-demo/tools/make_golden.py (index.json + files). */
final class Golden {
    static final File DIR = new File(System.getProperty("golden.dir", "src/test/resources/golden"));
    private static Map<String, Object> index;

    private Golden() {
    }

    static synchronized Map<String, Object> index() throws IOException {
        if (index == null) {
            File file = new File(DIR, "index.json");
            if (!file.isFile()) {
                throw new IOException(file + " not found; run python android-demo/tools/make_golden.py "
                        + "(or pass -Dgolden.dir=...)");
            }
            index = Json.asObject(Json.parse(new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8)),
                    "index.json");
        }
        return index;
    }

    /** Another JSON file of the golden folder (e.g. landmarks.json). */
    static Map<String, Object> json(String name) throws IOException {
        File file = new File(DIR, name);
        if (!file.isFile()) {
            throw new IOException(file + " not found; run python android-demo/tools/make_golden.py --landmarks-only");
        }
        return Json.asObject(Json.parse(new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8)), name);
    }

    static List<Object> list(String key) throws IOException {
        return Json.asArray(index().get(key), key);
    }

    static Map<String, Object> obj(Object value) {
        return Json.asObject(value, "golden entry");
    }

    static double num(Map<String, Object> m, String key) {
        return Json.asNumber(m.get(key), key);
    }

    static String str(Map<String, Object> m, String key) {
        return Json.asString(m.get(key), key);
    }

    static byte[] bytes(String name) throws IOException {
        return Files.readAllBytes(new File(DIR, name).toPath());
    }

    static byte[] gunzip(String name) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(new File(DIR, name).toPath()))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        }
    }

    static float[] floats(String name) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes(name)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[buffer.remaining() / 4];
        buffer.asFloatBuffer().get(out);
        return out;
    }

    /** A PNG as RGB (lossless, so exactly the array Python wrote). */
    static RgbImage png(String name) throws IOException {
        BufferedImage image = ImageIO.read(new File(DIR, name));
        if (image == null) {
            throw new IOException(name + " is not a readable PNG");
        }
        int w = image.getWidth();
        int h = image.getHeight();
        byte[] px = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = image.getRGB(x, y);
                int o = (y * w + x) * 3;
                px[o] = (byte) (rgb >> 16);
                px[o + 1] = (byte) (rgb >> 8);
                px[o + 2] = (byte) rgb;
            }
        }
        return new RgbImage(w, h, px);
    }

    /** Nearest-neighbour enlargement, as np.repeat on both axes. */
    static RgbImage enlarge(RgbImage image, int factor) {
        if (factor == 1) {
            return image;
        }
        RgbImage out = new RgbImage(image.width * factor, image.height * factor);
        for (int y = 0; y < out.height; y++) {
            for (int x = 0; x < out.width; x++) {
                int s = ((y / factor) * image.width + x / factor) * 3;
                int d = (y * out.width + x) * 3;
                out.pixels[d] = image.pixels[s];
                out.pixels[d + 1] = image.pixels[s + 1];
                out.pixels[d + 2] = image.pixels[s + 2];
            }
        }
        return out;
    }

    /** Mean and max absolute difference of two equally sized images. */
    /** Largest absolute element difference of two equally long vectors (e.g. 2x3 crop matrices). */
    static double maxAbsDiff(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    static double[] diff(RgbImage a, RgbImage b) {
        if (a.width != b.width || a.height != b.height) {
            throw new AssertionError("sizes differ: " + a.width + "x" + a.height + " vs " + b.width + "x" + b.height);
        }
        long sum = 0;
        int max = 0;
        for (int i = 0; i < a.pixels.length; i++) {
            int d = Math.abs((a.pixels[i] & 0xFF) - (b.pixels[i] & 0xFF));
            sum += d;
            max = Math.max(max, d);
        }
        return new double[] {(double) sum / a.pixels.length, max};
    }

    static BundleManifest bundle() throws IOException, BundleException {
        return BundleManifest.parse(new String(bytes("bundle.json"), StandardCharsets.UTF_8), "golden/bundle.json");
    }

    /** Prints a measured figure so the run log documents the observed differences. */
    static void report(String what, double value) {
        System.out.printf("  observed %s: %.6g%n", what, value);
    }
}
