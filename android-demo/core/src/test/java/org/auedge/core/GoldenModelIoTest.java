package org.auedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.Test;

/**
 * The AU model's input and output on the phone = edge/estimator.py: the normalised (fp32) and
 * quantized (int8) input tensors are bit-identical (sha256 of the bytes), the AU values from the raw
 * model output match within 1e-5 (fp32) and exactly (int8), and so do the decisions taken from them:
 * each AU's presence and whether its occlusion flag makes it not observable.
 */
public class GoldenModelIoTest {
    static final double FP32_VALUE_TOLERANCE = 1e-5;

    @Test
    public void inputTensorsAndOutputsMatchPython() throws Exception {
        BundleManifest bundle = Golden.bundle();
        Map<String, Object> models = Golden.obj(Golden.index().get("models"));
        double worstFp32 = 0;
        double worstInt8 = 0;
        int checked = 0;
        int flipAveraged = 0;
        Map<String, Integer> decisions = new LinkedHashMap<>(); // "int8 AU12 not observable" -> faces
        for (String name : models.keySet()) {
            BundleManifest.ModelEntry entry = bundle.model(name);
            ModelInput input = new ModelInput(bundle.normalization, entry.inputQuant);
            AuOutputs outputs = new AuOutputs(bundle.outputs, entry.outputQuant);
            boolean quantized = "int8".equals(entry.precision);
            assertEquals(name + ": quantized input", quantized, input.isQuantized());
            for (Object o : Golden.list("faces")) {
                Map<String, Object> face = Golden.obj(o);
                String id = Golden.str(face, "id");
                Map<String, Object> expected = Golden.obj(Golden.obj(face.get("models")).get(name));
                RgbImage crop = Golden.png(Golden.str(Golden.obj(face.get("crop")), "file"));
                ByteBuffer buffer = ByteBuffer.allocate(crop.pixels.length * input.bytesPerElement());
                if (quantized) {
                    byte[] q = new byte[crop.pixels.length];
                    input.toQuantized(crop, q);
                    buffer.put(q);
                    input.fill(crop, ByteBuffer.allocateDirect(q.length)); // the interpreter path runs too
                } else {
                    float[] f = new float[crop.pixels.length];
                    input.toFloat(crop, f);
                    buffer.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(f);
                }
                assertEquals(id + " " + name + ": model input sha256", Golden.str(expected, "input_sha256"),
                        Sha256.of(buffer.array()));
                float[] rawValues = rawOutput(expected.get("raw_output"), quantized, outputs);
                if (bundle.flipAverage) {
                    RgbImage mirror = crop.mirrorInto(new RgbImage(crop.width, crop.height));
                    assertEquals(id + " " + name + ": mirrored input sha256", Golden.str(expected, "mirrored_input_sha256"),
                            Sha256.of(tensorBytes(input, mirror, quantized)));
                    rawValues = AuOutputs.flipAverage(rawValues,
                            rawOutput(expected.get("raw_output_mirrored"), quantized, outputs));
                    flipAveraged++;
                }
                float[] values = outputs.values(rawValues);
                double[] want = Json.asNumbers(expected.get("values"), "values");
                assertEquals(want.length, values.length);
                assertEquals(id + " " + name + ": presence", Golden.obj(expected.get("present")),
                        new LinkedHashMap<String, Object>(outputs.presence(values)));
                Map<String, Boolean> observable = outputs.observable(values);
                assertEquals(id + " " + name + ": observable", Golden.obj(expected.get("observable")),
                        new LinkedHashMap<String, Object>(observable));
                for (Map.Entry<String, Boolean> e : observable.entrySet()) {
                    String key = name + " " + e.getKey() + (e.getValue() ? " observable" : " not observable");
                    decisions.merge(key, 1, Integer::sum);
                }
                for (int i = 0; i < values.length; i++) {
                    double d = Math.abs(want[i] - values[i]);
                    if (quantized) {
                        assertEquals(id + " int8 value", (float) want[i], values[i], 0f);
                        worstInt8 = Math.max(worstInt8, d);
                    } else {
                        worstFp32 = Math.max(worstFp32, d);
                    }
                }
                checked++;
            }
        }
        Golden.report("model input/output cases (faces x models)", checked);
        Golden.report("worst fp32 AU value difference", worstFp32);
        Golden.report("worst int8 AU value difference", worstInt8);
        Golden.report("cases averaged with the mirrored crop (bundle inference.flip_average)", flipAveraged);
        for (Map.Entry<String, Integer> e : decisions.entrySet()) {
            Golden.report("faces with " + e.getKey(), e.getValue());
        }
        for (String name : models.keySet()) {
            AuOutputs outputs = new AuOutputs(bundle.outputs, bundle.model(name).outputQuant);
            for (int i = 0; i < bundle.outputs.size(); i++) {
                String flag = bundle.outputs.get(i).au;
                if (outputs.isOcclusionFlag(i)) {
                    String au = flag.substring(0, flag.length() - AuOutputs.OCCLUDED_SUFFIX.length());
                    // Both ways on the golden faces: the flag's decision is compared, not just its default.
                    assertTrue(name + " " + au + ": a face with " + flag + " covered",
                            decisions.containsKey(name + " " + au + " not observable"));
                    assertTrue(name + " " + au + ": a face with " + flag + " clear",
                            decisions.containsKey(name + " " + au + " observable"));
                }
            }
        }
        assertEquals("flip averaging follows bundle.json", bundle.flipAverage, flipAveraged > 0);
        assertTrue("fp32 and int8, >= 20 faces each", checked >= 40);
        assertTrue("fp32 value difference " + worstFp32, worstFp32 <= FP32_VALUE_TOLERANCE);
    }

    /** Raw model output as recorded by make_golden.py: int8 levels (dequantized here) or floats. */
    private static float[] rawOutput(Object recorded, boolean quantized, AuOutputs outputs) {
        double[] raw = Json.asNumbers(recorded, "raw_output");
        if (quantized) {
            byte[] rawBytes = new byte[raw.length];
            for (int i = 0; i < raw.length; i++) {
                rawBytes[i] = (byte) (int) raw[i];
            }
            return outputs.dequantize(rawBytes);
        }
        float[] out = new float[raw.length];
        for (int i = 0; i < raw.length; i++) {
            out[i] = (float) raw[i];
        }
        return out;
    }

    private static byte[] tensorBytes(ModelInput input, RgbImage crop, boolean quantized) {
        if (quantized) {
            byte[] q = new byte[crop.pixels.length];
            input.toQuantized(crop, q);
            return q;
        }
        float[] f = new float[crop.pixels.length];
        input.toFloat(crop, f);
        ByteBuffer buffer = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asFloatBuffer().put(f);
        return buffer.array();
    }

    @Test
    public void everyInt8OutputLevelDequantizesExactly() throws Exception {
        BundleManifest bundle = Golden.bundle();
        Map<String, Object> models = Golden.obj(Golden.index().get("models"));
        int tables = 0;
        for (String name : models.keySet()) {
            Map<String, Object> spec = Golden.obj(models.get(name));
            if (!spec.containsKey("dequantized_levels")) {
                continue;
            }
            double[] range = Json.asNumbers(spec.get("output_levels"), "output_levels");
            double[] want = Json.asNumbers(spec.get("dequantized_levels"), "dequantized_levels");
            QuantParams q = bundle.model(name).outputQuant;
            assertEquals((int) range[0], q.min());
            assertEquals((int) range[1], q.max());
            byte[] levels = new byte[want.length];
            for (int i = 0; i < levels.length; i++) {
                levels[i] = (byte) ((int) range[0] + i);
            }
            float[] got = new AuOutputs(bundle.outputs, q).dequantize(levels);
            for (int i = 0; i < want.length; i++) {
                assertEquals(name + " level " + ((int) range[0] + i), (float) want[i], got[i], 0f);
            }
            tables++;
        }
        assertEquals("the int8 model's output table", 1, tables);
    }

    @Test
    public void quantizeRoundsHalfToEvenAndClips() {
        QuantParams q = new QuantParams(0.5f, -1, "int8");
        assertEquals(-1, q.quantize(0.25f)); // 0.5 -> 0 (even), + zero point
        assertEquals(1, q.quantize(0.75f));  // 1.5 -> 2
        assertEquals(127, q.quantize(1000f));
        assertEquals(-128, q.quantize(-1000f));
        assertEquals(1.0f, q.dequantize(1), 0f);
        QuantParams u = new QuantParams(1f, 0, "uint8");
        assertEquals(200, u.fromByte((byte) 200));
        assertEquals(255, u.quantize(300f));
    }

    @Test
    public void normalizationIsTheFloat32Formula() {
        Normalization n = new Normalization(new float[] {127.5f, 127.5f, 127.5f}, new float[] {127.5f, 127.5f, 127.5f});
        assertEquals(-1.0f, n.apply(0, 0), 0f);
        assertEquals(1.0f, n.apply(255, 2), 0f);
        assertEquals((0f - 127.5f) * (1.0f / 127.5f), n.apply(0, 1), 0f);
    }
}
