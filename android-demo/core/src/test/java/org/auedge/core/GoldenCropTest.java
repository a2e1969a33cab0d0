package org.auedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Map;
import org.junit.Test;

/**
 * The crop on the phone = edge/align.py: same matrix (1e-9), same integer box reduction, the same
 * pixels bit for bit (both sample in the same fixed-point integer arithmetic).
 */
public class GoldenCropTest {
    static final double MEAN_TOLERANCE = 0.0;
    static final double MAX_TOLERANCE = 0.0;
    static final double MATRIX_TOLERANCE = 1e-9;

    @Test
    public void cropsMatchPython() throws Exception {
        FaceAligner aligner = new FaceAligner(Golden.bundle().crop);
        double worstMean = 0;
        double worstMax = 0;
        double worstMatrix = 0;
        int faces = 0;
        int reduced = 0;
        for (Object o : Golden.list("faces")) {
            Map<String, Object> face = Golden.obj(o);
            String id = Golden.str(face, "id");
            Map<String, Object> crop = Golden.obj(face.get("crop"));
            RgbImage frame = Golden.enlarge(Golden.png(Golden.str(face, "frame")), (int) Golden.num(face, "upscale"));
            double[] left = Json.asNumbers(crop.get("left_eye"), "left_eye");
            double[] right = Json.asNumbers(crop.get("right_eye"), "right_eye");
            FaceAligner.Aligned aligned = aligner.align(frame, left[0], left[1], right[0], right[1]);
            double[] matrix = Json.asNumbers(crop.get("matrix"), "matrix");
            worstMatrix = Math.max(worstMatrix, Golden.maxAbsDiff(matrix, aligned.matrix));
            assertEquals(id + ": box reduction factor", (int) Golden.num(crop, "reduction"), aligned.reduction);
            reduced += aligned.reduction > 1 ? 1 : 0;
            double[] d = Golden.diff(aligned.crop, Golden.png(Golden.str(crop, "file")));
            assertTrue(id + ": crop mean difference " + d[0], d[0] <= MEAN_TOLERANCE);
            worstMean = Math.max(worstMean, d[0]);
            worstMax = Math.max(worstMax, d[1]);
            faces++;
        }
        Golden.report("crop faces", faces);
        Golden.report("crops with box reduction", reduced);
        Golden.report("worst crop mean abs difference (levels)", worstMean);
        Golden.report("worst crop max abs difference (levels)", worstMax);
        Golden.report("worst matrix element difference", worstMatrix);
        assertTrue("at least 20 faces", faces >= 20);
        assertTrue("a face with box reduction", reduced >= 1);
        assertTrue("crop max difference " + worstMax, worstMax <= MAX_TOLERANCE);
        assertTrue("matrix difference " + worstMatrix, worstMatrix <= MATRIX_TOLERANCE);
    }

    /** Crop method "landmarks" (least-squares fit of eyes, nose, mouth) on the committed keypoints. */
    @Test
    public void landmarkCropsMatchPython() throws Exception {
        Map<String, Object> golden = Golden.json("landmarks.json");
        CropParams params = CropParams.fromJson(Golden.obj(golden.get("crop")));
        assertEquals("landmarks", params.method);
        FaceAligner aligner = new FaceAligner(params);
        Map<String, Map<String, Object>> faces = new java.util.HashMap<>();
        for (Object o : Golden.list("faces")) {
            faces.put(Golden.str(Golden.obj(o), "id"), Golden.obj(o));
        }
        double worstMatrix = 0;
        double worstMax = 0;
        int crops = 0;
        int differentFromEyes = 0;
        for (Object o : Json.asArray(golden.get("faces"), "faces")) {
            Map<String, Object> want = Golden.obj(o);
            String id = Golden.str(want, "id");
            Map<String, Object> face = faces.get(id);
            RgbImage frame = Golden.enlarge(Golden.png(Golden.str(face, "frame")), (int) Golden.num(face, "upscale"));
            double[] kp = Json.asNumbers(Golden.obj(Json.asArray(face.get("detections"), "detections").get(0)).get("keypoints"),
                    "keypoints");
            float[] keypoints = new float[kp.length];
            for (int i = 0; i < kp.length; i++) {
                keypoints[i] = (float) kp[i];
            }
            FaceAligner.Aligned aligned = aligner.align(frame, keypoints, null);
            double[] matrix = Json.asNumbers(want.get("matrix"), "matrix");
            double[] eyes = Json.asNumbers(Golden.obj(face.get("crop")).get("matrix"), "matrix");
            worstMatrix = Math.max(worstMatrix, Golden.maxAbsDiff(matrix, aligned.matrix));
            differentFromEyes += Golden.maxAbsDiff(eyes, aligned.matrix) > 1e-3 ? 1 : 0;
            if (want.get("file") != null) {
                double[] d = Golden.diff(aligned.crop, Golden.png(Golden.str(want, "file")));
                assertTrue(id + ": landmark crop mean difference " + d[0], d[0] <= MEAN_TOLERANCE);
                worstMax = Math.max(worstMax, d[1]);
                crops++;
            }
        }
        Golden.report("landmark crops compared", crops);
        Golden.report("worst landmark matrix element difference", worstMatrix);
        Golden.report("worst landmark crop max abs difference (levels)", worstMax);
        assertTrue("at least 10 landmark crops", crops >= 10);
        assertTrue("the landmark fit differs from the eye crop", differentFromEyes >= 20);
        assertTrue("landmark crop max difference " + worstMax, worstMax <= MAX_TOLERANCE);
        assertTrue("landmark matrix difference " + worstMatrix, worstMatrix <= MATRIX_TOLERANCE);
    }

    @Test
    public void theLandmarkFitOfAFaceShapedLikeTheTemplateIsTheEyeCrop() {
        CropParams eyes = new CropParams(160, 2.4, 0.5, "replicate");
        CropParams marks = new CropParams(160, 2.4, 0.5, "replicate", "landmarks", null);
        double angle = Math.toRadians(23);
        double scale = 47;
        double[] points = new double[8];
        for (int i = 0; i < 4; i++) {
            double tx = CropParams.LANDMARK_TEMPLATE[2 * i];
            double ty = CropParams.LANDMARK_TEMPLATE[2 * i + 1];
            points[2 * i] = 210 + scale * (Math.cos(angle) * tx - Math.sin(angle) * ty);
            points[2 * i + 1] = 130 + scale * (Math.sin(angle) * tx + Math.cos(angle) * ty);
        }
        double[] a = FaceAligner.alignmentMatrix(points, marks);
        double[] b = FaceAligner.alignmentMatrix(points, eyes);
        for (int i = 0; i < 6; i++) {
            assertEquals("element " + i, b[i], a[i], 1e-9);
        }
    }

    @Test(expected = IllegalArgumentException.class)
    public void landmarkCropsRefuseEyesOnly() {
        new FaceAligner(new CropParams(160, 2.4, 0.5, "replicate", "landmarks", null))
                .align(new RgbImage(10, 10), 2, 5, 8, 5);
    }

    @Test(expected = IllegalArgumentException.class)
    public void unknownCropMethodsAreRefused() {
        new CropParams(160, 2.4, 0.5, "replicate", "mesh", null);
    }

    @Test
    public void boxReduceRoundsTheBlockMeanHalfUp() {
        RgbImage image = new RgbImage(5, 4);
        for (int i = 0; i < image.pixels.length; i++) {
            image.pixels[i] = (byte) (i % 3 == 0 ? (i / 3) : 200);
        }
        RgbImage small = FaceAligner.boxReduce(image, 2);
        assertEquals(2, small.width);
        assertEquals(2, small.height);
        // Red channel of block (0, 0): pixels 0, 1, 5, 6 -> mean 3.0; block (1, 1): 12, 13, 17, 18 -> 15.
        assertEquals(3, small.get(0, 0, 0));
        assertEquals(15, small.get(1, 1, 0));
        assertEquals(200, small.get(1, 0, 1));
    }

    @Test(expected = IllegalArgumentException.class)
    public void eyesOnTopOfEachOtherAreRefused() {
        new FaceAligner(CropParams.defaults()).align(new RgbImage(10, 10), 5, 5, 5, 5);
    }

    @Test
    public void constantBorderIsBlackOutsideTheImage() {
        RgbImage white = new RgbImage(20, 20);
        java.util.Arrays.fill(white.pixels, (byte) 255);
        FaceAligner aligner = new FaceAligner(new CropParams(16, 2.4, 0.5, "constant"));
        RgbImage crop = aligner.align(white, 0, 0, 4, 0).crop;
        assertEquals(0, crop.get(0, 0, 0));
        RgbImage replicated = new FaceAligner(new CropParams(16, 2.4, 0.5, "replicate")).align(white, 0, 0, 4, 0).crop;
        assertEquals(255, replicated.get(0, 0, 0));
    }
}
