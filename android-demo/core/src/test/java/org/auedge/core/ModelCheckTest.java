package org.auedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.Test;

/** The load-time checks AuPipeline.create makes with what LiteRT says of the AU model (edge/estimator.py check_model). */
public class ModelCheckTest {
    private static final String MODEL = "model_int8.tflite";
    /** The golden int8 model's input quantization, as bundle.json gives it. */
    private static final QuantParams BUNDLE_INPUT = new QuantParams(0.007843137718737125f, -1, "int8");

    private interface Check {
        void run() throws BundleException;
    }

    private static void assertRefused(Check check, String... expected) {
        try {
            check.run();
            fail("accepted; expected a refusal with " + String.join(", ", expected));
        } catch (BundleException e) {
            for (String part : expected) {
                assertTrue("expected '" + part + "' in: " + e.getMessage(), e.getMessage().contains(part));
            }
        }
    }

    private static BundleManifest goldenWithIndex(double index) throws Exception {
        Map<String, Object> data = Json.asObject(Json.parse(new String(Golden.bytes("bundle.json"), StandardCharsets.UTF_8)), "b");
        Json.asObject(Json.asArray(data.get("outputs"), "outputs").get(0), "o").put("index", index);
        return BundleManifest.fromJson(data, "bundle.json");
    }

    @Test
    public void outputIndexMustExistInTheModel() throws Exception {
        int n = Golden.bundle().outputs.size(); // the golden model gives one value per output
        ModelCheck.outputIndices(Golden.bundle().outputs, n, MODEL);
        ModelCheck.outputIndices(goldenWithIndex(n + 2).outputs, n + 3, MODEL);
        // An index past the model's outputs used to pass the load and fail at the first face.
        BundleManifest beyond = goldenWithIndex(n + 2);
        assertRefused(() -> ModelCheck.outputIndices(beyond.outputs, n, MODEL),
                "AU model model_int8.tflite gives " + n + " value(s) per face, but bundle.json maps AU12 to output index "
                        + (n + 2),
                "fix outputs[].index");
        BundleManifest last = goldenWithIndex(n);
        assertRefused(() -> ModelCheck.outputIndices(last.outputs, n, MODEL), "output index " + n);
    }

    @Test
    public void theTensorsQuantizationIsUsedAndCrossChecked() throws Exception {
        // Within rtol 1e-4 of the bundle's scale: the tensor's own figure is the one used.
        QuantParams q = ModelCheck.quantization("int8", 0.0078431f, -1, BUNDLE_INPUT, "input", MODEL);
        assertEquals(0.0078431f, q.scale, 0f);
        assertEquals(-1, q.zeroPoint);
        assertRefused(() -> ModelCheck.quantization("int8", 0.0079f, -1, BUNDLE_INPUT, "input", MODEL),
                "input quantization of model_int8.tflite is scale=0.0079 zero_point=-1, but bundle.json says scale=",
                "the bundle is inconsistent");
        assertRefused(() -> ModelCheck.quantization("int8", 0.007843138f, 0, BUNDLE_INPUT, "input", MODEL),
                "zero_point=0, but bundle.json says", "zero_point=-1");
        // int8 values written into a uint8 tensor (or the reverse) would all be wrong.
        assertRefused(() -> ModelCheck.quantization("uint8", 0.007843138f, -1 + 128, BUNDLE_INPUT, "input", MODEL),
                "zero_point=127, but bundle.json says");
        assertRefused(() -> ModelCheck.quantization("uint8", 0f, 0, BUNDLE_INPUT, "input", MODEL),
                "input of model_int8.tflite is uint8, but bundle.json gives its quantization dtype as int8");
    }

    @Test
    public void quantizationFromTheBundleOnlyWhenTheTensorHasNone() throws Exception {
        assertSame(BUNDLE_INPUT, ModelCheck.quantization("int8", 0f, 0, BUNDLE_INPUT, "input", MODEL));
        QuantParams own = ModelCheck.quantization("uint8", 0.5f, 3, null, "output", MODEL);
        assertEquals("uint8", own.dtype);
        assertEquals(3, own.zeroPoint);
        assertNull(ModelCheck.quantization("float32", 0f, 0, null, "input", MODEL));
        assertRefused(() -> ModelCheck.quantization("int8", 0f, 0, null, "output", MODEL),
                "output of model_int8.tflite is int8 but neither the model nor bundle.json gives its quantization");
        assertRefused(() -> ModelCheck.quantization("float32", 0f, 0, BUNDLE_INPUT, "input", MODEL),
                "input of model_int8.tflite is float32, but bundle.json gives its quantization dtype as int8");
        assertRefused(() -> ModelCheck.quantization("int32", 0f, 0, null, "input", MODEL),
                "input of AU model model_int8.tflite is int32; the app handles float32, int8 or uint8");
        assertRefused(() -> ModelCheck.quantization("int8", 0.5f, 200, null, "input", MODEL), "unusable quantization");
    }

    @Test
    public void scalesAgreeWithinTheRelativeTolerance() {
        QuantParams bundle = new QuantParams(1.0f, 0, "int8");
        assertTrue(ModelCheck.agree(new QuantParams(1.0f + 0.9e-4f, 0, "int8"), bundle));
        assertTrue(!ModelCheck.agree(new QuantParams(1.0f + 1.1e-4f, 0, "int8"), bundle));
        assertTrue(!ModelCheck.agree(new QuantParams(1.0f, 1, "int8"), bundle));
    }
}
