package org.auedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.util.Map;
import org.junit.Test;

/**
 * Camera YUV 4:2:0 to RGB within 2 grey levels of the float BT.601 reference (full and limited
 * range), for NV21 and for YUV_420_888 planes with padded rows and either pixel stride, and the
 * four rotations.
 */
public class GoldenYuvTest {
    static final int TOLERANCE = 2;

    private static int maxDiff(RgbImage a, RgbImage b) {
        return (int) Golden.diff(a, b)[1];
    }

    @Test
    public void nv21AndPlanesMatchTheReference() throws Exception {
        int worst = 0;
        int frames = 0;
        for (Object o : Golden.list("yuv")) {
            Map<String, Object> f = Golden.obj(o);
            int w = (int) Golden.num(f, "width");
            int h = (int) Golden.num(f, "height");
            YuvConverter conv = new YuvConverter("full".equals(Golden.str(f, "range"))
                    ? YuvConverter.Range.FULL : YuvConverter.Range.LIMITED);
            byte[] nv21 = Golden.gunzip(Golden.str(f, "nv21"));
            RgbImage expected = new RgbImage(w, h, Golden.gunzip(Golden.str(f, "rgb")));
            worst = Math.max(worst, maxDiff(conv.nv21ToRgb(nv21, w, h, 0), expected));

            // I420 planes with 24 bytes of row padding (pixel stride 1), as some devices deliver.
            int yStride = w + 24;
            int cw = w / 2;
            int ch = h / 2;
            int cStride = cw + 24;
            byte[] y = new byte[yStride * h];
            byte[] u = new byte[cStride * ch];
            byte[] v = new byte[cStride * ch];
            for (int r = 0; r < h; r++) {
                System.arraycopy(nv21, r * w, y, r * yStride, w);
            }
            for (int r = 0; r < ch; r++) {
                for (int c = 0; c < cw; c++) {
                    v[r * cStride + c] = nv21[w * h + r * w + 2 * c];
                    u[r * cStride + c] = nv21[w * h + r * w + 2 * c + 1];
                }
            }
            RgbImage planar = conv.toRgb(ByteBuffer.wrap(y), yStride, ByteBuffer.wrap(u), ByteBuffer.wrap(v), cStride, 1,
                    w, h, 0);
            worst = Math.max(worst, maxDiff(planar, expected));

            // Semi-planar views (pixel stride 2) over the NV21 chroma, as most Android cameras give.
            ByteBuffer vView = ByteBuffer.wrap(nv21, w * h, w * h / 2).slice();
            ByteBuffer uView = ByteBuffer.wrap(nv21, w * h + 1, w * h / 2 - 1).slice();
            RgbImage semi = conv.toRgb(ByteBuffer.wrap(nv21), w, uView, vView, w, 2, w, h, 0);
            worst = Math.max(worst, maxDiff(semi, expected));

            RgbImage r90 = conv.nv21ToRgb(nv21, w, h, 90);
            RgbImage r180 = conv.nv21ToRgb(nv21, w, h, 180);
            RgbImage r270 = conv.nv21ToRgb(nv21, w, h, 270);
            assertEquals(h, r90.width);
            assertEquals(w, r90.height);
            RgbImage upright = conv.nv21ToRgb(nv21, w, h, 0);
            for (int c = 0; c < 3; c++) {
                // Clockwise: the top-left source pixel goes to the top-right corner at 90 degrees.
                assertEquals(upright.get(0, 0, c), r90.get(h - 1, 0, c));
                assertEquals(upright.get(0, 0, c), r180.get(w - 1, h - 1, c));
                assertEquals(upright.get(0, 0, c), r270.get(0, w - 1, c));
                assertEquals(upright.get(w - 1, 5, c), r90.get(h - 1 - 5, w - 1, c));
            }
            frames++;
        }
        Golden.report("YUV frames", frames);
        Golden.report("worst YUV->RGB difference (levels)", worst);
        assertEquals("full and limited range frames", 2, frames);
        assertTrue("YUV->RGB difference " + worst, worst <= TOLERANCE);
    }
}
