// AU-Edge Android demo: the phone app (:app) and the plain-Java core it runs (:core).
// Versions: Android Gradle plugin 8.7.3, Kotlin 2.0.21, Gradle 8.9, JDK 17, compileSdk 35, minSdk 26.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "au-edge-android"
include(":app", ":core")
