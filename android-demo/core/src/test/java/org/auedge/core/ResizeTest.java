package org.auedge.core;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

/**
 * The enlarging path of the letterbox (frames smaller than the detector input), which no golden
 * frame reaches; expected values are cv2.resize(..., INTER_LINEAR) on the same tiny images.
 */
public class ResizeTest {
    @Test
    public void linearMatchesOpenCvOnTinyImages() {
        RgbImage pair = new RgbImage(2, 1, new byte[] {0, 0, 0, (byte) 255, (byte) 255, (byte) 255});
        RgbImage wide = Resize.linear(pair, 4, 1);
        int[] want = {0, 64, 191, 255};
        for (int x = 0; x < 4; x++) {
            assertEquals(want[x], wide.get(x, 0, 0));
        }
        byte[] px = new byte[12];
        for (int i = 0; i < 12; i++) {
            px[i] = (byte) (20 * i);
        }
        RgbImage grown = Resize.linear(new RgbImage(2, 2, px), 3, 3);
        int[][] red = {{0, 30, 60}, {60, 90, 120}, {120, 150, 180}};
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 3; x++) {
                assertEquals(red[y][x], grown.get(x, y, 0));
            }
        }
    }

    @Test
    public void smallFramesAreEnlargedIntoTheLetterbox() {
        Letterbox letterbox = new Letterbox(128);
        Letterbox.Geometry g = letterbox.geometry(64, 32);
        assertEquals(128, g.newWidth);
        assertEquals(64, g.newHeight);
        assertEquals(32, g.padY);
        RgbImage frame = new RgbImage(64, 32);
        java.util.Arrays.fill(frame.pixels, (byte) 200);
        RgbImage canvas = letterbox.canvas(frame, g);
        assertEquals(0, canvas.get(5, 5, 0));
        assertEquals(200, canvas.get(64, 64, 1));
    }
}
