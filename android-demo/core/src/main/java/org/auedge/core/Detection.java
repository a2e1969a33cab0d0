package org.auedge.core;

/**
 * One face in original image pixels: box (x, y, w, h), score and six BlazeFace keypoints
 * (subject's right eye, left eye, nose tip, mouth centre, right ear, left ear) as x0, y0, x1, y1...
 * Keypoint 0 is the image-left eye in an unmirrored frame (align's left eye).
 */
public final class Detection {
    public final double x;
    public final double y;
    public final double width;
    public final double height;
    public final float score;
    /** 12 values: x, y of each keypoint (float32, as the Python detector returns them). */
    public final float[] keypoints;

    public Detection(double x, double y, double width, double height, float score, float[] keypoints) {
        this.x = x;
        this.y = y;
        this.width = width;
        this.height = height;
        this.score = score;
        this.keypoints = keypoints;
    }

    public float keypointX(int i) {
        return keypoints[2 * i];
    }

    public float keypointY(int i) {
        return keypoints[2 * i + 1];
    }
}
