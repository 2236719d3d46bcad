#!/usr/bin/env bash
# Installs what anju needs on Debian 12 (bookworm), idempotently:
#   - PostgreSQL 15 and its server headers,
#   - the TimescaleDB extension (Apache-licensed build) compiled from Debian's
#     own source package (suite trixie) against PostgreSQL 15,
#   - Mosquitto >= 2.0.18 from bookworm-backports, with the headers to build
#     anju's broker plugin (deploy/mosquitto/anju_guard.c) into
#     /usr/local/lib/anju/ (the embedded broker builds its own copy),
#   - Debian's chromium (for the console's browser tests),
#   - the project's virtualenv (.venv) with pinned dependencies;
#   - only with --cluster (`make setup-cluster`): the engines of a
#     multi-node deployment, all Debian packages (RabbitMQ, NATS, etcd,
#     Patroni, PgBouncer, HAProxy), their own system services left stopped
#     (`anju cluster` runs its nodes under its own state directory).
# A second run checks each part and finishes in seconds.
#
# The package mirror is read from this machine's own apt configuration; the
# extra suites are added through a private apt configuration so the system's
# sources are never touched.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
PG_MAJOR=15
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
TSDB_SERIES=2.19
MOSQUITTO_MIN=2.0.18
APT_STATE=${ANJU_APT_STATE:-/var/lib/anju/apt}
BUILD_DIR=${ANJU_BUILD_DIR:-/var/cache/anju/build}
PYTHON=${PYTHON:-python3}
export DEBIAN_FRONTEND=noninteractive

log() { printf '[install] %s\n' "$*"; }
die() { printf '[install] error: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "$1 is missing and installing it needs root (run: sudo make setup)"
}

# The first "deb" mirror of the system's Debian archive (not its security one).
debian_mirror() {
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '
      /^Types:/ { deb = ($0 ~ /(^|[ \t])deb([ \t]|$)/) }
      /^URIs:/ && deb { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }
    ' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {
      for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  printf '%s\n' "${uri%/}"
}

codename() { . /etc/os-release && printf '%s\n' "${VERSION_CODENAME:-bookworm}"; }

apt_updated=0
apt_system_update() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
}

private_apt_ready=0
private_apt() {
  # apt-get with a private sources list: the system's suite plus backports
  # and trixie's deb-src, all from the system's own mirror.
  if [ "$private_apt_ready" = 0 ]; then
    local mirror suite keyring
    mirror=$(debian_mirror)
    suite=$(codename)
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mkdir -p "$APT_STATE/lists/partial"
    cat >"$APT_STATE/sources.list" <<EOF
deb [signed-by=$keyring] $mirror $suite main
deb [signed-by=$keyring] $mirror $suite-updates main
deb [signed-by=$keyring] $mirror $suite-backports main
deb-src [signed-by=$keyring] $mirror trixie main
EOF
    apt-get -qq -o Dir::Etc::sourcelist="$APT_STATE/sources.list" \
      -o Dir::Etc::sourceparts=/dev/null -o Dir::State::Lists="$APT_STATE/lists" update
    private_apt_ready=1
  fi
  apt-get -o Dir::Etc::sourcelist="$APT_STATE/sources.list" \
    -o Dir::Etc::sourceparts=/dev/null -o Dir::State::Lists="$APT_STATE/lists" "$@"
}

missing_debs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf '%s ' "$p"
  done
}

install_postgres() {
  local missing
  missing=$(missing_debs postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR cmake gcc make \
    libssl-dev dpkg-dev xz-utils)
  if [ -n "$missing" ]; then
    need_root "$missing"
    log "installing $missing"
    apt_system_update
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
  log "PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}')"
}

install_timescaledb() {
  local libdir sharedir
  libdir=$("$PG_CONFIG" --pkglibdir)
  sharedir=$("$PG_CONFIG" --sharedir)
  if ls "$libdir"/timescaledb-$TSDB_SERIES.*.so >/dev/null 2>&1 \
     && [ -f "$sharedir/extension/timescaledb.control" ]; then
    log "TimescaleDB $(ls "$libdir"/timescaledb-$TSDB_SERIES.*.so | sed 's/.*timescaledb-//; s/\.so$//' | tail -1) present"
    return
  fi
  need_root "TimescaleDB"
  log "building TimescaleDB $TSDB_SERIES (Apache-licensed) from Debian's source package"
  rm -rf "$BUILD_DIR" && mkdir -p "$BUILD_DIR"
  # The source is only unpacked here; apt's download sandbox user cannot write
  # to a root-owned build directory, so download as root.
  (cd "$BUILD_DIR" && private_apt -o APT::Sandbox::User=root source -qq timescaledb >/dev/null)
  local src
  src=$(find "$BUILD_DIR" -maxdepth 1 -mindepth 1 -type d -name 'timescaledb-*' | head -1)
  [ -n "$src" ] || die "apt-get source timescaledb produced no source tree in $BUILD_DIR"
  case "$src" in *"-$TSDB_SERIES."*) ;; *) log "note: source is $(basename "$src"), expected $TSDB_SERIES.x";; esac
  local buildlog="$BUILD_DIR/build.log"
  if ! (cd "$src" && ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
        -DWARNINGS_AS_ERRORS=OFF -DPG_CONFIG="$PG_CONFIG" \
      && make -C build -j"$(nproc)" && make -C build install) >"$buildlog" 2>&1; then
    tail -30 "$buildlog" >&2
    die "building TimescaleDB failed; the whole log is $buildlog"
  fi
  log "TimescaleDB installed into $libdir"
}

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

install_mosquitto() {
  local have=""
  if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
    have=$(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null | sed 's/-.*//')
  fi
  if [ -n "$have" ] && version_ge "$have" "$MOSQUITTO_MIN" \
     && [ -z "$(missing_debs mosquitto-clients mosquitto-dev libmosquitto-dev)" ]; then
    log "Mosquitto $have present"
    build_mosquitto_guard
    return
  fi
  need_root "Mosquitto >= $MOSQUITTO_MIN"
  log "installing Mosquitto from $(codename)-backports"
  # The -dev packages carry the plugin headers, of the same version as the broker.
  private_apt install -y -qq --no-install-recommends -t "$(codename)-backports" \
    mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev >/dev/null
  # The package starts a system-wide broker where an init system runs; anju
  # starts its own, so the system one is not needed.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
  log "Mosquitto $(dpkg-query -W -f='${Version}' mosquitto) installed"
  build_mosquitto_guard
}

# The plugin that refuses a device's SUBSCRIBE and any client id but its user
# name (Mosquitto's password and ACL files cannot say either), for a broker
# configured from deploy/mosquitto/anju.conf.
build_mosquitto_guard() {
  local src="$here/deploy/mosquitto/anju_guard.c" out=/usr/local/lib/anju/anju_guard.so
  if [ -f "$out" ] && [ "$out" -nt "$src" ]; then
    log "broker plugin $out present"
    return
  fi
  [ "$(id -u)" = 0 ] || { log "note: not root, broker plugin not installed in $out"; return; }
  mkdir -p "$(dirname "$out")"
  cc -shared -fPIC -O2 -Wall -o "$out.tmp" "$src" && chmod 0755 "$out.tmp" && mv "$out.tmp" "$out" \
    || die "building the broker plugin $out failed"
  log "broker plugin built: $out"
}

install_chromium() {
  [ "${ANJU_SKIP_CHROMIUM:-0}" = 1 ] && return
  local missing
  missing=$(missing_debs chromium fonts-noto-cjk)
  if [ -n "$missing" ]; then
    need_root "$missing"
    log "installing $missing"
    apt_system_update
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
}

ensure_service_user() {
  # PostgreSQL refuses to run as root; the embedded servers run as this user.
  if [ "$(id -u)" = 0 ] && ! id anju >/dev/null 2>&1; then
    log "creating system user anju (runs the embedded servers)"
    useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin anju
  fi
}

install_venv() {
  local stamp="$here/.venv/.anju-installed" want
  want=$(cat "$here/requirements.lock" "$here/pyproject.toml" | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log ".venv up to date"
    return
  fi
  log "creating .venv with pinned dependencies"
  [ -x "$here/.venv/bin/python" ] || "$PYTHON" -m venv "$here/.venv"
  # (this machine's pip configuration may name local indexes that do not exist:
  # pip warns once per package, which says nothing about anju)
  "$here/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.lock" \
    2> >(grep -v "^WARNING: Location .* is ignored" >&2)
  "$here/.venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$here" \
    2> >(grep -v "^WARNING: Location .* is ignored" >&2)
  printf '%s\n' "$want" >"$stamp"
}

CLUSTER_DEBS="rabbitmq-server nats-server etcd-server etcd-client patroni pgbouncer haproxy"

install_cluster() {
  local missing svc
  missing=$(missing_debs $CLUSTER_DEBS)
  if [ -n "$missing" ]; then
    need_root "$missing"
    log "installing $missing"
    apt_system_update
    # policy-rc.d 101: the packages' own services must not start on install
    # (they would take the default ports a cluster's nodes are given).
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created=1
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
      [ "$created" = 1 ] && rm -f "$policy"; die "installing $missing failed"; }
    [ "$created" = 1 ] && rm -f "$policy"
    for svc in rabbitmq-server nats-server etcd patroni pgbouncer haproxy; do
      if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then
        systemctl stop "$svc" || true
      fi
    done
  fi
}

main() {
  install_postgres
  install_timescaledb
  install_mosquitto
  install_chromium
  ensure_service_user
  install_venv
  log "ready"
}

# Sourced (e.g. to run one step by hand), it only defines the steps.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main
  if [ "${1:-}" = "--cluster" ]; then install_cluster; log "cluster engines ready"; fi
fi
