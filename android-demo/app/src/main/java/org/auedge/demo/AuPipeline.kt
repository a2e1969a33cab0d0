package org.auedge.demo

import android.content.Context
import android.content.res.AssetManager
import android.os.SystemClock
import androidx.camera.core.ImageProxy
import org.auedge.core.AuOutputs
import org.auedge.core.BlazeFaceDecoder
import org.auedge.core.BundleException
import org.auedge.core.BundleManifest
import org.auedge.core.Detection
import org.auedge.core.FaceAligner
import org.auedge.core.Letterbox
import org.auedge.core.ModelCheck
import org.auedge.core.ModelInput
import org.auedge.core.QuantParams
import org.auedge.core.RgbImage
import org.auedge.core.Smoothing
import org.auedge.core.YuvConverter
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import java.io.Closeable
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/** Milliseconds spent in each stage of one frame. */
data class StageTimes(
    val yuvMs: Double,
    val detectMs: Double,
    val alignMs: Double,
    val auMs: Double,
    val totalMs: Double,
)

/** The face shown on screen, in upright analysis-image pixels, with smoothed AU values. */
data class FaceReading(
    val detection: Detection,
    /** AU name -> smoothed value, for the AUs the bundle estimates (occlusion outputs excluded). */
    val aus: Map<String, Float>,
    /** AU name -> false when the bundle's occlusion output says the region is covered (every AU a key). */
    val observable: Map<String, Boolean>,
)

data class FrameResult(
    val imageWidth: Int,
    val imageHeight: Int,
    val face: FaceReading?,
    val times: StageTimes,
)

/**
 * One bundle on the phone: the BlazeFace interpreter and the AU interpreter (LiteRT, XNNPACK),
 * and everything between them from the tested :core module. Not thread-safe: CameraX calls
 * [process] from one analysis thread.
 */
class AuPipeline private constructor(
    val manifest: BundleManifest,
    val model: BundleManifest.ModelEntry,
    private val detector: Interpreter,
    private val auModel: Interpreter,
    private val regressorIndex: Int,
    private val scoreIndex: Int,
    private val inputQuant: QuantParams?,
    private val outputQuant: QuantParams?,
    val numThreads: Int,
) : Closeable {

    private val spec = BlazeFaceDecoder.specForKind(manifest.faceDetector!!.kind)
    private val decoder = BlazeFaceDecoder(
        spec, manifest.faceDetector!!.scoreThreshold, manifest.faceDetector!!.nmsIou, MAX_FACES,
    )
    private val letterbox = Letterbox(spec.inputSize)
    private val aligner = FaceAligner(manifest.crop)
    private val yuv = YuvConverter(YuvConverter.Range.FULL)
    private val modelInput = ModelInput(manifest.normalization, inputQuant)
    private val auOutputs = AuOutputs(manifest.outputs, outputQuant)
    private val smoother = Smoothing.FaceSmoother(Smoothing.Options())

    private val detectorFloats = FloatArray(spec.inputSize * spec.inputSize * 3)
    private val detectorInput = direct(detectorFloats.size * 4)
    private val regressorBuffer = direct(decoder.numAnchors() * BlazeFaceDecoder.NUM_COORDS * 4)
    private val scoreBuffer = direct(decoder.numAnchors() * 4)
    private val regressors = FloatArray(decoder.numAnchors() * BlazeFaceDecoder.NUM_COORDS)
    private val logits = FloatArray(decoder.numAnchors())
    private val auInput = direct(auModel.getInputTensor(0).numBytes())
    private val auOutput = direct(auModel.getOutputTensor(0).numBytes())
    private val crop = RgbImage(manifest.crop.size, manifest.crop.size)
    private val mirroredCrop = RgbImage(manifest.crop.size, manifest.crop.size)

    /** Names of the AUs shown (outputs that are not occlusion flags). */
    val auNames: List<String> = manifest.outputs.map { it.au }.filterNot { it.endsWith(OCCLUDED_SUFFIX) }

    /** Whether the bundle says, per AU, when its region is covered. */
    fun hasOcclusionOutput(au: String): Boolean = manifest.output(au + OCCLUDED_SUFFIX) != null

    fun process(image: ImageProxy): FrameResult {
        val t0 = SystemClock.elapsedRealtimeNanos()
        val planes = image.planes
        val rgb = yuv.toRgb(
            planes[0].buffer, planes[0].rowStride, planes[1].buffer, planes[2].buffer,
            planes[1].rowStride, planes[1].pixelStride, image.width, image.height,
            image.imageInfo.rotationDegrees,
        )
        val t1 = SystemClock.elapsedRealtimeNanos()

        val geometry = letterbox.geometry(rgb.width, rgb.height)
        Letterbox.toTensor(letterbox.canvas(rgb, geometry), detectorFloats)
        detectorInput.rewind()
        detectorInput.asFloatBuffer().put(detectorFloats)
        regressorBuffer.rewind()
        scoreBuffer.rewind()
        detector.runForMultipleInputsOutputs(
            arrayOf<Any>(detectorInput), mapOf<Int, Any>(regressorIndex to regressorBuffer, scoreIndex to scoreBuffer),
        )
        regressorBuffer.rewind()
        regressorBuffer.asFloatBuffer().get(regressors)
        scoreBuffer.rewind()
        scoreBuffer.asFloatBuffer().get(logits)
        val detections = decoder.detect(regressors, logits, geometry)
        val t2 = SystemClock.elapsedRealtimeNanos()

        var reading: FaceReading? = null
        var t3 = t2
        if (detections.isNotEmpty()) {
            val best = detections[0]
            val aligned = try {
                // Keypoints 0-3: image-left eye, image-right eye, nose tip, mouth centre of the
                // unmirrored frame; the bundle's crop method takes the two or four it needs.
                aligner.align(rgb, best.keypoints, crop)
            } catch (e: IllegalArgumentException) {
                null // degenerate keypoints: no usable crop this frame
            }
            t3 = SystemClock.elapsedRealtimeNanos()
            if (aligned != null) {
                reading = estimate(best, image.imageInfo.timestamp / 1e9)
            }
        } else {
            smoother.update(emptyList(), image.imageInfo.timestamp / 1e9)
        }
        val t4 = SystemClock.elapsedRealtimeNanos()
        return FrameResult(
            rgb.width, rgb.height, reading,
            StageTimes(ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t3, t4), ms(t0, t4)),
        )
    }

    /** Raw (dequantized) AU model outputs for one aligned crop. */
    private fun runAuModel(image: RgbImage): FloatArray {
        modelInput.fill(image, auInput)
        auOutput.rewind()
        auModel.run(auInput, auOutput)
        auOutput.rewind()
        return if (outputQuant != null) {
            val bytes = ByteArray(auOutput.remaining())
            auOutput.get(bytes)
            auOutputs.dequantize(bytes)
        } else {
            FloatArray(auOutput.remaining() / 4).also { auOutput.asFloatBuffer().get(it) }
        }
    }

    private fun estimate(face: Detection, timestampSeconds: Double): FaceReading {
        var raw = runAuModel(crop)
        if (manifest.flipAverage) {
            // The threshold was chosen on the mean of crop and mirror (bundle.json inference.flip_average).
            raw = AuOutputs.flipAverage(raw, runAuModel(crop.mirrorInto(mirroredCrop)))
        }
        val values = auOutputs.values(raw)
        // Every AU, false while its "<AU>_occluded" output says covered: decided in the core, which the
        // golden vectors compare with the Python runtime.
        val observable: Map<String, Boolean> = auOutputs.observable(values)
        val rawAus = LinkedHashMap<String, Double>()
        for ((au, value) in auOutputs.aus(values)) rawAus[au] = value.toDouble()
        val box = doubleArrayOf(face.x, face.y, face.width, face.height)
        val smoothed = smoother.update(listOf(Smoothing.Face(box, rawAus)), timestampSeconds)[0]
        return FaceReading(face, smoothed.aus.mapValues { it.value.toFloat() }, observable)
    }

    override fun close() {
        detector.close()
        auModel.close()
    }

    companion object {
        const val ASSET_DIR = "bundle"
        /** An output named e.g. "AU12_occluded" (occurrence) flags AU12's region as covered. */
        const val OCCLUDED_SUFFIX = "_occluded"
        private const val MAX_FACES = 3

        private fun direct(bytes: Int): ByteBuffer = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder())

        private fun ms(from: Long, to: Long) = (to - from) / 1e6

        private fun mapAsset(assets: AssetManager, path: String): MappedByteBuffer =
            assets.openFd(path).use { fd ->
                FileInputStream(fd.fileDescriptor).use { stream ->
                    stream.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                }
            }

        private fun interpreter(assets: AssetManager, file: String, numThreads: Int): Interpreter {
            val options = Interpreter.Options().apply {
                setNumThreads(numThreads)
                setUseXNNPACK(true)
            }
            return try {
                Interpreter(mapAsset(assets, "$ASSET_DIR/$file"), options)
            } catch (e: IllegalArgumentException) {
                throw BundleException("model $file cannot be loaded (${e.message}); rebuild the app with a good bundle", e)
            }
        }

        /** The tensor's own quantization, cross-checked against bundle.json's (ModelCheck, as resolve_quant in Python). */
        private fun quantOf(tensor: Tensor, fromBundle: QuantParams?, what: String, file: String): QuantParams? {
            val q = tensor.quantizationParams()
            return ModelCheck.quantization(tensor.dataType().name.lowercase(), q.scale, q.zeroPoint, fromBundle, what, file)
        }

        /** Load bundle.json from the APK's assets, verify the sha256 of the files used, create both interpreters. */
        fun create(context: Context, numThreads: Int): AuPipeline {
            val assets = context.assets
            val where = "assets/$ASSET_DIR/${BundleManifest.MANIFEST_NAME}"
            val text = try {
                assets.open("$ASSET_DIR/${BundleManifest.MANIFEST_NAME}").bufferedReader().use { it.readText() }
            } catch (e: java.io.IOException) {
                throw BundleException("$where is missing; build with -PbundleDir=<bundle folder>", e)
            }
            val manifest = BundleManifest.parse(text, where)
            val model = manifest.model(null)
            if (model.format != "tflite") {
                throw BundleException("$where: default model ${model.name} is ${model.format}; the app runs TFLite")
            }
            val detectorEntry = manifest.faceDetector
                ?: throw BundleException("$where has no face_detector; re-export the bundle with convert/export.py")
            manifest.verify({ rel -> assets.open("$ASSET_DIR/$rel") }, model.name, false)

            // Both interpreters are opened inside the try, so a failure after the first closes it too.
            val opened = ArrayList<Interpreter>(2)
            try {
                val detector = interpreter(assets, detectorEntry.file, numThreads).also { opened.add(it) }
                val auModel = interpreter(assets, model.file, numThreads).also { opened.add(it) }
                val spec = BlazeFaceDecoder.specForKind(detectorEntry.kind)
                val anchors = BlazeFaceDecoder.generateAnchors(spec).size / 2
                val input = detector.getInputTensor(0)
                if (!input.shape().contentEquals(intArrayOf(1, spec.inputSize, spec.inputSize, 3)) ||
                    input.dataType() != DataType.FLOAT32
                ) {
                    throw BundleException("face detector takes ${input.dataType()} ${input.shape().toList()}, not a ${detectorEntry.kind} BlazeFace")
                }
                var regressors = -1
                var scores = -1
                for (i in 0 until detector.outputTensorCount) {
                    val shape = detector.getOutputTensor(i).shape()
                    if (shape.size < 2 || shape[shape.size - 2] != anchors) continue
                    when (shape.last()) {
                        BlazeFaceDecoder.NUM_COORDS -> regressors = i
                        1 -> scores = i
                    }
                }
                if (regressors < 0 || scores < 0) {
                    throw BundleException("face detector outputs are not the $anchors x 16 boxes and $anchors x 1 scores of BlazeFace")
                }
                val auInput = auModel.getInputTensor(0)
                val want = intArrayOf(1, manifest.inputHeight, manifest.inputWidth, 3)
                if (!auInput.shape().contentEquals(want)) {
                    throw BundleException("AU model takes ${auInput.shape().toList()}, bundle.json promises ${want.toList()}")
                }
                if (auModel.outputTensorCount < 1) {
                    throw BundleException("AU model ${model.file} has no outputs")
                }
                val auOutput = auModel.getOutputTensor(0)
                ModelCheck.outputIndices(manifest.outputs, auOutput.numElements(), model.file)
                return AuPipeline(
                    manifest, model, detector, auModel, regressors, scores,
                    quantOf(auInput, model.inputQuant, "input", model.file),
                    quantOf(auOutput, model.outputQuant, "output", model.file),
                    numThreads,
                )
            } catch (e: Exception) {
                opened.forEach { it.close() }
                throw e
            }
        }
    }
}
