package org.auedge.core;

import static org.junit.Assert.assertEquals;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.Test;

/**
 * The decisions the golden bundle cannot show: an AU without an occlusion flag is always observable,
 * a flag exactly at its threshold says covered (value >= threshold, as edge/estimator.py), and an
 * intensity output has no presence.
 */
public class AuOutputsTest {
    private static final float NONE = Float.NaN;

    @Test
    public void occlusionFlagsDecideObservabilityOfTheirAuOnly() {
        AuOutputs outputs = new AuOutputs(Arrays.asList(
                new BundleManifest.OutputSpec("AU12", 0, "occurrence", 0f, 1f, 0.4f),
                new BundleManifest.OutputSpec("AU4", 1, "occurrence", 0f, 1f, NONE),
                new BundleManifest.OutputSpec("AU6", 2, "intensity", 0f, 5f, NONE),
                new BundleManifest.OutputSpec("AU12_occluded", 3, "occurrence", 0f, 1f, 0.7f)), null);
        float[] values = outputs.values(new float[] {0.4f, 0.49f, 7f, 0.7f});
        assertEquals(5f, values[2], 0f);
        Map<String, Float> aus = new LinkedHashMap<>();
        aus.put("AU12", 0.4f);
        aus.put("AU4", 0.49f);
        aus.put("AU6", 5f);
        assertEquals(aus, outputs.aus(values));
        Map<String, Boolean> present = new LinkedHashMap<>();
        present.put("AU12", true);  // at the threshold
        present.put("AU4", false);  // below the default 0.5
        assertEquals(present, outputs.presence(values));
        Map<String, Boolean> observable = new LinkedHashMap<>();
        observable.put("AU12", false); // its flag at the threshold: covered
        observable.put("AU4", true);   // no flag
        observable.put("AU6", true);
        assertEquals(observable, outputs.observable(values));
        values[3] = 0.69f;
        assertEquals(true, outputs.observable(values).get("AU12"));
    }
}
