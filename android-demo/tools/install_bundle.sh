#!/usr/bin/env bash
# Put a bundle into the app and install it on the connected phone:
#   android-demo/tools/install_bundle.sh bundles/NAME
# Checks every file's sha256 against bundle.json first (a truncated copy is refused here, and the
# app checks again at start-up), then builds the debug APK with that bundle in its assets.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 BUNDLE_DIR   (a folder written by convert/export.py)" >&2
    exit 2
fi
BUNDLE=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f "$BUNDLE/bundle.json" ]; then
    echo "error: $BUNDLE/bundle.json not found; pass a bundle folder written by convert/export.py" >&2
    exit 2
fi
python3 - "$BUNDLE" <<'PY'
import hashlib, json, sys
from pathlib import Path
root = Path(sys.argv[1])
manifest = json.loads((root / "bundle.json").read_text())
entries = [m for m in manifest["models"] if m["format"] == "tflite"] + [manifest["face_detector"]]
for entry in entries:
    path = root / entry["file"]
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
        sys.exit(f"error: {path} is missing or does not match its sha256 in bundle.json; copy or re-export the bundle")
print(f"bundle {root}: {len(entries)} files verified, default model {manifest.get('default_model')}")
PY
cd "$HERE"
./gradlew installDebug -PbundleDir="$BUNDLE"
