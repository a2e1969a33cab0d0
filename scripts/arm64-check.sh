#!/usr/bin/env bash
# Install and run au-edge on an emulated arm64 Debian bookworm (the base of Raspberry Pi OS), the way
# edge/README-pi.md tells a Pi user, and check its outputs against this x86 host's.
#
#   sudo scripts/arm64-check.sh [--bundle DIR] [--images DIR] [--rootfs-only]
#   AU_EDGE_ARM64_CPU=cortex-a76 sudo scripts/arm64-check.sh    # a Pi 5's core instead of a Pi 4's
#
# Steps (each timed; the times are under qemu emulation, NOT performance figures):
#   host-tools  apt: qemu-user-static and mmdebstrap, when missing
#   binfmt      mount binfmt_misc and register qemu's aarch64 handler (from qemu's own binfmt.d file)
#   rootfs      Debian bookworm arm64 with python3, python3-venv, python3-numpy (cached: see below)
#   wheel       the project's wheel, built on the host
#   stage       bundle, face images, a short video and a fake picamera2 package (scripts/arm64_check.py)
#   host-ref    every model of the bundle on the images, on the host (scripts/arm64_device.py): the x86 reference
#   install     README-pi.md section 2 inside the arm64 system (venv --system-site-packages, pip [pi])
#   infer       bundle-info, au-edge infer --json per model, and every model measured (full precision)
#   daemon      au-edge daemon on the video (JSONL + HTTP), on picamera2 (RGB888 main) and its YUV420 lores
#   (judge)     arm64 against x86: same faces, AU values within 1e-4 (fp32) or one output quantization step
#               (int8); the daemon's and the fake camera's records; prints the tables (scripts/arm64_parity.py)
#
# The bundle: --bundle DIR, else edge/models/default/ when present, else the test-fixture bundle (tiny ONNX AU
# model from tests/edge/edge_runtime_helpers.py + the real BlazeFace detector). Face images: --images DIR, else
# MTFL photos from ../shared/data/mtfl when present (read only), else the benchmarks' generated faces.
#
# Cache: AU_EDGE_ARM64_CACHE (default <repo>/.cache/arm64, ignored by git) holds the root filesystem
# (rootfs-bookworm/, about 300 MB, reused while its recipe is unchanged; delete it to rebuild; runs leave
# /opt/au-edge and pip's cache in it) and each run's files under runs/latest/ (report.json, times.tsv, the
# records). A cold run builds the rootfs (about 6 min here); a warm one remakes only the venv (about 2.5 min).
# Exit 0 when every check holds, 1 when one fails, 2 for a machine that cannot run the check (not root, no
# binfmt_misc, no network for apt/pip).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${AU_EDGE_ARM64_CACHE:-$REPO/.cache/arm64}
SUITE=bookworm
MIRROR=${AU_EDGE_ARM64_MIRROR:-http://deb.debian.org/debian}
ROOTFS_PACKAGES=python3,python3-venv,python3-numpy,ca-certificates
ROOTFS=$CACHE/rootfs-$SUITE
HOST_PY=${AU_EDGE_HOST_PYTHON:-$REPO/.venv/bin/python}
BUNDLE=""
IMAGES=""
ROOTFS_ONLY=0

while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE=$2; shift 2 ;;
    --images) IMAGES=$2; shift 2 ;;
    --rootfs-only) ROOTFS_ONLY=1; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "arm64-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

cannot() { echo "arm64-check: cannot run here: $*" >&2; exit 2; }
case "${AU_EDGE_ARM64_CPU:-cortex-a72}" in
  cortex-a72|cortex-a76) ;;
  *) echo "arm64-check: AU_EDGE_ARM64_CPU=$AU_EDGE_ARM64_CPU: use cortex-a72 (Pi 4) or cortex-a76 (Pi 5)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || cannot "needs root (apt, binfmt_misc, chroot): run it with sudo"
[ "$(uname -m)" = x86_64 ] || cannot "the host must be x86_64 (it is $(uname -m)); on an arm64 machine follow edge/README-pi.md directly"
[ -x "$HOST_PY" ] || cannot "$HOST_PY not found: run scripts/setup.sh first (or set AU_EDGE_HOST_PYTHON)"

RUN=$CACHE/runs/latest
rm -rf "$RUN"
mkdir -p "$RUN"
TIMES=$RUN/times.tsv
: > "$TIMES"
MOUNTED=()

cleanup() {
  local i
  for (( i=${#MOUNTED[@]}-1; i>=0; i-- )); do umount -l "${MOUNTED[$i]}" 2>/dev/null || true; done
  MOUNTED=()
}
trap cleanup EXIT

# step NAME CMD...: run CMD, print progress, record its wall time.
step() {
  local name=$1; shift
  local start end
  echo "== [$(date -u +%H:%M:%S)] $name" >&2
  start=$EPOCHREALTIME
  "$@"
  end=$EPOCHREALTIME
  awk -v n="$name" -v s="$start" -v e="$end" 'BEGIN { printf "%s\t%.1f\n", n, e - s }' >> "$TIMES"
  tail -n 1 "$TIMES" | awk -F '\t' '{ printf "   %s: %s s\n", $1, $2 }' >&2
}

host_tools() {
  local need=()
  command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
  command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
  command -v arch-test >/dev/null 2>&1 || need+=(arch-test)  # mmdebstrap needs it for a foreign architecture
  if [ ${#need[@]} -gt 0 ]; then
    echo "   apt-get install ${need[*]}" >&2
    apt-get update -qq >/dev/null || cannot "apt-get update failed (no network?)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || cannot "apt-get install ${need[*]} failed"
  fi
}

binfmt() {
  local fs=/proc/sys/fs/binfmt_misc conf
  if [ ! -e "$fs/register" ]; then
    mount -t binfmt_misc binfmt_misc "$fs" 2>/dev/null || cannot "binfmt_misc cannot be mounted at $fs"
  fi
  if [ ! -e "$fs/qemu-aarch64" ]; then
    # qemu-user-static ships the handler line (magic, mask, interpreter, flags F = fixed binary, so it works
    # inside the chroot); systemd-binfmt would load it on boot, but a container has no systemd.
    conf=$(ls /usr/lib/binfmt.d/qemu-aarch64.conf 2>/dev/null) || cannot "qemu-user-static has no binfmt.d/qemu-aarch64.conf"
    grep -v '^#' "$conf" > "$fs/register" || cannot "could not register $conf with binfmt_misc"
  fi
  grep -q '^enabled' "$fs/qemu-aarch64" || cannot "the qemu-aarch64 binfmt handler is disabled"
}

rootfs_recipe() { printf '%s\n' "$SUITE" "$MIRROR" "$ROOTFS_PACKAGES" "variant=apt"; }

rootfs() {
  if [ -f "$ROOTFS/.au-edge-recipe" ] && [ "$(cat "$ROOTFS/.au-edge-recipe")" = "$(rootfs_recipe)" ]; then
    echo "   reusing $ROOTFS" >&2
    return
  fi
  # Build beside it and rename: an interrupted build never looks like a cached root filesystem.
  rm -rf "$ROOTFS.partial"
  mmdebstrap --mode=root --architectures=arm64 --variant=apt --include="$ROOTFS_PACKAGES" \
    "$SUITE" "$ROOTFS.partial" \
    "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
    "deb ${MIRROR%/debian}/debian-security $SUITE-security main" >&2 \
    || cannot "mmdebstrap failed (network, or qemu binfmt handler missing)"
  rootfs_recipe > "$ROOTFS.partial/.au-edge-recipe"
  rm -rf "$ROOTFS"
  mv "$ROOTFS.partial" "$ROOTFS"
}

mkdir -p "$CACHE"
step host-tools host_tools
step binfmt binfmt
step rootfs nice -n 19 bash -c "$(declare -f rootfs rootfs_recipe cannot); $(declare -p ROOTFS SUITE MIRROR ROOTFS_PACKAGES); rootfs"
[ "$ROOTFS_ONLY" = 1 ] && { echo "arm64-check: root filesystem ready at $ROOTFS" >&2; exit 0; }

build_wheel() {
  "$HOST_PY" -m pip wheel -q --no-deps --no-build-isolation -w "$RUN/dist" "$REPO" >&2
}

stage() {
  local args=(--out "$RUN/stage")
  [ -n "$BUNDLE" ] && args+=(--bundle "$BUNDLE")
  [ -n "$IMAGES" ] && args+=(--images "$IMAGES")
  "$HOST_PY" "$REPO/scripts/arm64_check.py" stage "${args[@]}" || exit 2
  cp "$REPO/scripts/arm64_device.py" "$RUN/stage/"
}

# The arm64 system sees the run folder at /srv/au-edge-check; it shares the host's network.
INSIDE=/srv/au-edge-check
mount_arm64() {
  local target
  mkdir -p "$ROOTFS$INSIDE"
  for target in proc sys dev dev/pts; do
    mount --bind "/$target" "$ROOTFS/$target"; MOUNTED+=("$ROOTFS/$target")
  done
  mount --bind "$RUN" "$ROOTFS$INSIDE"; MOUNTED+=("$ROOTFS$INSIDE")
  # qemu-user shows the program the host's x86 /proc/cpuinfo; onnxruntime's cpuinfo parser segfaults on it
  # at import (seen with 1.32.0). A Pi's takes its place, matching QEMU_CPU (AU_EDGE_ARM64_CPU).
  pi_cpuinfo > "$RUN/cpuinfo"
  mount --bind "$RUN/cpuinfo" "$ROOTFS/proc/cpuinfo"; MOUNTED+=("$ROOTFS/proc/cpuinfo")
  cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
  # This machine reaches PyPI through an egress proxy with its own CA: hand pip the host's bundle. A Pi needs
  # nothing of the kind (pip's own certificates do).
  cp -L /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/au-edge-host-ca.crt"
}

# The emulated CPU: AU_EDGE_ARM64_CPU=cortex-a72 (Raspberry Pi 4, ARMv8.0: NEON, no dot product; the default)
# or cortex-a76 (Pi 5: ARMv8.2 with fp16 and int8 dot product), so XNNPACK and onnxruntime pick the kernels
# that Pi runs, not those of qemu's default "max" CPU (SVE...). /proc/cpuinfo says the same (see mount_arm64).
ARM64_CPU=${AU_EDGE_ARM64_CPU:-cortex-a72}
pi_cpuinfo() {
  local cpu part features model
  case "$ARM64_CPU" in
    cortex-a72) part=0xd08 model="Raspberry Pi 4 Model B" features="fp asimd evtstrm crc32 cpuid" ;;
    cortex-a76) part=0xd0b model="Raspberry Pi 5 Model B"
      features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
  esac
  for cpu in 0 1 2 3; do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\n' "$cpu" "$features"
    printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: %s\nCPU revision\t: 1\n\n' "$part"
  done
  printf 'Model\t\t: %s (emulated by scripts/arm64-check.sh)\n' "$model"
}

in_arm64() {
  chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 QEMU_CPU="$ARM64_CPU" \
    PIP_CERT=/etc/ssl/certs/au-edge-host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
    AU_EDGE_FAKE_PICAMERA2_FRAMES=$INSIDE/stage/camera.npz AU_EDGE_FAKE_PICAMERA2_NUMPY_MAJOR="$SYSTEM_NUMPY_MAJOR" \
    OMP_NUM_THREADS=1 nice -n 19 "$@"
}

stage_value() { "$HOST_PY" -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$RUN/stage/stage.json" "$1"; }

# edge/README-pi.md sections 1 and 2, as a Pi user types them (as root: no sudo). python3-picamera2 comes from
# the Pi archive, which is out of reach: the fake picamera2 goes where that package puts its files.
readme_install() {
  local wheel extras=pi
  wheel=$(basename "$(ls "$RUN"/dist/au_edge-*.whl)")
  [ "$(stage_value needs_onnx)" = True ] && extras=pi,onnx
  cp -r "$RUN/stage/picamera2-dist/." "$ROOTFS/usr/lib/python3/dist-packages/"
  cat > "$RUN/readme-install.sh" <<'README'
set -euxo pipefail
package=$1 inside=$2
id au-edge >/dev/null 2>&1 || useradd --system --home /var/lib/au-edge --shell /usr/sbin/nologin --groups video au-edge
mkdir -p /opt/au-edge
rm -rf /opt/au-edge/venv
python3 -m venv --system-site-packages /opt/au-edge/venv
/opt/au-edge/venv/bin/pip install --upgrade pip
echo "numpy==$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')" > /opt/au-edge/constraints.txt
/opt/au-edge/venv/bin/pip install -c /opt/au-edge/constraints.txt --report "$inside/pip-report.json" "$package"
/opt/au-edge/venv/bin/python -c "import picamera2, auedge.edge; print('ok')"
/opt/au-edge/venv/bin/pip list -v --format=json > "$inside/pip-list.json"
dpkg-query -W -f '${Package} ${Version}\n' python3 python3-venv python3-numpy ca-certificates > "$inside/apt-arm64.txt"
README
  in_arm64 bash "$INSIDE/readme-install.sh" "$INSIDE/dist/$wheel[$extras]" "$INSIDE" >&2 \
    || { echo "arm64-check: FAIL: the edge/README-pi.md install failed in the arm64 system (above)" >&2; exit 1; }
}

arm64_run() {
  local venv=/opt/au-edge/venv/bin model image images=()
  in_arm64 "$venv/au-edge" bundle-info "$INSIDE/stage/bundle" > "$RUN/bundle-info.txt"
  for image in $(ls "$RUN/stage/images"); do images+=("$INSIDE/stage/images/$image"); done
  for model in $("$HOST_PY" -c "import json, sys; print(' '.join(m['name'] for m in json.load(open(sys.argv[1]))['models']))" "$RUN/stage/stage.json"); do
    in_arm64 "$venv/au-edge" infer --json --model "$model" --bundle "$INSIDE/stage/bundle" "${images[@]}" \
      > "$RUN/infer-$model.jsonl"
  done
  in_arm64 "$venv/python" "$INSIDE/stage/arm64_device.py" measure --stage "$INSIDE/stage" --out "$INSIDE/arm64.json" \
    --reference "$INSIDE/host.json"
}

arm64_daemon() {
  in_arm64 /opt/au-edge/venv/bin/python "$INSIDE/stage/arm64_device.py" daemon --stage "$INSIDE/stage" --out "$INSIDE/daemon"
}

# The numpy major version python3-numpy has here: Debian's compiled modules (python3-simplejpeg, which the real
# python3-picamera2 imports) are built against it, so the fake picamera2 refuses another, as they do.
SYSTEM_NUMPY_MAJOR=$(chroot "$ROOTFS" dpkg-query -W -f '${Version}' python3-numpy | sed 's/^[0-9]*://; s/\..*//')
step wheel build_wheel
step stage stage
step host-ref "$HOST_PY" "$REPO/scripts/arm64_device.py" measure --stage "$RUN/stage" --out "$RUN/host.json"
mount_arm64
step install readme_install
step infer arm64_run
step daemon arm64_daemon
cleanup
status=0
"$HOST_PY" "$REPO/scripts/arm64_check.py" judge --run "$RUN" || status=$?
echo "arm64-check: run folder $RUN (report.json)" >&2
exit "$status"
