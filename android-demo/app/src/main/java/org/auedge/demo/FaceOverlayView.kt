package org.auedge.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View
import org.auedge.core.Detection
import kotlin.math.max

/**
 * Draws the face box and eye keypoints over the camera preview. Detections are in upright
 * analysis-image pixels; the preview shows the same field of view scaled to fill the view
 * (PreviewView FILL_CENTER, both streams 4:3) and mirrored for the front camera.
 */
class FaceOverlayView @JvmOverloads constructor(
    context: Context, attrs: AttributeSet? = null,
) : View(context, attrs) {
    private val boxPaint = Paint().apply {
        style = Paint.Style.STROKE
        strokeWidth = 6f
        color = Color.rgb(80, 220, 120)
        isAntiAlias = true
    }
    private val pointPaint = Paint().apply {
        style = Paint.Style.FILL
        color = Color.rgb(255, 200, 40)
        isAntiAlias = true
    }
    private var detection: Detection? = null
    private var imageWidth = 1
    private var imageHeight = 1
    var mirrored = true

    fun show(detection: Detection?, imageWidth: Int, imageHeight: Int) {
        this.detection = detection
        this.imageWidth = imageWidth
        this.imageHeight = imageHeight
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val d = detection ?: return
        val scale = max(width.toFloat() / imageWidth, height.toFloat() / imageHeight)
        val dx = (width - imageWidth * scale) / 2f
        val dy = (height - imageHeight * scale) / 2f
        fun vx(x: Double): Float {
            val v = (dx + x * scale).toFloat()
            return if (mirrored) width - v else v
        }
        fun vy(y: Double): Float = (dy + y * scale).toFloat()
        val left = vx(d.x)
        val right = vx(d.x + d.width)
        canvas.drawRect(minOf(left, right), vy(d.y), maxOf(left, right), vy(d.y + d.height), boxPaint)
        for (k in 0 until 2) { // the two eyes the crop is aligned on
            canvas.drawCircle(vx(d.keypointX(k).toDouble()), vy(d.keypointY(k).toDouble()), 8f, pointPaint)
        }
    }
}
