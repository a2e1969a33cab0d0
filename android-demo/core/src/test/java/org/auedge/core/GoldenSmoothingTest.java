package org.auedge.core;

import static org.junit.Assert.assertEquals;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** AU smoothing = edge/smoothing.py: the same filter outputs (1e-12) and the same track ids. */
public class GoldenSmoothingTest {
    static final double TOLERANCE = 1e-12;

    private static Smoothing.Options options(Map<String, Object> o) {
        Smoothing.Options opts = new Smoothing.Options();
        opts.method = Golden.str(o, "method");
        opts.alpha = Golden.num(o, "alpha");
        opts.minCutoff = Golden.num(o, "min_cutoff");
        opts.beta = Golden.num(o, "beta");
        opts.dCutoff = Golden.num(o, "d_cutoff");
        opts.matchDistance = Golden.num(o, "match_distance");
        opts.maxMissedFrames = (int) Golden.num(o, "max_missed_frames");
        return opts;
    }

    @Test
    public void filtersAndTrackerMatchPython() throws Exception {
        int filters = 0;
        int frames = 0;
        double worst = 0;
        for (Object o : Golden.list("smoothing")) {
            Map<String, Object> c = Golden.obj(o);
            Smoothing.Options opts = options(Golden.obj(c.get("options")));
            if ("filter".equals(Golden.str(c, "kind"))) {
                Smoothing.Filter filter = Smoothing.makeFilter(opts);
                double[] ts = Json.asNumbers(c.get("ts"), "ts");
                double[] xs = Json.asNumbers(c.get("x"), "x");
                double[] ys = Json.asNumbers(c.get("y"), "y");
                for (int i = 0; i < xs.length; i++) {
                    double y = filter.apply(xs[i], ts[i]);
                    worst = Math.max(worst, Math.abs(y - ys[i]));
                    assertEquals(opts.method + " step " + i, ys[i], y, TOLERANCE);
                }
                filters++;
                continue;
            }
            Smoothing.FaceSmoother smoother = new Smoothing.FaceSmoother(opts);
            for (Object fo : Json.asArray(c.get("frames"), "frames")) {
                Map<String, Object> frame = Golden.obj(fo);
                List<Smoothing.Face> faces = new ArrayList<>();
                for (Object face : Json.asArray(frame.get("faces"), "faces")) {
                    Map<String, Object> f = Golden.obj(face);
                    faces.add(new Smoothing.Face(Json.asNumbers(f.get("box"), "box"), aus(f)));
                }
                List<Smoothing.Smoothed> out = smoother.update(faces, Golden.num(frame, "ts"));
                List<Object> expected = Json.asArray(frame.get("expected"), "expected");
                assertEquals(expected.size(), out.size());
                for (int i = 0; i < out.size(); i++) {
                    Map<String, Object> e = Golden.obj(expected.get(i));
                    assertEquals("track id, frame " + frames, (int) Golden.num(e, "track_id"), out.get(i).trackId);
                    for (Map.Entry<String, Double> au : aus(e).entrySet()) {
                        assertEquals(au.getValue(), out.get(i).aus.get(au.getKey()), TOLERANCE);
                    }
                }
                frames++;
            }
        }
        Golden.report("smoothing filter sequences", filters);
        Golden.report("tracker frames", frames);
        Golden.report("worst smoothing difference", worst);
        assertEquals(4, filters);
        assertEquals(12, frames);
    }

    private static Map<String, Double> aus(Map<String, Object> face) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : Golden.obj(face.get("aus")).entrySet()) {
            out.put(e.getKey(), Json.asNumber(e.getValue(), e.getKey()));
        }
        return out;
    }
}
