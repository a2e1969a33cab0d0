// The phone app: CameraX front camera -> :core (YUV->RGB, letterbox, BlazeFace decoding, crop,
// quantization, smoothing) -> LiteRT interpreters. The bundle is copied into the APK's assets.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

/** Copies bundle.json and the bundle's .tflite files into generated assets under bundle/. */
abstract class CopyBundleTask : DefaultTask() {
    @get:InputDirectory
    abstract val bundleDir: DirectoryProperty

    @get:OutputDirectory
    abstract val outputDir: DirectoryProperty

    @TaskAction
    fun copy() {
        val source = bundleDir.get().asFile
        val manifest = File(source, "bundle.json")
        if (!manifest.isFile) {
            throw GradleException(
                "$manifest not found (no bundle installed there); pass -PbundleDir=<a bundle folder written by convert/export.py>"
            )
        }
        val target = File(outputDir.get().asFile, "bundle")
        target.deleteRecursively()
        target.mkdirs()
        val files = source.listFiles { f -> f.isFile && (f.name == "bundle.json" || f.name.endsWith(".tflite")) }
            ?: emptyArray()
        if (files.none { it.name.endsWith(".tflite") }) {
            throw GradleException("$source holds no .tflite model; export the bundle with TFLite formats")
        }
        files.forEach { it.copyTo(File(target, it.name), overwrite = true) }
        logger.lifecycle("bundle: copied ${files.size} files from $source into the APK assets")
    }
}

val copyBundle = tasks.register<CopyBundleTask>("copyBundle") {
    // Default: the bundle shipped in the Python package (edge/models/default), present in a fresh clone.
    val path = providers.gradleProperty("bundleDir").getOrElse("../edge/models/default")
    bundleDir.set(rootProject.file(path))
    outputDir.set(layout.buildDirectory.dir("generated/bundleAssets"))
}

android {
    namespace = "org.auedge.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.auedge.demo"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    kotlinOptions {
        jvmTarget = "17"
    }

    androidResources {
        // Stored uncompressed so the interpreters can memory-map the models from the APK.
        noCompress += "tflite"
    }
}

androidComponents {
    onVariants { variant ->
        variant.sources.assets?.addGeneratedSourceDirectory(copyBundle, CopyBundleTask::outputDir)
    }
}

dependencies {
    implementation(project(":core"))

    val camerax = "1.4.1"
    implementation("androidx.camera:camera-core:$camerax")
    implementation("androidx.camera:camera-camera2:$camerax")
    implementation("androidx.camera:camera-lifecycle:$camerax")
    implementation("androidx.camera:camera-view:$camerax")

    // LiteRT (the TensorFlow Lite runtime, org.tensorflow.lite.Interpreter API) with XNNPACK built in.
    implementation("com.google.ai.edge.litert:litert:1.0.1")

    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.activity:activity-ktx:1.9.3")
    implementation("androidx.core:core-ktx:1.13.1")
}
