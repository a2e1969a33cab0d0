// The plain-Java core: no Android dependency, so the same classes are tested on any JDK
// (here with ./run-tests.sh, or ./gradlew :core:test) and run unchanged in the app.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    // Golden vectors from android-demo/tools/make_golden.py.
    systemProperty("golden.dir", file("src/test/resources/golden").absolutePath)
    systemProperty("java.awt.headless", "true")
    testLogging {
        events("failed")
        showStandardStreams = true
    }
}
