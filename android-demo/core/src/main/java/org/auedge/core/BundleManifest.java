package org.auedge.core;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

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

    // --- parsing ----------------------------------------------------------------------------------

    private static Object require(Map<String, Object> data, String key, String where) throws BundleException {
        if (!data.containsKey(key)) {
            throw new BundleException(where + " lacks the key '" + key + "'; re-export the bundle with convert/export.py");
        }
        return data.get(key);
    }

    private static boolean isKnown(String value, String... allowed) {
        for (String a : allowed) {
            if (a.equals(value)) {
                return true;
            }
        }
        return false;
    }

    /** Parse bundle.json text; {@code where} names it in error messages. Files are not checked here. */
    public static BundleManifest parse(String jsonText, String where) throws BundleException {
        try {
            return parseChecked(jsonText, where);
        } catch (IllegalArgumentException e) {
            throw new BundleException(where + ": " + e.getMessage() + "; re-export the bundle", e);
        }
    }

    private static BundleManifest parseChecked(String jsonText, String where) throws BundleException {
        Map<String, Object> data = Json.asObject(Json.parse(jsonText), where);
        Object version = require(data, "schema_version", where);
        if (!(version instanceof Double) || (Double) version != SCHEMA_VERSION) {
            throw new BundleException(where + " has schema version " + version + ", this app reads " + SCHEMA_VERSION
                    + "; update the app or re-export the bundle");
        }
        Map<String, Object> task = Json.asObject(require(data, "task", where), where + " task");
        String kind = Json.asString(require(task, "kind", where + " task"), where + " task.kind");
        if (!isKnown(kind, "occurrence", "intensity")) {
            throw new BundleException(where + ": task kind '" + kind + "' is not occurrence or intensity");
        }
        List<OutputSpec> outputs = new ArrayList<>();
        List<Object> outList = Json.asArray(require(data, "outputs", where), where + " outputs");
        for (int i = 0; i < outList.size(); i++) {
            String w = where + " outputs[" + i + "]";
            Map<String, Object> out = Json.asObject(outList.get(i), w);
            String outKind = out.containsKey("kind") ? Json.asString(out.get("kind"), w + ".kind") : kind;
            double[] range = out.containsKey("range") ? Json.asNumbers(out.get("range"), w + ".range")
                    : new double[] {0.0, "occurrence".equals(outKind) ? 1.0 : 5.0};
            if (range.length != 2) {
                throw new BundleException(w + ": range must hold two numbers");
            }
            Object thr = out.get("threshold");
            outputs.add(new OutputSpec(
                    Json.asString(require(out, "au", w), w + ".au"),
                    out.containsKey("index") ? (int) Json.asNumber(out.get("index"), w + ".index") : i,
                    outKind, (float) range[0], (float) range[1],
                    thr == null ? Float.NaN : (float) Json.asNumber(thr, w + ".threshold")));
        }
        if (outputs.isEmpty()) {
            throw new BundleException(where + " lists no outputs");
        }
        Map<String, Object> input = Json.asObject(require(data, "input", where), where + " input");
        double[] size = Json.asNumbers(require(input, "size", where + " input"), where + " input.size");
        Normalization norm = Normalization.fromJson(
                Json.asObject(require(input, "normalization", where + " input"), where + " input.normalization"));
        CropParams crop = CropParams.fromJson(Json.asObject(require(data, "crop", where), where + " crop"));
        if (size.length != 2 || (int) size[0] != crop.size || size[0] != size[1]) {
            throw new BundleException(where + ": crop size " + crop.size + " does not match the input size");
        }

        List<ModelEntry> models = new ArrayList<>();
        List<Object> modelList = Json.asArray(require(data, "models", where), where + " models");
        for (int i = 0; i < modelList.size(); i++) {
            String w = where + " models[" + i + "]";
            Map<String, Object> entry = Json.asObject(modelList.get(i), w);
            String format = Json.asString(require(entry, "format", w), w + ".format");
            String precision = Json.asString(require(entry, "precision", w), w + ".precision");
            if (!isKnown(format, "tflite", "onnx") || !isKnown(precision, "fp32", "fp16", "dynamic", "int8")) {
                throw new BundleException(w + ": format '" + format + "' / precision '" + precision + "' is not known");
            }
            Object quantObj = entry.get("quantization");
            Map<String, Object> quant = quantObj == null ? Collections.<String, Object>emptyMap()
                    : Json.asObject(quantObj, w + ".quantization");
            models.add(new ModelEntry(
                    Json.asString(require(entry, "name", w), w + ".name"), format, precision,
                    Json.asString(require(entry, "file", w), w + ".file"),
                    Json.asString(require(entry, "sha256", w), w + ".sha256"),
                    entry.containsKey("size_bytes") ? (long) Json.asNumber(entry.get("size_bytes"), w + ".size_bytes") : 0L,
                    QuantParams.fromJson(quant.get("input"), w + ".quantization.input"),
                    QuantParams.fromJson(quant.get("output"), w + ".quantization.output"),
                    Boolean.TRUE.equals(entry.get("degraded"))));
        }
        if (models.isEmpty()) {
            throw new BundleException(where + " lists no models");
        }
        Object def = data.get("default_model");
        String defaultModel = def == null ? models.get(0).name : Json.asString(def, where + " default_model");
        boolean found = false;
        for (ModelEntry m : models) {
            found |= m.name.equals(defaultModel);
        }
        if (!found) {
            throw new BundleException(where + ": default_model '" + defaultModel + "' is not among its models");
        }

        DetectorEntry detector = null;
        Object detObj = data.get("face_detector");
        if (detObj != null) {
            String w = where + " face_detector";
            Map<String, Object> det = Json.asObject(detObj, w);
            double[] detSize = det.containsKey("input_size") ? Json.asNumbers(det.get("input_size"), w + ".input_size")
                    : new double[] {128, 128};
            detector = new DetectorEntry(
                    Json.asString(require(det, "file", w), w + ".file"),
                    Json.asString(require(det, "sha256", w), w + ".sha256"),
                    det.containsKey("kind") ? Json.asString(det.get("kind"), w + ".kind") : "blazeface-short-range",
                    (int) detSize[0], (int) detSize[1],
                    det.containsKey("score_threshold") ? (float) Json.asNumber(det.get("score_threshold"), w) : 0.5f,
                    det.containsKey("nms_iou") ? (float) Json.asNumber(det.get("nms_iou"), w) : 0.3f);
        }
        boolean flipAverage = false;
        Object inferenceObj = data.get("inference");
        if (inferenceObj != null) {
            Object flip = Json.asObject(inferenceObj, where + " inference").get("flip_average");
            if (flip != null && !(flip instanceof Boolean)) {
                throw new BundleException(where + ": inference.flip_average must be true or false");
            }
            flipAverage = Boolean.TRUE.equals(flip);
        }
        Object nameObj = data.get("name");
        return new BundleManifest(nameObj instanceof String ? (String) nameObj : "",
                task.get("name") instanceof String ? (String) task.get("name") : "", kind, outputs,
                (int) size[0], (int) size[1], norm, crop, models, defaultModel, detector, flipAverage);
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
