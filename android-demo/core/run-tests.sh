#!/usr/bin/env bash
# Compile the core (main + tests) with javac and run its JUnit 4 tests against the golden vectors.
# Needs a JDK (17+) and Debian's junit4 package (/usr/share/java/junit4.jar, hamcrest).
# Exit status: 0 when every test passed. The last line is "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
JUNIT_JAR=${JUNIT_JAR:-/usr/share/java/junit4.jar}
HAMCREST_JAR=${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}
if ! command -v javac >/dev/null 2>&1; then
    echo "error: javac not found; install a JDK 17 (apt-get install default-jdk-headless)" >&2
    exit 2
fi
if [ ! -f "$JUNIT_JAR" ]; then
    echo "error: $JUNIT_JAR not found; install JUnit 4 (apt-get install junit4) or set JUNIT_JAR" >&2
    exit 2
fi
CP="$JUNIT_JAR"
[ -f "$HAMCREST_JAR" ] && CP="$CP:$HAMCREST_JAR"
BUILD=build/javac
rm -rf "$BUILD"
mkdir -p "$BUILD/main" "$BUILD/test"
javac --release 17 -Xlint:all -d "$BUILD/main" $(find src/main/java -name '*.java')
javac --release 17 -Xlint:all,-serial -d "$BUILD/test" -cp "$BUILD/main:$CP" $(find src/test/java -name '*.java')
TESTS=$(cd src/test/java && find . -name '*Test.java' | sed 's|^\./||; s|\.java$||; s|/|.|g' | sort)
set +e
java -Djava.awt.headless=true -Dgolden.dir=src/test/resources/golden -cp "$BUILD/main:$BUILD/test:$CP" \
    org.junit.runner.JUnitCore $TESTS | tee "$BUILD/junit.log"
status=${PIPESTATUS[0]}
set -e
total=$(grep -oE '^OK \(([0-9]+) tests?\)' "$BUILD/junit.log" | grep -oE '[0-9]+' || true)
if [ -n "$total" ]; then
    echo "$total passed, 0 failed"
else
    run=$(grep -oE 'Tests run: [0-9]+' "$BUILD/junit.log" | grep -oE '[0-9]+' || echo 0)
    failed=$(grep -oE 'Failures: [0-9]+' "$BUILD/junit.log" | grep -oE '[0-9]+' || echo 0)
    echo "$((run - failed)) passed, $failed failed"
fi
exit "$status"
