#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (>= 15.3) are installed; starts nothing.
# On a machine without them, installs Debian's postgresql-15 when it can (root + apt-get),
# and otherwise says what to do. Never touches an existing cluster.
set -euo pipefail

: "${PALISADE_PG_BIN:=}"

have_binaries() {
    if [[ -n "$PALISADE_PG_BIN" && -x "$PALISADE_PG_BIN/initdb" ]]; then return 0; fi
    if command -v initdb >/dev/null 2>&1; then return 0; fi
    if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then return 0; fi
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_binaries; then
    exit 0
fi

if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL server binaries not found: installing Debian's postgresql-15" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Do not create or start the default cluster: the tests run their own.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/palisade-no-main.conf
    apt-get install -y -qq postgresql-15 >/dev/null
    exit 0
fi

echo "PostgreSQL server binaries (>= 15.3) not found: install them (Debian: apt-get install postgresql-15)" \
     "or set PALISADE_PG_BIN to their directory" >&2
exit 1
