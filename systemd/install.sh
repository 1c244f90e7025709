#!/usr/bin/env bash
# Install (or update) the vending controller on a Raspberry Pi.  Idempotent:
# running it again changes nothing that is already right, and never overwrites
# the config or the database.
#
#   sudo systemd/install.sh                       # from a checkout, onto this Pi
#   sudo systemd/install.sh --operator admin      # and name the first operator
#   systemd/install.sh --root /tmp/pi --no-pip    # into a throwaway root (tests)
#
# Steps: system user "vending" in groups gpio and dialout; the code under
# /opt/vending with its venv; /etc/vending/vending.toml (only if missing);
# /var/lib/vending; the units (vending.service, nightly vending-backup.timer);
# the first operator (prompted, or --operator NAME with the password on stdin);
# systemctl enable (and start, unless --no-start).
#
# Options:
#   --root DIR        install under DIR instead of / (users go to DIR/etc/passwd,
#                     units are enabled with systemctl --root, nothing is started)
#   --dry-run         print what would be done, change nothing
#   --no-pip          create the venv without installing packages (offline tests)
#   --vending PATH    the vending command for the operator step (default: the venv's)
#   --operator NAME   first operator's name; the password is read from stdin
#   --no-start        enable the units but do not (re)start the service
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=/
DRY=0
PIP=1
START=1
VENDING=""
OPERATOR=""
USER_NAME=vending

die() { echo "install.sh: $*" >&2; exit 2; }
say() { echo "== $*"; }
run() {
    echo "+ $*"
    if [ "$DRY" = 0 ]; then "$@"; fi
}

while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
        --dry-run) DRY=1; shift ;;
        --no-pip) PIP=0; shift ;;
        --vending) VENDING=${2:?--vending needs a path}; shift 2 ;;
        --operator) OPERATOR=${2:?--operator needs a name}; shift 2 ;;
        --no-start) START=0; shift ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[ -d "$ROOT" ] || die "--root $ROOT: no such directory"
ROOT=$(cd "$ROOT" && pwd)
P=${ROOT%/}                       # prefix for every path ("" on the real root)
APP=$P/opt/vending
VENV=$APP/.venv
ETC=$P/etc/vending
STATE=$P/var/lib/vending
UNITS=$P/etc/systemd/system
DB=$STATE/vending.db
[ -n "$VENDING" ] || VENDING=$VENV/bin/vending
PREFIX=()
if [ -n "$P" ]; then PREFIX=(--prefix "$P"); fi

has_line() { [ -f "$1" ] && grep -q "$2" "$1"; }

ensure_groups_and_user() {
    say "user $USER_NAME in groups gpio and dialout"
    if [ -n "$P" ]; then run install -d -m 0755 "$P/etc"; fi
    for f in passwd group shadow gshadow; do
        if [ -n "$P" ] && [ ! -e "$P/etc/$f" ]; then run touch "$P/etc/$f"; fi
    done
    for g in gpio dialout; do
        has_line "$P/etc/group" "^$g:" || run groupadd "${PREFIX[@]}" --system "$g"
    done
    if ! has_line "$P/etc/passwd" "^$USER_NAME:"; then
        run useradd "${PREFIX[@]}" --system --user-group --home-dir /var/lib/vending \
            --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
    fi
    for g in gpio dialout; do
        has_line "$P/etc/group" "^$g:.*[:,]$USER_NAME\(,\|\$\)" \
            || run usermod "${PREFIX[@]}" --append --groups "$g" "$USER_NAME"
    done
}

owner_ids() {  # uid:gid of the vending user, from the (prefixed) passwd file
    # a dry run before the user exists shows its name (the ids are not known yet)
    if [ "$DRY" = 1 ] && ! has_line "$P/etc/passwd" "^$USER_NAME:"; then
        echo "$USER_NAME:$USER_NAME"; return
    fi
    awk -F: -v u="$USER_NAME" '$1 == u { print $3 ":" $4 }' "$P/etc/passwd"
}

install_code() {
    say "code and venv in $APP"
    run install -d -m 0755 "$APP"
    if [ "$SRC" != "$APP" ]; then
        echo "+ copy $SRC -> $APP"
        if [ "$DRY" = 0 ]; then
            # the code only: no venv, VCS, local state, build output or tool caches
            tar -C "$SRC" --exclude=./.git --exclude=./state --exclude=./build \
                --exclude=./dist --exclude=./.venv --exclude=./venv --exclude='.venv*' \
                --exclude='.hypothesis' --exclude='.pytest_cache' --exclude='.mypy_cache' \
                --exclude='.ruff_cache' --exclude='__pycache__' --exclude='*.pyc' \
                --exclude='*.egg-info' --owner=0 --group=0 \
                --mtime='2000-01-01' -cf - . | tar -C "$APP" --no-same-owner -xf -
        fi
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        # the system's packages stay visible: Pi OS ships lgpio as python3-lgpio
        if [ "$PIP" = 1 ]; then run python3 -m venv --system-site-packages "$VENV"
        else run python3 -m venv --system-site-packages --without-pip "$VENV"; fi
    fi
    if [ "$PIP" = 1 ]; then run "$VENV/bin/pip" install --quiet --upgrade "$APP"; fi
}

install_config() {
    say "config in $ETC, state in $STATE"
    local ids; ids=$(owner_ids)
    run install -d -m 0750 -o 0 -g "${ids#*:}" "$ETC"
    if [ ! -e "$ETC/vending.toml" ]; then
        run install -m 0640 -o 0 -g "${ids#*:}" "$SRC/systemd/vending.toml" "$ETC/vending.toml"
        echo "   edit $ETC/vending.toml: serial port, addresses, pins"
    fi
    run install -d -m 0750 -o "${ids%:*}" -g "${ids#*:}" "$STATE"
}

install_units() {
    say "units in $UNITS"
    run install -d -m 0755 "$UNITS"
    for unit in vending.service vending-backup.service vending-backup.timer; do
        run install -m 0644 "$SRC/systemd/$unit" "$UNITS/$unit"
    done
}

operator_exists() {
    [ -f "$DB" ] && python3 - "$DB" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
try:
    found = con.execute("SELECT 1 FROM users WHERE role = 'operator' LIMIT 1").fetchone()
except sqlite3.Error:
    found = None
con.close()
sys.exit(0 if found else 1)
EOF
}

first_operator() {
    say "first operator"
    # the command as it runs on the machine itself: /opt and /var paths, as the vending user
    local add="sudo -u $USER_NAME /opt/vending/.venv/bin/vending user add NAME --role operator"
    add="$add --db /var/lib/vending/vending.db"
    local where=""
    if [ -n "$P" ]; then where=" (on the machine whose / is $ROOT)"; fi
    if operator_exists; then echo "   an operator exists; add more$where with: $add"; return; fi
    local name=$OPERATOR password
    if [ -z "$name" ]; then
        if [ ! -t 0 ]; then
            echo "   no operator yet: add one$where with: $add"
            return
        fi
        read -r -p "   name of the first operator: " name
    fi
    if [ -t 0 ]; then
        read -r -s -p "   password for $name: " password; echo
    else
        IFS= read -r password || true
    fi
    [ -n "$password" ] || die "the operator's password is empty"
    if [ "$DRY" = 1 ]; then echo "+ vending user add $name --role operator"; return; fi
    local cmd=("$VENDING" user add "$name" --role operator --password-stdin --db "$DB")
    if [ -z "$P" ]; then cmd=(runuser -u "$USER_NAME" -- "${cmd[@]}"); fi
    printf '%s\n' "$password" | "${cmd[@]}"
    local ids; ids=$(owner_ids)
    chown "$ids" "$DB"*
}

enable_units() {
    say "systemd"
    if [ -n "$P" ]; then
        run systemctl --root="$ROOT" enable vending.service vending-backup.timer
        return
    fi
    run systemctl daemon-reload
    run systemctl enable vending.service vending-backup.timer
    if [ "$START" = 1 ]; then
        run systemctl restart vending.service
        run systemctl start vending-backup.timer
        echo "   logs: journalctl -u vending -f"
    fi
}

ensure_groups_and_user
install_code
install_config
install_units
first_operator
enable_units
say "done"
