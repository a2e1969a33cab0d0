package org.auedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Map;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** bundle.json parsing (the golden bundle's real manifest) and sha256 verification. */
public class BundleManifestTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static final String ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    private static String manifest(String file, String sha) {
        return "{\"schema_version\": 1, \"name\": \"t\", \"task\": {\"name\": \"au12\", \"kind\": \"occurrence\"},"
                + " \"outputs\": [{\"au\": \"AU12\", \"index\": 0, \"threshold\": 0.4}],"
                + " \"input\": {\"size\": [160, 160], \"normalization\": {\"mean\": [127.5, 127.5, 127.5],"
                + " \"std\": [127.5, 127.5, 127.5]}}, \"crop\": {\"size\": 160, \"eye_scale\": 2.4,"
                + " \"center_below_eyes\": 0.5, \"border\": \"replicate\", \"method\": \"eyes\"},"
                + " \"models\": [{\"name\": \"int8\", \"format\": \"tflite\", \"precision\": \"int8\", \"file\": \"" + file
                + "\", \"sha256\": \"" + sha + "\", \"quantization\": {\"input\": {\"scale\": 0.5, \"zero_point\": -1},"
                + " \"output\": {\"scale\": 0.0, \"zero_point\": 0}}}]}";
    }

    private BundleManifest.FileOpener folder(File root) {
        return rel -> new FileInputStream(new File(root, rel));
    }

    @Test
    public void parsesTheGoldenBundle() throws Exception {
        BundleManifest b = Golden.bundle();
        Map<String, Object> models = Golden.obj(Golden.index().get("models"));
        assertEquals(1, BundleManifest.SCHEMA_VERSION);
        assertEquals(160, b.inputHeight);
        assertEquals(160, b.crop.size);
        assertEquals(2.4, b.crop.eyeScale, 0);
        assertNotNull(b.faceDetector);
        assertEquals(128, b.faceDetector.inputWidth);
        assertNotNull(b.output("AU12"));
        for (String name : models.keySet()) {
            BundleManifest.ModelEntry m = b.model(name);
            Object q = Golden.obj(models.get(name)).get("input_quant");
            if (q == null) {
                assertNull(m.inputQuant);
            } else {
                assertEquals((float) Golden.num(Golden.obj(q), "scale"), m.inputQuant.scale, 0f);
                assertEquals((int) Golden.num(Golden.obj(q), "zero_point"), m.inputQuant.zeroPoint);
            }
        }
        assertEquals(b.defaultModel, b.model(null).name);
        // The golden folder holds the manifest without its models: verification skips absent files only.
        b.verify(folder(Golden.DIR), null, true);
        try {
            b.verify(folder(Golden.DIR), null, false);
            fail("missing model files must be refused");
        } catch (BundleException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("missing"));
        }
    }

    @Test
    public void verifiesSha256OfEveryFile() throws Exception {
        File root = tmp.newFolder("bundle");
        Files.write(new File(root, "model.tflite").toPath(), "abc".getBytes(StandardCharsets.US_ASCII));
        BundleManifest good = BundleManifest.parse(manifest("model.tflite", ABC_SHA256), "bundle.json");
        good.verify(folder(root), null, false);
        assertEquals(0.5f, good.model("int8").inputQuant.scale, 0f);
        assertNull("a zero output scale means a float output", good.model("int8").outputQuant);

        Files.write(new File(root, "model.tflite").toPath(), "abd".getBytes(StandardCharsets.US_ASCII));
        try {
            good.verify(folder(root), null, true);
            fail("a modified model must be refused even when absent files are allowed");
        } catch (BundleException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("sha256"));
        }
        try {
            BundleManifest.parse(manifest("../model.tflite", ABC_SHA256), "bundle.json").verify(folder(root), null, true);
            fail("a file outside the bundle must be refused");
        } catch (BundleException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("outside"));
        }
    }

    @Test
    public void refusesBadManifests() {
        String[] bad = {
            "{", "[]", manifest("m", "x").replace("\"schema_version\": 1", "\"schema_version\": 2"),
            manifest("m", "x").replace("\"kind\": \"occurrence\"", "\"kind\": \"other\""),
            manifest("m", "x").replace("\"precision\": \"int8\"", "\"precision\": \"int4\""),
            manifest("m", "x").replace("\"size\": [160, 160]", "\"size\": [128, 128]"),
            manifest("m", "x").replace("\"method\": \"eyes\"", "\"method\": \"box\""),
            manifest("m", "x").replace("\"models\":", "\"inference\": {\"flip_average\": \"yes\"}, \"models\":"),
        };
        for (String text : bad) {
            try {
                BundleManifest.parse(text, "bundle.json");
                fail("accepted: " + text);
            } catch (BundleException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith("bundle.json"));
            }
        }
    }

    @Test
    public void presenceUsesTheBundleThreshold() throws Exception {
        BundleManifest b = BundleManifest.parse(manifest("m", "x"), "bundle.json");
        AuOutputs outputs = new AuOutputs(b.outputs, null);
        float[] values = outputs.values(new float[] {1.7f});
        assertEquals(1.0f, values[0], 0f); // clipped to the occurrence range [0, 1]
        assertTrue(outputs.present(0, 0.4f));
        assertFalse(outputs.present(0, 0.39f));
        assertEquals(Float.valueOf(1.0f), outputs.byName(values).get("AU12"));
    }

    @Test
    public void flipAverageFollowsTheManifestAndAveragesInFloat32() throws Exception {
        assertFalse("absent inference block: no averaging", BundleManifest.parse(manifest("m", "x"), "bundle.json").flipAverage);
        BundleManifest flip = BundleManifest.parse(
                manifest("m", "x").replace("\"models\":", "\"inference\": {\"flip_average\": true}, \"models\":"), "bundle.json");
        assertTrue(flip.flipAverage);
        float[] mean = AuOutputs.flipAverage(new float[] {0.1f, 16777216f}, new float[] {0.2f, 1f});
        assertEquals((0.1f + 0.2f) / 2f, mean[0], 0f);
        assertEquals("float32 sum, as numpy does", 8388608f, mean[1], 0f);

        RgbImage image = new RgbImage(3, 1, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        RgbImage mirror = image.mirrorInto(new RgbImage(3, 1));
        assertEquals(7, mirror.get(0, 0, 0));
        assertEquals(5, mirror.get(1, 0, 1));
        assertEquals(3, mirror.get(2, 0, 2));
    }

    @Test
    public void sha256OfKnownVector() {
        assertEquals(ABC_SHA256, Sha256.of("abc".getBytes(StandardCharsets.US_ASCII)));
    }
}
