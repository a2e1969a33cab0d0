package org.auedge.core;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * bundle.json (schema 1) read the way edge/bundle.py reads it, for a phone.
 *
 * <p>Files are opened through a {@link FileOpener} because on Android the bundle lives in the APK's
 * assets (AssetManager streams), here in a folder. {@link #verify} checks each named file's sha256,
 * so a truncated copy or a tampered model is refused before an interpreter touches it.
 */
public final class BundleManifest {
    public static final int SCHEMA_VERSION = 1;
    public static final String MANIFEST_NAME = "bundle.json";

    /** Opens a file named relative to the bundle root. */
    public interface FileOpener {
        InputStream open(String relativePath) throws IOException;
    }

    /** One AU output: which model output index, its kind, value range and (occurrence) threshold. */
    public static final class OutputSpec {
        public final String au;
        public final int index;
        public final String kind;
        public final float low;
        public final float high;
        /** NaN when the bundle gives none (then 0.5 is used, as the Python estimator does). */
        public final float threshold;

        OutputSpec(String au, int index, String kind, float low, float high, float threshold) {
            this.au = au;
            this.index = index;
            this.kind = kind;
            this.low = low;
            this.high = high;
            this.threshold = threshold;
        }
    }

    /** One model file of the bundle. */
    public static final class ModelEntry {
        public final String name;
        public final String format;
        public final String precision;
        public final String file;
        public final String sha256;
        public final long sizeBytes;
        /** null for a float input / output. */
        public final QuantParams inputQuant;
        public final QuantParams outputQuant;
        public final boolean degraded;

        ModelEntry(String name, String format, String precision, String file, String sha256, long sizeBytes,
                   QuantParams inputQuant, QuantParams outputQuant, boolean degraded) {
            this.name = name;
            this.format = format;
            this.precision = precision;
            this.file = file;
            this.sha256 = sha256;
            this.sizeBytes = sizeBytes;
            this.inputQuant = inputQuant;
            this.outputQuant = outputQuant;
            this.degraded = degraded;
        }
    }

    /** The bundled BlazeFace model and its settings. */
    public static final class DetectorEntry {
        public final String file;
        public final String sha256;
        public final String kind;
        public final int inputHeight;
        public final int inputWidth;
        public final float scoreThreshold;
        public final float nmsIou;

        DetectorEntry(String file, String sha256, String kind, int inputHeight, int inputWidth,
                      float scoreThreshold, float nmsIou) {
            this.file = file;
            this.sha256 = sha256;
            this.kind = kind;
            this.inputHeight = inputHeight;
            this.inputWidth = inputWidth;
            this.scoreThreshold = scoreThreshold;
            this.nmsIou = nmsIou;
        }
    }

    public final String name;
    public final String taskName;
    public final String taskKind;
    public final List<OutputSpec> outputs;
    public final int inputHeight;
    public final int inputWidth;
    public final Normalization normalization;
    public final CropParams crop;
    public final List<ModelEntry> models;
    public final String defaultModel;
    /** null when the bundle has no face detector. */
    public final DetectorEntry faceDetector;
    /**
     * bundle.json {@code inference.flip_average}: the model was validated (and its threshold chosen)
     * on the mean of the crop's and its mirror's outputs, so a device must average the same way.
     */
    public final boolean flipAverage;

    private BundleManifest(String name, String taskName, String taskKind, List<OutputSpec> outputs, int inputHeight,
                           int inputWidth, Normalization normalization, CropParams crop, List<ModelEntry> models,
                           String defaultModel, DetectorEntry faceDetector, boolean flipAverage) {
        this.name = name;
        this.taskName = taskName;
        this.taskKind = taskKind;
        this.outputs = Collections.unmodifiableList(outputs);
        this.inputHeight = inputHeight;
        this.inputWidth = inputWidth;
        this.normalization = normalization;
        this.crop = crop;
        this.models = Collections.unmodifiableList(models);
        this.defaultModel = defaultModel;
        this.faceDetector = faceDetector;
        this.flipAverage = flipAverage;
    }

    /** The model called {@code wanted}, or the bundle's default when {@code wanted} is null. */
    public ModelEntry model(String wanted) throws BundleException {
        String target = wanted == null ? defaultModel : wanted;
        StringBuilder names = new StringBuilder();
        for (ModelEntry entry : models) {
            if (entry.name.equals(target)) {
                return entry;
            }
            names.append(names.length() == 0 ? "" : ", ").append(entry.name);
        }
        throw new BundleException("bundle " + name + " has no model '" + target + "'; it has " + names);
    }

    /** An AU's output spec, or null when the bundle does not estimate it. */
    public OutputSpec output(String au) {
        for (OutputSpec spec : outputs) {
            if (spec.au.equals(au)) {
                return spec;
            }
        }
        return null;
    }

    // --- parsing: edge/bundle.py parse_manifest and its _parse_* helpers, with the same messages --------

    private static final String FIX = "re-export the bundle with convert/export.py";
    private static final String[] TASK_KINDS = {"occurrence", "intensity"};
    private static final String[] FORMATS = {"tflite", "onnx"};
    private static final String[] PRECISIONS = {"fp32", "fp16", "dynamic", "int8"};
    /** What the app feeds the AU model: one RGB crop, channels last. */
    private static final String LAYOUT = "NHWC";
    private static final int CHANNELS = 3;
    /** JSON numbers are doubles here: integers above 2^53 are not exact. */
    private static final double MAX_EXACT = 9007199254740992.0;

    private static BundleException bad(String where, String key, String expected, Object value) {
        return new BundleException(where + ": " + key + " must be " + expected + ", got " + Json.show(value) + "; " + FIX);
    }

    private static Object require(Map<String, Object> data, String key, String where, String parent)
            throws BundleException {
        if (!data.containsKey(key)) {
            throw new BundleException(where + ": " + (parent.isEmpty() ? key : parent + "." + key) + " is missing; " + FIX);
        }
        return data.get(key);
    }

    private static boolean isKnown(Object value, String... allowed) {
        for (String a : allowed) {
            if (a.equals(value)) {
                return true;
            }
        }
        return false;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> table(Object value, String where, String key) throws BundleException {
        if (!(value instanceof Map)) {
            throw bad(where, key, "a JSON object", value);
        }
        return (Map<String, Object>) value;
    }

    /** A non-empty list of JSON objects ({@code outputs}, {@code models}). */
    private static List<Map<String, Object>> entries(Object value, String where, String key) throws BundleException {
        if (!(value instanceof List) || ((List<?>) value).isEmpty()) {
            throw bad(where, key, "a non-empty list of objects", value);
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object item : (List<?>) value) {
            out.add(table(item, where, key + "[" + out.size() + "]"));
        }
        return out;
    }

    private static String text(Object value, String where, String key) throws BundleException {
        if (!(value instanceof String) || ((String) value).isEmpty()) {
            throw bad(where, key, "a non-empty string", value);
        }
        return (String) value;
    }

    private static double number(Object value, String where, String key) throws BundleException {
        if (!(value instanceof Double) || !Double.isFinite((Double) value)) {
            throw bad(where, key, "a number", value);
        }
        return (Double) value;
    }

    /**
     * A whole number in [minimum, maximum], checked before any cast (which would turn 0.9 into 0).
     * JSON numbers all read as doubles here, so 3.0 passes as 3 where Python wants the literal 3.
     */
    private static long whole(Object value, String where, String key, long minimum, double maximum)
            throws BundleException {
        double d = value instanceof Double ? (Double) value : Double.NaN;
        if (!(d == Math.rint(d) && d >= minimum && d <= maximum)) {
            throw bad(where, key, "an integer >= " + minimum, value);
        }
        return (long) d;
    }

    private static int integer(Object value, String where, String key, int minimum) throws BundleException {
        return (int) whole(value, where, key, minimum, Integer.MAX_VALUE);
    }

    private static boolean flag(Object value, String where, String key) throws BundleException {
        if (!(value instanceof Boolean)) {
            throw bad(where, key, "true or false", value);
        }
        return (Boolean) value;
    }

    private static List<?> pair(Object value, String where, String key, String expected) throws BundleException {
        if (!(value instanceof List) || ((List<?>) value).size() != 2) {
            throw bad(where, key, expected, value);
        }
        return (List<?>) value;
    }

    /** {@code reader}'s IllegalArgumentException (a core fromJson) as a BundleException at {@code key}. */
    private static <T> T read(Supplier<T> reader, String where, String key) throws BundleException {
        try {
            return reader.get();
        } catch (IllegalArgumentException e) {
            throw new BundleException(where + ": " + key + ": " + e.getMessage() + "; " + FIX, e);
        }
    }

    /** Parse bundle.json text; {@code where} names it in error messages. Files are not checked here. */
    public static BundleManifest parse(String jsonText, String where) throws BundleException {
        Object data;
        try {
            data = Json.parse(jsonText);
        } catch (IllegalArgumentException e) {
            throw new BundleException(where + " is not valid JSON (" + e.getMessage() + "); re-export the bundle", e);
        }
        return fromJson(data, where);
    }

    /**
     * Check parsed bundle.json against schema 1. Every malformation is a BundleException naming the
     * key and what is expected, never an exception from deeper down: bundles get edited by hand.
     */
    static BundleManifest fromJson(Object data, String where) throws BundleException {
        if (!(data instanceof Map)) {
            throw new BundleException(where + " does not hold a JSON object; re-export the bundle");
        }
        try {
            return parseChecked(table(data, where, ""), where);
        } catch (IllegalArgumentException e) {
            // From a core reader (Json, CropParams), whose message names the key.
            throw new BundleException(where + ": " + e.getMessage() + "; " + FIX, e);
        } catch (RuntimeException e) {
            // Every key is checked before use, so this is a shape no check foresaw: still one message.
            throw new BundleException(where + " is malformed (" + e + "); " + FIX, e);
        }
    }

    private static BundleManifest parseChecked(Map<String, Object> data, String where) throws BundleException {
        Object version = require(data, "schema_version", where, "");
        if (!Double.valueOf(SCHEMA_VERSION).equals(version)) {
            throw new BundleException(where + " has schema version " + Json.show(version) + ", this app reads "
                    + SCHEMA_VERSION + "; update the app or re-export the bundle");
        }
        Map<String, Object> task = table(require(data, "task", where, ""), where, "task");
        Object kind = require(task, "kind", where, "task");
        if (!isKnown(kind, TASK_KINDS)) {
            throw bad(where, "task.kind", "one of occurrence, intensity", kind);
        }
        Object taskName = task.containsKey("name") ? task.get("name") : "";
        if (!(taskName instanceof String)) {
            throw bad(where, "task.name", "a string", taskName);
        }
        List<OutputSpec> outputs = parseOutputs(data, (String) kind, where);
        Map<String, Object> input = table(require(data, "input", where, ""), where, "input");
        int[] size = parseInputSize(input, where);
        Map<String, Object> normData = table(require(input, "normalization", where, "input"), where, "input.normalization");
        Normalization norm = read(() -> Normalization.fromJson(normData), where, "input.normalization");
        Map<String, Object> cropData = table(require(data, "crop", where, ""), where, "crop");
        CropParams crop = read(() -> CropParams.fromJson(cropData), where, "crop");
        if (crop.size != size[0] || size[0] != size[1]) {
            throw new BundleException(where + ": crop size " + crop.size + " does not match input size ["
                    + size[0] + ", " + size[1] + "]");
        }
        List<ModelEntry> models = parseModels(data, where);
        Object nameObj = data.get("name");
        return new BundleManifest(nameObj instanceof String ? (String) nameObj : "", (String) taskName, (String) kind,
                outputs, size[0], size[1], norm, crop, models, defaultModel(data.get("default_model"), models, where),
                data.get("face_detector") == null ? null : parseDetector(data.get("face_detector"), where),
                parseFlipAverage(data, where));
    }

    private static OutputSpec parseOutput(Map<String, Object> out, int i, String taskKind, String where)
            throws BundleException {
        String key = "outputs[" + i + "]";
        Object kind = out.containsKey("kind") ? out.get("kind") : taskKind;
        if (!isKnown(kind, TASK_KINDS)) {
            throw bad(where, key + ".kind", "one of occurrence, intensity", kind);
        }
        List<?> range = out.containsKey("range") ? pair(out.get("range"), where, key + ".range", "[lo, hi]")
                : List.of(0.0, "occurrence".equals(kind) ? 1.0 : 5.0);
        double lo = number(range.get(0), where, key + ".range");
        double hi = number(range.get(1), where, key + ".range");
        if (!(lo < hi)) {
            throw bad(where, key + ".range", "[lo, hi] with lo < hi", range);
        }
        Object threshold = out.get("threshold");
        return new OutputSpec(
                text(require(out, "au", where, key), where, key + ".au"),
                integer(out.containsKey("index") ? out.get("index") : (Object) (double) i, where, key + ".index", 0),
                (String) kind, (float) lo, (float) hi,
                threshold == null ? Float.NaN : (float) number(threshold, where, key + ".threshold"));
    }

    private static List<OutputSpec> parseOutputs(Map<String, Object> data, String taskKind, String where)
            throws BundleException {
        List<Map<String, Object>> entries = entries(require(data, "outputs", where, ""), where, "outputs");
        List<OutputSpec> outputs = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        Set<String> duplicates = new TreeSet<>();
        for (int i = 0; i < entries.size(); i++) {
            OutputSpec spec = parseOutput(entries.get(i), i, taskKind, where);
            if (!seen.add(spec.au)) {
                duplicates.add(spec.au);
            }
            outputs.add(spec);
        }
        if (!duplicates.isEmpty()) {
            // Readings are keyed by AU name: a second entry would silently replace the first.
            throw new BundleException(where + ": outputs name " + String.join(", ", duplicates) + " more than once; " + FIX);
        }
        return outputs;
    }

    /** input.size as {H, W}; input.layout and input.channels, when given, must be what the app feeds. */
    private static int[] parseInputSize(Map<String, Object> input, String where) throws BundleException {
        List<?> size = pair(require(input, "size", where, "input"), where, "input.size", "[H, W]");
        int[] hw = {integer(size.get(0), where, "input.size", 1), integer(size.get(1), where, "input.size", 1)};
        Object layout = input.containsKey("layout") ? input.get("layout") : LAYOUT;
        if (!LAYOUT.equals(layout)) {
            throw bad(where, "input.layout", "'" + LAYOUT + "' (the only layout au-edge feeds)", layout);
        }
        Object channels = input.containsKey("channels") ? input.get("channels") : (Object) (double) CHANNELS;
        if (!Double.valueOf(CHANNELS).equals(channels)) {
            throw bad(where, "input.channels", CHANNELS + " (RGB)", channels);
        }
        return hw;
    }

    private static ModelEntry parseModel(Map<String, Object> entry, int i, String where) throws BundleException {
        String key = "models[" + i + "]";
        Object format = require(entry, "format", where, key);
        Object precision = require(entry, "precision", where, key);
        if (!isKnown(format, FORMATS) || !isKnown(precision, PRECISIONS)) {
            throw new BundleException(where + ": " + key + ": format " + Json.show(format) + " / precision "
                    + Json.show(precision) + " is not known to this app (formats " + String.join(", ", FORMATS)
                    + "; precisions " + String.join(", ", PRECISIONS) + ")");
        }
        Object quantObj = entry.get("quantization");
        Map<String, Object> quant = quantObj == null ? Collections.<String, Object>emptyMap()
                : table(quantObj, where, key + ".quantization");
        String file = text(require(entry, "file", where, key), where, key + ".file");
        String sha256 = text(require(entry, "sha256", where, key), where, key + ".sha256");
        String name = text(require(entry, "name", where, key), where, key + ".name");
        long sizeBytes = whole(entry.containsKey("size_bytes") ? entry.get("size_bytes") : (Object) 0.0,
                where, key + ".size_bytes", 0, MAX_EXACT);
        QuantParams inputQuant = read(() -> QuantParams.fromJson(quant.get("input"), "quantization"),
                where, key + ".quantization.input");
        QuantParams outputQuant = read(() -> QuantParams.fromJson(quant.get("output"), "quantization"),
                where, key + ".quantization.output");
        boolean degraded = entry.containsKey("degraded") && flag(entry.get("degraded"), where, key + ".degraded");
        return new ModelEntry(name, (String) format, (String) precision, file, sha256, sizeBytes,
                inputQuant, outputQuant, degraded);
    }

    private static List<ModelEntry> parseModels(Map<String, Object> data, String where) throws BundleException {
        List<Map<String, Object>> entries = entries(require(data, "models", where, ""), where, "models");
        List<ModelEntry> models = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            models.add(parseModel(entries.get(i), i, where));
        }
        if (new HashSet<>(modelNames(models)).size() != models.size()) {
            throw new BundleException(where + ": models has two entries with the same name ("
                    + String.join(", ", modelNames(models)) + "); " + FIX);
        }
        return models;
    }

    private static List<String> modelNames(List<ModelEntry> models) {
        List<String> names = new ArrayList<>();
        for (ModelEntry m : models) {
            names.add(m.name);
        }
        return names;
    }

    /** default_model, or the first model when it is absent or empty (as Python's {@code or}). */
    private static String defaultModel(Object value, List<ModelEntry> models, String where) throws BundleException {
        if (value == null || "".equals(value)) {
            return models.get(0).name;
        }
        if (!modelNames(models).contains(value)) {
            throw bad(where, "default_model", "one of its models (" + String.join(", ", modelNames(models)) + ")", value);
        }
        return (String) value;
    }

    private static DetectorEntry parseDetector(Object value, String where) throws BundleException {
        Map<String, Object> det = table(value, where, "face_detector");
        String file = text(require(det, "file", where, "face_detector"), where, "face_detector.file");
        String sha256 = text(require(det, "sha256", where, "face_detector"), where, "face_detector.sha256");
        List<?> size = det.containsKey("input_size")
                ? pair(det.get("input_size"), where, "face_detector.input_size", "[H, W]") : List.of(128.0, 128.0);
        String kind = text(det.containsKey("kind") ? det.get("kind") : "blazeface-short-range", where, "face_detector.kind");
        return new DetectorEntry(file, sha256, kind,
                integer(size.get(0), where, "face_detector.input_size", 1),
                integer(size.get(1), where, "face_detector.input_size", 1),
                (float) number(det.containsKey("score_threshold") ? det.get("score_threshold") : (Object) 0.5,
                        where, "face_detector.score_threshold"),
                (float) number(det.containsKey("nms_iou") ? det.get("nms_iou") : (Object) 0.3,
                        where, "face_detector.nms_iou"));
    }

    private static boolean parseFlipAverage(Map<String, Object> data, String where) throws BundleException {
        Object value = data.get("inference");
        Map<String, Object> inference = value == null ? Collections.<String, Object>emptyMap()
                : table(value, where, "inference");
        return inference.containsKey("flip_average") && flag(inference.get("flip_average"), where, "inference.flip_average");
    }

    // --- verification -----------------------------------------------------------------------------

    /**
     * Check the sha256 of the given model (null: every model) and of the face detector.
     *
     * @param allowMissing skip files that are absent (only for tests of a manifest copied without
     *                     its models); a present file with a wrong digest is always an error.
     */
    public void verify(FileOpener opener, String modelName, boolean allowMissing) throws BundleException {
        for (ModelEntry m : models) {
            if (modelName == null || m.name.equals(modelName)) {
                verifyFile(opener, m.file, m.sha256, "model", allowMissing);
            }
        }
        if (faceDetector != null) {
            verifyFile(opener, faceDetector.file, faceDetector.sha256, "face detector", allowMissing);
        }
    }

    public static void verifyFile(FileOpener opener, String file, String expected, String what, boolean allowMissing)
            throws BundleException {
        if (file.startsWith("/") || file.contains("..") || file.contains("\\")) {
            throw new BundleException(what + " file '" + file + "' points outside the bundle");
        }
        String actual;
        try (InputStream in = opener.open(file)) {
            actual = Sha256.of(in);
        } catch (FileNotFoundException e) {
            if (allowMissing) {
                return;
            }
            throw new BundleException(what + " file " + file + " is missing; copy the whole bundle folder again", e);
        } catch (IOException e) {
            throw new BundleException(what + " file " + file + " cannot be read (" + e.getMessage() + ")", e);
        }
        if (!actual.equalsIgnoreCase(expected)) {
            throw new BundleException(what + " file " + file + " does not match its sha256 in " + MANIFEST_NAME
                    + " (truncated or modified); copy the bundle again or re-export it");
        }
    }
}
