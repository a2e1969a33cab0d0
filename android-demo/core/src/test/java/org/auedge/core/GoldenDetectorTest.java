package org.auedge.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * BlazeFace on the phone = edge/face_detector.py: letterbox geometry exact, canvas within one grey
 * level on average, [-1, 1] tensor bit-identical from the same canvas, and the same boxes and
 * keypoints (within 1 px) decoded from the model's raw outputs.
 */
public class GoldenDetectorTest {
    static final double BOX_TOLERANCE_PX = 1.0;
    static final double CANVAS_MEAN_TOLERANCE = 1.0;
    static final double CANVAS_MAX_TOLERANCE = 2.0;
    static final double CHANNEL_MEAN_TOLERANCE = 0.5;

    private static BlazeFaceDecoder decoder() throws Exception {
        Map<String, Object> det = Golden.obj(Golden.index().get("detector"));
        return new BlazeFaceDecoder(BlazeFaceDecoder.specForKind(Golden.str(det, "kind")),
                (float) Golden.num(det, "score_threshold"), (float) Golden.num(det, "nms_iou"),
                (int) Golden.num(det, "max_faces"));
    }

    @Test
    public void anchorsMatchTheModelLayout() throws Exception {
        Map<String, Object> det = Golden.obj(Golden.index().get("detector"));
        float[] anchors = BlazeFaceDecoder.generateAnchors(BlazeFaceDecoder.SHORT_RANGE);
        assertEquals((int) Golden.num(det, "num_anchors"), anchors.length / 2);
        assertEquals(896, anchors.length / 2);
        // First stride-8 cell holds two anchors at (0.5/16, 0.5/16); the stride-16 grid starts at 512.
        assertEquals(0.03125f, anchors[0], 0f);
        assertEquals(0.03125f, anchors[2], 0f);
        assertEquals(0.0625f, anchors[2 * 512], 0f);
        assertEquals(2304, BlazeFaceDecoder.generateAnchors(BlazeFaceDecoder.FULL_RANGE).length / 2);
    }

    @Test
    public void decodesTheSameFacesAsPython() throws Exception {
        BlazeFaceDecoder decoder = decoder();
        Letterbox letterbox = new Letterbox(decoder.spec().inputSize);
        double maxBox = 0;
        double maxKeypoint = 0;
        int faces = 0;
        for (Object o : Golden.list("faces")) {
            Map<String, Object> face = Golden.obj(o);
            String id = Golden.str(face, "id");
            Map<String, Object> det = Golden.obj(face.get("detector"));
            float[] logits = Golden.floats(Golden.str(det, "logits"));
            float[] selectedRows = Golden.floats(Golden.str(det, "raw_selected"));
            double[] selected = Json.asNumbers(det.get("selected"), "selected");
            int[] mine = decoder.select(logits);
            assertEquals(id + ": anchors above the score threshold", selected.length, mine.length);
            float[] regressors = new float[decoder.numAnchors() * BlazeFaceDecoder.NUM_COORDS];
            for (int i = 0; i < mine.length; i++) {
                assertEquals(id + ": selected anchor", (int) selected[i], mine[i]);
                System.arraycopy(selectedRows, i * 16, regressors, mine[i] * 16, 16);
            }
            Map<String, Object> lb = Golden.obj(face.get("letterbox"));
            Letterbox.Geometry g = letterbox.geometry((int) Golden.num(face, "width"), (int) Golden.num(face, "height"));
            List<Detection> found = decoder.detect(regressors, logits, g);
            List<Object> expected = Json.asArray(face.get("detections"), "detections");
            assertEquals(id + ": number of faces", expected.size(), found.size());
            for (int k = 0; k < found.size(); k++) {
                Map<String, Object> e = Golden.obj(expected.get(k));
                double[] box = Json.asNumbers(e.get("box"), "box");
                Detection d = found.get(k);
                double[] mineBox = {d.x, d.y, d.width, d.height};
                for (int j = 0; j < 4; j++) {
                    maxBox = Math.max(maxBox, Math.abs(box[j] - mineBox[j]));
                }
                double[] kps = Json.asNumbers(e.get("keypoints"), "keypoints");
                for (int j = 0; j < kps.length; j++) {
                    maxKeypoint = Math.max(maxKeypoint, Math.abs(kps[j] - d.keypoints[j]));
                }
                assertEquals(id + ": score", Golden.num(e, "score"), d.score, 1e-6);
            }
            faces++;
        }
        Golden.report("detector faces", faces);
        Golden.report("max box difference (px)", maxBox);
        Golden.report("max keypoint difference (px)", maxKeypoint);
        assertTrue("at least 20 golden faces", faces >= 20);
        assertTrue("box difference " + maxBox + " px", maxBox <= BOX_TOLERANCE_PX);
        assertTrue("keypoint difference " + maxKeypoint + " px", maxKeypoint <= BOX_TOLERANCE_PX);
    }

    @Test
    public void letterboxMatchesPython() throws Exception {
        Letterbox letterbox = new Letterbox(128);
        double worstMean = 0;
        double worstMax = 0;
        double worstChannel = 0;
        int canvases = 0;
        for (Object o : Golden.list("faces")) {
            Map<String, Object> face = Golden.obj(o);
            String id = Golden.str(face, "id");
            Map<String, Object> lb = Golden.obj(face.get("letterbox"));
            RgbImage frame = Golden.enlarge(Golden.png(Golden.str(face, "frame")), (int) Golden.num(face, "upscale"));
            Letterbox.Geometry g = letterbox.geometry(frame.width, frame.height);
            assertArrayEquals(id + ": letterbox geometry",
                    new int[] {(int) Golden.num(lb, "new_w"), (int) Golden.num(lb, "new_h"),
                            (int) Golden.num(lb, "pad_x"), (int) Golden.num(lb, "pad_y")},
                    new int[] {g.newWidth, g.newHeight, g.padX, g.padY});
            RgbImage canvas = letterbox.canvas(frame, g);
            double[] means = new double[3];
            for (int i = 0; i < canvas.pixels.length; i++) {
                means[i % 3] += canvas.pixels[i] & 0xFF;
            }
            double[] expectedMeans = Json.asNumbers(lb.get("channel_mean"), "channel_mean");
            for (int c = 0; c < 3; c++) {
                worstChannel = Math.max(worstChannel, Math.abs(means[c] / (128 * 128) - expectedMeans[c]));
            }
            Object canvasFile = lb.get("canvas");
            if (canvasFile != null) {
                RgbImage expected = Golden.png((String) canvasFile);
                double[] d = Golden.diff(canvas, expected);
                worstMean = Math.max(worstMean, d[0]);
                worstMax = Math.max(worstMax, d[1]);
                // From the same canvas the [-1, 1] tensor is bit-identical to the Python one.
                float[] tensor = new float[128 * 128 * 3];
                Letterbox.toTensor(expected, tensor);
                java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(tensor.length * 4)
                        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(tensor);
                assertEquals(id + ": detector input tensor sha256", Golden.str(lb, "tensor_sha256"),
                        Sha256.of(bytes.array()));
                canvases++;
            }
        }
        Golden.report("letterbox canvases compared", canvases);
        Golden.report("worst canvas mean abs difference (levels)", worstMean);
        Golden.report("worst canvas max abs difference (levels)", worstMax);
        Golden.report("worst canvas channel-mean difference (levels)", worstChannel);
        assertTrue("canvases compared", canvases >= 8);
        assertTrue("canvas mean difference " + worstMean, worstMean <= CANVAS_MEAN_TOLERANCE);
        assertTrue("canvas max difference " + worstMax, worstMax <= CANVAS_MAX_TOLERANCE);
        assertTrue("canvas channel mean difference " + worstChannel, worstChannel <= CHANNEL_MEAN_TOLERANCE);
    }

    @Test
    public void weightedNmsBlendsAClusterAndKeepsTheBestScore() {
        float[] kps = new float[12];
        BlazeFaceDecoder.Candidate a = new BlazeFaceDecoder(BlazeFaceDecoder.SHORT_RANGE, 0.5f, 0.3f, 10)
                .decode(new float[16], 0, 0, 0.9f);
        List<BlazeFaceDecoder.Candidate> kept = BlazeFaceDecoder.weightedNms(List.of(
                candidate(0f, 0f, 1f, 1f, 0.6f, kps), candidate(0.1f, 0f, 1.1f, 1f, 0.2f, kps),
                candidate(5f, 5f, 6f, 6f, 0.7f, kps)), 0.3f, 10);
        assertEquals(2, kept.size());
        assertEquals(0.7f, kept.get(0).score, 0f);
        assertEquals(0.6f, kept.get(1).score, 0f);
        assertEquals(0.025f, kept.get(1).box[0], 1e-6f); // 0.75 * 0 + 0.25 * 0.1
        assertEquals(0.9f, a.score, 0f);
    }

    private static BlazeFaceDecoder.Candidate candidate(float x0, float y0, float x1, float y1, float s, float[] k) {
        BlazeFaceDecoder d = new BlazeFaceDecoder(BlazeFaceDecoder.SHORT_RANGE, 0.5f, 0.3f, 10);
        float[] raw = new float[16];
        // Anchor 0 sits at (1/32, 1/32); regress the centre and size to the wanted box.
        raw[0] = ((x0 + x1) / 2 - 0.03125f) * 128;
        raw[1] = ((y0 + y1) / 2 - 0.03125f) * 128;
        raw[2] = (x1 - x0) * 128;
        raw[3] = (y1 - y0) * 128;
        return d.decode(raw, 0, 0, s);
    }
}
