package org.auedge.core;

import java.util.List;
import java.util.Map;

/**
 * How a face is cut out of an image: the bundle's {@code crop} entry (edge/align.py CropParams).
 * Method {@code eyes} measures the square from the eye line; {@code landmarks} fits the eyes, nose
 * tip and mouth centre to {@link #template} (eye-distance units, origin at the eye midpoint, y down).
 */
public final class CropParams {
    /** edge/align.py LANDMARK_TEMPLATE: left eye, right eye, nose tip, mouth centre as x0, y0, x1, y1... */
    public static final double[] LANDMARK_TEMPLATE = {-0.5, 0.0, 0.5, 0.0, 0.0, 0.60, 0.0, 1.07};

    public final int size;
    public final double eyeScale;
    public final double centerBelowEyes;
    public final String border;
    public final String method;
    /** Eight values for method {@code landmarks}; null for {@code eyes}. */
    public final double[] template;

    public CropParams(int size, double eyeScale, double centerBelowEyes, String border) {
        this(size, eyeScale, centerBelowEyes, border, "eyes", null);
    }

    public CropParams(int size, double eyeScale, double centerBelowEyes, String border, String method, double[] template) {
        if (size < 8) {
            throw new IllegalArgumentException("crop size " + size + " is too small (need >= 8)");
        }
        if (!(eyeScale > 0)) {
            throw new IllegalArgumentException("crop eye_scale must be positive, got " + eyeScale);
        }
        if (!"replicate".equals(border) && !"constant".equals(border)) {
            // reflect is accepted by Python too, but no bundle uses it; refuse rather than differ.
            throw new IllegalArgumentException("crop border '" + border + "' is not supported here (replicate, constant)");
        }
        if ("eyes".equals(method)) {
            if (template != null) {
                throw new IllegalArgumentException("crop method 'eyes' takes no template; use method 'landmarks' for one");
            }
        } else if ("landmarks".equals(method)) {
            template = template == null ? LANDMARK_TEMPLATE.clone() : template.clone();
            checkTemplate(template);
        } else {
            throw new IllegalArgumentException("crop method '" + method + "' is not one of eyes, landmarks");
        }
        this.size = size;
        this.eyeScale = eyeScale;
        this.centerBelowEyes = centerBelowEyes;
        this.border = border;
        this.method = method;
        this.template = template;
    }

    private static void checkTemplate(double[] t) {
        if (t.length != 8) {
            throw new IllegalArgumentException("crop template must be 4 finite [x, y] pairs (left_eye, right_eye, nose, mouth)");
        }
        double mx = 0;
        double my = 0;
        for (int i = 0; i < 8; i++) {
            if (!Double.isFinite(t[i])) {
                throw new IllegalArgumentException("crop template must be 4 finite [x, y] pairs (left_eye, right_eye, nose, mouth)");
            }
            if (i % 2 == 0) {
                mx += t[i] / 4.0;
            } else {
                my += t[i] / 4.0;
            }
        }
        double spread = 0;
        for (int i = 0; i < 4; i++) {
            spread = Math.max(spread, Math.hypot(t[2 * i] - mx, t[2 * i + 1] - my));
        }
        if (spread < 1e-3) {
            throw new IllegalArgumentException("crop template points all coincide");
        }
    }

    /** How many alignment points (eyes, nose tip, mouth centre) the method needs. */
    public int numPoints() {
        return "eyes".equals(method) ? 2 : 4;
    }

    public static CropParams defaults() {
        return new CropParams(160, 2.4, 0.5, "replicate");
    }

    static CropParams fromJson(Map<String, Object> data) {
        for (String key : data.keySet()) {
            if (!key.equals("size") && !key.equals("eye_scale") && !key.equals("center_below_eyes")
                    && !key.equals("border") && !key.equals("method") && !key.equals("template")) {
                throw new IllegalArgumentException("unknown crop parameter '" + key + "'");
            }
        }
        String method = data.containsKey("method") ? Json.asString(data.get("method"), "crop.method") : "eyes";
        double[] template = null;
        Object raw = data.get("template");
        if (raw != null) {
            if (!(raw instanceof List)) {
                throw new IllegalArgumentException("crop.template must be a list of [x, y] pairs");
            }
            List<?> pairs = (List<?>) raw;
            template = new double[2 * pairs.size()];
            for (int i = 0; i < pairs.size(); i++) {
                double[] xy = Json.asNumbers(pairs.get(i), "crop.template[" + i + "]");
                if (xy.length != 2) {
                    throw new IllegalArgumentException("crop.template[" + i + "] must be an [x, y] pair");
                }
                template[2 * i] = xy[0];
                template[2 * i + 1] = xy[1];
            }
        }
        CropParams d = defaults();
        return new CropParams(
                data.containsKey("size") ? (int) Json.asNumber(data.get("size"), "crop.size") : d.size,
                data.containsKey("eye_scale") ? Json.asNumber(data.get("eye_scale"), "crop.eye_scale") : d.eyeScale,
                data.containsKey("center_below_eyes")
                        ? Json.asNumber(data.get("center_below_eyes"), "crop.center_below_eyes") : d.centerBelowEyes,
                data.containsKey("border") ? Json.asString(data.get("border"), "crop.border") : d.border,
                method, template);
    }
}
