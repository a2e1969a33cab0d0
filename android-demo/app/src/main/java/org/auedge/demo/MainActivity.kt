package org.auedge.demo

import android.Manifest
import android.content.pm.PackageManager
import android.os.Bundle
import android.os.SystemClock
import android.util.Log
import android.util.Size
import android.view.View
import android.widget.ProgressBar
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.AspectRatioStrategy
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import java.util.Locale
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Front camera -> [AuPipeline] -> face box, AU12 / AU4 bars, fps and per-stage milliseconds.
 * Every frame is processed on the phone and dropped; the app has no network permission.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var previewView: PreviewView
    private lateinit var overlay: FaceOverlayView
    private lateinit var stats: TextView
    private lateinit var bars: Map<String, Pair<TextView, ProgressBar>>
    private lateinit var rows: Map<String, View>

    private val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    /** Created, used and closed only on [analysisExecutor]. */
    private var pipeline: AuPipeline? = null
    private var shownAus: Set<String> = emptySet()
    private var lastFrameNanos = 0L
    private var fps = 0.0

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) {
            start()
        } else {
            stats.text = getString(R.string.camera_denied)
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        previewView = findViewById(R.id.preview)
        overlay = findViewById(R.id.overlay)
        stats = findViewById(R.id.stats)
        bars = mapOf(
            "AU12" to Pair(findViewById<TextView>(R.id.au12_text), findViewById<ProgressBar>(R.id.au12_bar)),
            "AU4" to Pair(findViewById<TextView>(R.id.au4_text), findViewById<ProgressBar>(R.id.au4_bar)),
        )
        rows = mapOf("AU12" to findViewById<View>(R.id.au12_row), "AU4" to findViewById<View>(R.id.au4_row))
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            start()
        } else {
            askCamera.launch(Manifest.permission.CAMERA)
        }
    }

    private fun start() {
        val threads = Runtime.getRuntime().availableProcessors().coerceIn(1, 4)
        analysisExecutor.execute {
            try {
                val created = AuPipeline.create(applicationContext, threads)
                pipeline = created
                runOnUiThread { onPipelineReady(created) }
            } catch (e: Exception) {
                Log.e(TAG, "bundle cannot be used", e)
                runOnUiThread { stats.text = e.message ?: e.toString() }
            }
        }
    }

    private fun onPipelineReady(p: AuPipeline) {
        shownAus = p.auNames.filter { it in bars }.toSet()
        for ((au, row) in rows) {
            // A bar only for the AUs this bundle estimates.
            row.visibility = if (au in shownAus) View.VISIBLE else View.GONE
        }
        stats.text = getString(R.string.no_face)
        bindCamera()
    }

    private fun bindCamera() {
        val providerFuture = ProcessCameraProvider.getInstance(this)
        providerFuture.addListener(Runnable {
            val provider = providerFuture.get()
            val fourThree = AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY
            val preview = Preview.Builder()
                .setResolutionSelector(ResolutionSelector.Builder().setAspectRatioStrategy(fourThree).build())
                .build()
            preview.setSurfaceProvider(previewView.surfaceProvider)
            val analysisSize = ResolutionSelector.Builder()
                .setAspectRatioStrategy(fourThree)
                .setResolutionStrategy(
                    ResolutionStrategy(Size(640, 480), ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER),
                )
                .build()
            val analysis = ImageAnalysis.Builder()
                .setResolutionSelector(analysisSize)
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_YUV_420_888)
                .build()
            analysis.setAnalyzer(analysisExecutor, ImageAnalysis.Analyzer { image -> analyze(image) })
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_FRONT_CAMERA, preview, analysis)
        }, ContextCompat.getMainExecutor(this))
    }

    /** Runs on [analysisExecutor]; the frame is closed (released to the camera) when done. */
    private fun analyze(image: ImageProxy) {
        image.use {
            val p = pipeline ?: return
            val result = try {
                p.process(it)
            } catch (e: RuntimeException) {
                Log.e(TAG, "frame failed", e)
                return
            }
            runOnUiThread { show(result, p) }
        }
    }

    private fun show(result: FrameResult, p: AuPipeline) {
        val now = SystemClock.elapsedRealtimeNanos()
        if (lastFrameNanos != 0L) {
            val instant = 1e9 / (now - lastFrameNanos)
            fps = if (fps == 0.0) instant else 0.9 * fps + 0.1 * instant
        }
        lastFrameNanos = now
        overlay.show(result.face?.detection, result.imageWidth, result.imageHeight)
        for (au in shownAus) {
            val (label, bar) = bars.getValue(au)
            val spec = p.manifest.output(au) ?: continue
            val face = result.face
            val value = face?.aus?.get(au)
            when {
                face == null || value == null -> {
                    label.text = String.format(Locale.US, "%s  –", au)
                    bar.progress = 0
                }
                p.hasOcclusionOutput(au) && face.observable[au] == false -> {
                    label.text = String.format(Locale.US, "%s  %s", au, getString(R.string.not_observable))
                    bar.progress = 0
                }
                else -> {
                    val span = (spec.high - spec.low).coerceAtLeast(1e-6f)
                    bar.progress = (1000 * (value - spec.low) / span).toInt().coerceIn(0, 1000)
                    label.text = String.format(Locale.US, "%s  %.2f", au, value)
                }
            }
        }
        val t = result.times
        stats.text = String.format(
            Locale.US,
            "%.1f fps  %dx%d  %s  %d threads XNNPACK\nyuv %.1f  detect %.1f  crop %.1f  au %.1f  total %.1f ms%s",
            fps, result.imageWidth, result.imageHeight, p.model.name, p.numThreads,
            t.yuvMs, t.detectMs, t.alignMs, t.auMs, t.totalMs,
            if (result.face == null) "\n" + getString(R.string.no_face) else "",
        )
    }

    override fun onDestroy() {
        super.onDestroy()
        analysisExecutor.execute {
            pipeline?.close()
            pipeline = null
        }
        analysisExecutor.shutdown()
    }

    private companion object {
        const val TAG = "AuEdge"
    }
}
