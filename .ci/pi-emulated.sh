#!/usr/bin/env bash
# A maintainer's check, not run by CI: the README's two commands on the two
# Raspberry Pi OS bases (Debian Bookworm arm64 and armhf), under emulation.
#
# For each architecture it builds a minimal Bookworm root file system with
# debootstrap, adds only python3, python3-venv and ca-certificates (no compiler),
# copies the working tree in (what `git ls-files` lists), and in a chroot run
# through qemu-user-static:
#   1. the README's run command: the venv, `pip install -e .`, `vending run`,
#      until GET /health answers (then SIGTERM);
#   2. the README's test command's install (`pip install -e '.[test]'`), then the
#      unit tests (`pytest tests/unit`; the whole suite takes hours emulated).
# Any package that pip would have to compile fails step 1 or 2 (there is no
# compiler in the root).
#
# Needs: root, debootstrap, qemu-user-static and binfmt-support (Debian/Ubuntu:
# apt-get install debootstrap qemu-user-static binfmt-support), network access to
# a Debian mirror and the Python package registry, and about 1.5 GB of disk per
# architecture.  Takes 20 to 60 minutes per architecture.
#
#   sudo .ci/pi-emulated.sh                 # both, in /var/tmp/vending-pi
#   sudo .ci/pi-emulated.sh armhf           # one
#   WORK=/srv/pi MIRROR=http://... sudo -E .ci/pi-emulated.sh
#
# WORK keeps the root file systems between runs (debootstrap is skipped when a
# root is there; delete it to start afresh).  MIRROR is passed to debootstrap
# (default: debootstrap's own).  A report per architecture is left in
# $WORK/<arch>.log; the script exits non-zero if any step failed.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/var/tmp/vending-pi}
ARCHES=("$@")
[ ${#ARCHES[@]} -gt 0 ] || ARCHES=(arm64 armhf)

die() { echo "pi-emulated.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot)"
for tool in debootstrap chroot git; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

qemu_for() {
    case "$1" in
        arm64) echo qemu-aarch64-static ;;
        armhf) echo qemu-arm-static ;;
        *) die "unknown architecture $1 (arm64 or armhf)" ;;
    esac
}

make_root() {  # $1 arch, $2 root
    local arch=$1 root=$2 qemu
    qemu=$(qemu_for "$arch")
    command -v "$qemu" >/dev/null || die "$qemu is not installed (qemu-user-static)"
    if [ ! -x "$root/usr/bin/python3" ]; then
        mkdir -p "$root"
        # shellcheck disable=SC2086
        debootstrap --arch="$arch" --variant=minbase \
            --include=python3,python3-venv,ca-certificates bookworm "$root" ${MIRROR:-}
    fi
    cp "$(command -v "$qemu")" "$root/usr/bin/"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
}

copy_tree() {  # the checkout's files, fresh each run (no venv, no state)
    local root=$1
    rm -rf "$root/root/vending"
    mkdir -p "$root/root/vending"
    (cd "$SRC" && git ls-files -z --cached --others --exclude-standard) \
        | (cd "$SRC" && xargs -0 tar -cf - --) | tar -C "$root/root/vending" -xf -
}

in_root() {  # $1 root, rest: a shell script run in the chroot, in the checkout
    local root=$1; shift
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
    mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
    local rc=0
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin:/usr/sbin:/sbin \
        /bin/bash -euo pipefail -c "cd /root/vending && $*" || rc=$?
    umount "$root/dev" "$root/proc" || true
    return "$rc"
}

# The README's commands, as written there, and what a person checks after each.
RUN_STEP='
python3 -c "import platform, sys; print(platform.machine(), sys.version.split()[0])"
if command -v cc gcc rustc >/dev/null 2>&1; then echo "a compiler is installed"; exit 1; fi
python3 -m venv .venv && .venv/bin/pip install -q -e .
.venv/bin/vending run --db /tmp/pi-check/vending.db > /tmp/pi-check.log 2>&1 &
pid=$!
.venv/bin/python - <<EOF
import json, time, urllib.request
deadline = time.monotonic() + 180
while True:
    try:
        with urllib.request.urlopen("http://127.0.0.1:8080/health", timeout=5) as r:
            print("vending run answers /health:", json.load(r)); break
    except OSError:
        if time.monotonic() > deadline: raise SystemExit("no /health within 180 s")
        time.sleep(1)
EOF
kill -TERM $pid; wait $pid
'
TEST_STEP='
.venv/bin/pip install -q -e ".[test]"
.venv/bin/pip list 2>/dev/null | grep -Ei "^(mypy|schemathesis) " || echo "mypy and schemathesis: not installed here"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/unit
'

failed=()
for arch in "${ARCHES[@]}"; do
    root=$WORK/$arch
    log=$WORK/$arch.log
    mkdir -p "$WORK"
    echo "== $arch: root file system in $root (log: $log)"
    make_root "$arch" "$root"
    copy_tree "$root"
    : > "$log"
    ok=1
    for step in RUN TEST; do
        echo "== $arch: the README's $(tr 'A-Z' 'a-z' <<< "$step") command" | tee -a "$log"
        script=${step}_STEP
        if ! in_root "$root" "${!script}" 2>&1 | tee -a "$log"; then ok=0; break; fi
    done
    [ "$ok" = 1 ] || failed+=("$arch")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]} (see $WORK/<arch>.log)" >&2
    exit 1
fi
echo "both README commands work on: ${ARCHES[*]}"
