package org.auedge.core;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * AU smoothing over time, as edge/smoothing.py: per face track (nearest box centre), one filter per
 * AU: exponential moving average, One-Euro (Casiez et al. 2012), or none. A track whose face is
 * missed for more than {@code maxMissedFrames} frames is dropped, so two people are never blended.
 */
public final class Smoothing {
    private Smoothing() {
    }

    /** How AU values are smoothed (the Python SmoothingOptions). */
    public static final class Options {
        public String method = "one_euro";
        public double alpha = 0.5;
        public double minCutoff = 1.0;
        public double beta = 0.05;
        public double dCutoff = 1.0;
        public double matchDistance = 0.75;
        public int maxMissedFrames = 0;

        public void validate() {
            if (!method.equals("none") && !method.equals("ema") && !method.equals("one_euro")) {
                throw new IllegalArgumentException("smoothing method must be none, ema or one_euro (got '" + method + "')");
            }
            if (!(alpha > 0 && alpha <= 1)) {
                throw new IllegalArgumentException("smoothing alpha must be in (0, 1] (got " + alpha + ")");
            }
            if (!(minCutoff > 0) || !(dCutoff > 0) || beta < 0 || !(matchDistance > 0) || maxMissedFrames < 0) {
                throw new IllegalArgumentException("smoothing cut-offs and match distance must be > 0, beta and max missed >= 0");
            }
        }
    }

    /** One scalar filter; {@code ts} in seconds. */
    public interface Filter {
        double apply(double x, double ts);
    }

    public static final class Exponential implements Filter {
        private final double alpha;
        private boolean started;
        private double value;

        public Exponential(double alpha) {
            this.alpha = alpha;
        }

        @Override
        public double apply(double x, double ts) {
            value = started ? value + alpha * (x - value) : x;
            started = true;
            return value;
        }
    }

    static double smoothingFactor(double dt, double cutoff) {
        double tau = 1.0 / (2.0 * Math.PI * cutoff);
        return 1.0 / (1.0 + tau / dt);
    }

    /** One-Euro filter; frames with dt <= 0 reuse the default rate (1/30 s). */
    public static final class OneEuro implements Filter {
        private final double minCutoff;
        private final double beta;
        private final double dCutoff;
        private final double defaultDt;
        private boolean started;
        private double value;
        private double derivative;
        private double lastTs;

        public OneEuro(double minCutoff, double beta, double dCutoff) {
            this(minCutoff, beta, dCutoff, 1.0 / 30.0);
        }

        public OneEuro(double minCutoff, double beta, double dCutoff, double defaultDt) {
            this.minCutoff = minCutoff;
            this.beta = beta;
            this.dCutoff = dCutoff;
            this.defaultDt = defaultDt;
        }

        @Override
        public double apply(double x, double ts) {
            if (!started) {
                started = true;
                value = x;
                lastTs = ts;
                return x;
            }
            double dt = ts - lastTs;
            if (dt <= 0) {
                dt = defaultDt;
            }
            lastTs = ts;
            double aD = smoothingFactor(dt, dCutoff);
            derivative = aD * (x - value) / dt + (1 - aD) * derivative;
            double cutoff = minCutoff + beta * Math.abs(derivative);
            double a = smoothingFactor(dt, cutoff);
            value = a * x + (1 - a) * value;
            return value;
        }
    }

    public static Filter makeFilter(Options o) {
        switch (o.method) {
            case "ema":
                return new Exponential(o.alpha);
            case "one_euro":
                return new OneEuro(o.minCutoff, o.beta, o.dCutoff);
            default:
                return (x, ts) -> x;
        }
    }

    /** What the smoother adds to one face of one frame. */
    public static final class Smoothed {
        public final int trackId;
        public final Map<String, Double> aus;

        Smoothed(int trackId, Map<String, Double> aus) {
            this.trackId = trackId;
            this.aus = aus;
        }
    }

    /** A face as the smoother needs it: box (x, y, w, h) and raw AU values. */
    public static final class Face {
        public final double[] box;
        public final Map<String, Double> aus;

        public Face(double[] box, Map<String, Double> aus) {
            this.box = box;
            this.aus = aus;
        }
    }

    private static final class Track {
        final int id;
        double[] box;
        final Map<String, Filter> filters = new HashMap<>();
        int missed;

        Track(int id, double[] box) {
            this.id = id;
            this.box = box;
        }
    }

    /** Face tracks and their AU filters; call {@link #update} once per frame, in order. */
    public static final class FaceSmoother {
        private final Options options;
        private List<Track> tracks = new ArrayList<>();
        private int nextId = 1;

        public FaceSmoother(Options options) {
            options.validate();
            this.options = options;
        }

        public int trackCount() {
            return tracks.size();
        }

        public void reset() {
            tracks.clear();
        }

        private Map<Integer, Track> match(List<Face> faces) {
            List<double[]> pairs = new ArrayList<>(); // {distance, track index, face index}
            for (int ti = 0; ti < tracks.size(); ti++) {
                double[] tb = tracks.get(ti).box;
                double tx = tb[0] + tb[2] / 2.0;
                double ty = tb[1] + tb[3] / 2.0;
                double gate = options.matchDistance * Math.max(Math.max(tb[2], tb[3]), 1.0);
                for (int fi = 0; fi < faces.size(); fi++) {
                    double[] fb = faces.get(fi).box;
                    double distance = Math.hypot(fb[0] + fb[2] / 2.0 - tx, fb[1] + fb[3] / 2.0 - ty);
                    if (distance <= gate) {
                        pairs.add(new double[] {distance, ti, fi});
                    }
                }
            }
            pairs.sort((p, q) -> {
                for (int i = 0; i < 3; i++) {
                    int c = Double.compare(p[i], q[i]);
                    if (c != 0) {
                        return c;
                    }
                }
                return 0;
            });
            Map<Integer, Track> matched = new HashMap<>();
            Set<Integer> usedTracks = new HashSet<>();
            for (double[] p : pairs) {
                int ti = (int) p[1];
                int fi = (int) p[2];
                if (usedTracks.contains(ti) || matched.containsKey(fi)) {
                    continue;
                }
                matched.put(fi, tracks.get(ti));
                usedTracks.add(ti);
            }
            return matched;
        }

        /** Smoothed AUs for {@code faces} (same order) at time {@code ts} (seconds). */
        public List<Smoothed> update(List<Face> faces, double ts) {
            Map<Integer, Track> matched = match(faces);
            List<Track> survivors = new ArrayList<>();
            for (Track track : tracks) {
                if (matched.containsValue(track)) {
                    track.missed = 0;
                    survivors.add(track);
                } else if (++track.missed <= options.maxMissedFrames) {
                    survivors.add(track);
                }
            }
            tracks = survivors;
            List<Smoothed> results = new ArrayList<>();
            for (int fi = 0; fi < faces.size(); fi++) {
                Face face = faces.get(fi);
                Track track = matched.get(fi);
                if (track == null) {
                    track = new Track(nextId++, face.box);
                    tracks.add(track);
                }
                track.box = face.box;
                Map<String, Double> smoothed = new LinkedHashMap<>();
                for (Map.Entry<String, Double> e : face.aus.entrySet()) {
                    Filter filter = track.filters.get(e.getKey());
                    if (filter == null) {
                        filter = makeFilter(options);
                        track.filters.put(e.getKey(), filter);
                    }
                    smoothed.put(e.getKey(), filter.apply(e.getValue(), ts));
                }
                results.add(new Smoothed(track.id, smoothed));
            }
            return results;
        }
    }
}
