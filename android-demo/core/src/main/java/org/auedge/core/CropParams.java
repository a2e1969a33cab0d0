package org.auedge.core;

import java.util.Map;

/** How a face is cut out of an image: the bundle's {@code crop} entry (edge/align.py CropParams). */
public final class CropParams {
    public final int size;
    public final double eyeScale;
    public final double centerBelowEyes;
    public final String border;

    public CropParams(int size, double eyeScale, double centerBelowEyes, String border) {
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
        this.size = size;
        this.eyeScale = eyeScale;
        this.centerBelowEyes = centerBelowEyes;
        this.border = border;
    }

    public static CropParams defaults() {
        return new CropParams(160, 2.4, 0.5, "replicate");
    }

    static CropParams fromJson(Map<String, Object> data) {
        for (String key : data.keySet()) {
            if (!key.equals("size") && !key.equals("eye_scale") && !key.equals("center_below_eyes")
                    && !key.equals("border") && !key.equals("method")) {
                throw new IllegalArgumentException("unknown crop parameter '" + key + "'");
            }
        }
        Object method = data.get("method");
        if (method != null && !"eyes".equals(method)) {
            throw new IllegalArgumentException("crop method '" + method + "' is not supported (only 'eyes')");
        }
        CropParams d = defaults();
        return new CropParams(
                data.containsKey("size") ? (int) Json.asNumber(data.get("size"), "crop.size") : d.size,
                data.containsKey("eye_scale") ? Json.asNumber(data.get("eye_scale"), "crop.eye_scale") : d.eyeScale,
                data.containsKey("center_below_eyes")
                        ? Json.asNumber(data.get("center_below_eyes"), "crop.center_below_eyes") : d.centerBelowEyes,
                data.containsKey("border") ? Json.asString(data.get("border"), "crop.border") : d.border);
    }
}
