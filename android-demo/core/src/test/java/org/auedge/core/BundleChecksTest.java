package org.auedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * Edited copies of the golden bundle.json: the Android parser refuses what edge/bundle.py refuses,
 * as one BundleException naming the key, and keeps accepting what it accepts.
 */
public class BundleChecksTest {
    /** Shared with tests/android/test_android_core.py, which runs the same cases through parse_manifest. */
    private static final File CASES = new File(Golden.DIR.getParentFile(), "bundle_cases.json");

    private static Map<String, Object> golden() throws IOException {
        return Json.asObject(Json.parse(new String(Golden.bytes("bundle.json"), StandardCharsets.UTF_8)), "bundle.json");
    }

    /** The golden manifest with the value at {@code path} replaced (or, for REMOVE, deleted). */
    private static Map<String, Object> edited(Object value, Object... path) throws IOException {
        Map<String, Object> data = golden();
        apply(data, Arrays.asList(path), value == REMOVE ? "delete" : "set", value);
        return data;
    }

    private static final Object REMOVE = new Object();

    /** Position of the int8 model in the golden manifest's models (its quantization is edited). */
    private static int int8Entry() throws IOException {
        List<Object> models = Json.asArray(golden().get("models"), "models");
        for (int i = 0; i < models.size(); i++) {
            if ("int8".equals(Json.asObject(models.get(i), "model").get("name"))) {
                return i;
            }
        }
        throw new AssertionError("the golden bundle has no int8 model");
    }

    @SuppressWarnings("unchecked")
    private static void apply(Object root, List<?> path, String op, Object value) {
        Object node = root;
        for (Object key : path.subList(0, path.size() - 1)) {
            node = node instanceof Map ? ((Map<String, Object>) node).get((String) key) : ((List<Object>) node).get(index(key));
        }
        Object last = path.get(path.size() - 1);
        if (node instanceof Map) {
            Map<String, Object> map = (Map<String, Object>) node;
            if ("delete".equals(op)) {
                map.remove((String) last);
            } else {
                map.put((String) last, value);
            }
        } else {
            List<Object> list = (List<Object>) node;
            switch (op) {
                case "delete": list.remove(index(last)); break;
                case "insert": list.add(index(last), value); break;
                default: list.set(index(last), value);
            }
        }
    }

    private static int index(Object key) {
        return key instanceof Double ? ((Double) key).intValue() : (Integer) key;
    }

    private static void assertRefused(Map<String, Object> data, String expected) {
        try {
            BundleManifest.fromJson(data, "bundle.json");
            fail("accepted; expected a refusal naming " + expected);
        } catch (BundleException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("bundle.json"));
            assertTrue("expected '" + expected + "' in: " + e.getMessage(), e.getMessage().contains(expected));
        }
    }

    private static List<Object> list(Object... items) {
        return new ArrayList<>(Arrays.asList(items));
    }

    @Test
    public void outputIndexMustBeAnIntegerAtLeastZero() throws Exception {
        assertRefused(edited(-1.0, "outputs", 0, "index"), "outputs[0].index must be an integer >= 0, got -1");
        // (int) 0.9 was 0: the bundle's mistake silently read output 0.
        assertRefused(edited(0.9, "outputs", 0, "index"), "outputs[0].index must be an integer >= 0, got 0.9");
        assertRefused(edited("0", "outputs", 0, "index"), "outputs[0].index");
        assertEquals("absent: the entry's position", 0, BundleManifest.fromJson(edited(REMOVE, "outputs", 0, "index"), "b").outputs.get(0).index);
    }

    @Test
    public void quantizationMustFitItsDtype() throws Exception {
        int m = int8Entry();
        String at = "models[" + m + "].quantization.";
        // 128 is no int8 zero point: quantize() clipped every input value to 127 / near 0.
        assertRefused(edited(128.0, "models", m, "quantization", "input", "zero_point"),
                at + "input: quantization zero_point must be an integer in [-128, 127] for int8, got 128");
        assertRefused(edited(-1.6, "models", m, "quantization", "input", "zero_point"),
                at + "input: quantization zero_point must be an integer in [-128, 127] for int8, got -1.6");
        assertRefused(edited(REMOVE, "models", m, "quantization", "input", "zero_point"),
                at + "input: zero_point is missing");
        assertRefused(edited(-0.5, "models", m, "quantization", "output", "scale"),
                at + "output: quantization scale must be a positive number");
        Map<String, Object> uint8 = edited(255.0, "models", m, "quantization", "output", "zero_point");
        apply(uint8, Arrays.asList("models", m, "quantization", "output", "dtype"), "set", "uint8");
        QuantParams q = BundleManifest.fromJson(uint8, "b").model("int8").outputQuant;
        assertEquals(255, q.zeroPoint);
        assertEquals("uint8", q.dtype);
        try {
            new QuantParams(0.5f, 256, "uint8");
            fail("zero point 256 is not a uint8");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("[0, 255] for uint8, got 256"));
        }
    }

    @Test
    public void normalizationMustBeRgbPixelsIn0To255() throws Exception {
        assertRefused(edited("BGR", "input", "normalization", "color"),
                "input.normalization: normalization color 'BGR' is not supported: au-edge feeds RGB pixels");
        assertRefused(edited(list(0.0, 1.0), "input", "normalization", "pixel_range"),
                "normalization pixel_range [0, 1] is not supported: au-edge feeds pixels in [0, 255]");
        assertRefused(edited("0-255", "input", "normalization", "pixel_range"), "normalization pixel_range must be [0, 255]");
        assertRefused(edited(null, "input", "normalization", "color"), "normalization color null is not supported");
        // Bundles written before these keys existed mean RGB 0-255 and still load.
        Map<String, Object> old = edited(REMOVE, "input", "normalization", "color");
        apply(old, Arrays.asList("input", "normalization", "pixel_range"), "delete", null);
        assertEquals(127.5f, BundleManifest.fromJson(old, "b").normalization.mean[0], 0f);
    }

    @Test
    public void outputEntriesAreChecked() throws Exception {
        assertRefused(edited("ocurrence", "outputs", 0, "kind"), "outputs[0].kind must be one of occurrence, intensity, got 'ocurrence'");
        assertRefused(edited(list(1.0, 0.0), "outputs", 0, "range"), "outputs[0].range must be [lo, hi] with lo < hi");
        assertRefused(edited(list(1.0), "outputs", 0, "range"), "outputs[0].range must be [lo, hi]");
        assertRefused(edited("0.5", "outputs", 0, "threshold"), "outputs[0].threshold must be a number");
        Map<String, Object> twice = golden();
        Map<String, Object> second = Json.asObject(Json.parse(
                "{\"au\": \"AU12\", \"index\": 0, \"kind\": \"intensity\", \"range\": [0.0, 5.0]}"), "entry");
        apply(twice, Arrays.asList("outputs", 0), "insert", second);
        // Readings are keyed by AU name: the second AU12 would silently replace the first.
        assertRefused(twice, "outputs name AU12 more than once");
    }

    @Test
    public void detectorInputSizeNeedsTwoIntegers() throws Exception {
        // Was an ArrayIndexOutOfBoundsException out of parse().
        assertRefused(edited(list(128.0), "face_detector", "input_size"), "face_detector.input_size must be [H, W], got [128]");
        assertRefused(edited(list(128.0, 127.5), "face_detector", "input_size"), "face_detector.input_size must be an integer >= 1");
        assertRefused(edited("high", "face_detector", "score_threshold"), "face_detector.score_threshold must be a number");
    }

    /**
     * Every value of the golden manifest replaced by each wrong type: parse() accepts or refuses with
     * a message naming a key, never a crash from deeper down or the catch-all's "is malformed".
     */
    @Test
    public void anyMalformationIsABundleExceptionNamingTheKey() throws Exception {
        List<List<Object>> paths = new ArrayList<>();
        collectPaths(golden(), new ArrayList<>(), paths);
        assertTrue(paths.size() > 100);
        Object[] wrong = {null, "x", -1.5, 1e300, true, list(), list(1.0), Json.parse("{}")};
        int refused = 0;
        for (List<Object> path : paths) {
            for (Object value : wrong) {
                Map<String, Object> data = golden();
                apply(data, path, "set", value instanceof List ? list(((List<?>) value).toArray()) : value);
                try {
                    BundleManifest.fromJson(data, "bundle.json");
                } catch (BundleException e) {
                    refused++;
                    assertFalse(path + " = " + value + ": " + e.getMessage(), e.getMessage().contains(" is malformed ("));
                } catch (RuntimeException e) {
                    throw new AssertionError(path + " = " + value + " escaped as " + e, e);
                }
            }
        }
        assertTrue(refused > 100);
    }

    @SuppressWarnings("unchecked")
    private static void collectPaths(Object node, List<Object> prefix, List<List<Object>> out) {
        if (node instanceof Map) {
            for (Map.Entry<String, Object> e : ((Map<String, Object>) node).entrySet()) {
                descend(e.getValue(), prefix, e.getKey(), out);
            }
        } else if (node instanceof List) {
            List<Object> list = (List<Object>) node;
            for (int i = 0; i < list.size(); i++) {
                descend(list.get(i), prefix, i, out);
            }
        }
    }

    private static void descend(Object child, List<Object> prefix, Object key, List<List<Object>> out) {
        List<Object> path = new ArrayList<>(prefix);
        path.add(key);
        out.add(path);
        collectPaths(child, path, out);
    }

    /** The cases of bundle_cases.json: refused here exactly when edge/bundle.py refuses them. */
    @Test
    public void refusesWhatPythonRefuses() throws Exception {
        List<Object> cases = Json.asArray(Json.asObject(Json.parse(
                new String(Files.readAllBytes(CASES.toPath()), StandardCharsets.UTF_8)), "cases").get("cases"), "cases");
        assertTrue(cases.size() >= 40);
        for (Object c : cases) {
            Map<String, Object> spec = Json.asObject(c, "case");
            String op = spec.containsKey("set") ? "set" : spec.containsKey("insert") ? "insert" : "delete";
            Map<String, Object> data = golden();
            apply(data, Json.asArray(spec.get("path"), "path"), op, spec.get(op));
            Object refused = spec.get("refused");
            if (refused == null) {
                assertEquals((String) spec.get("case"), "AU12", BundleManifest.fromJson(data, "bundle.json").outputs.get(0).au);
            } else {
                assertRefused(data, (String) refused);
            }
        }
    }

    @Test
    public void goldenStillParsesWithItsQuantization() throws Exception {
        BundleManifest b = BundleManifest.fromJson(golden(), "bundle.json");
        assertEquals(-1, b.model("int8").inputQuant.zeroPoint);
        assertEquals(-128, b.model("int8").outputQuant.zeroPoint);
        assertNull(b.model("fp32").inputQuant);
        assertEquals(128, b.faceDetector.inputHeight);
    }
}
