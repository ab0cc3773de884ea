#!/usr/bin/env bash
# The supply-chain check: `cargo deny check` (advisories, licences, bans, sources; rules and
# reasons in deny.toml) against a local copy of the RustSec advisory database, never fetched:
# these machines cannot reach GitHub. Installs the pinned cargo-deny when it is missing. Then
# scripts/check_vendored.sh: the vendored tokio-postgres, which cargo-deny does not check.
#
# PALISADE_ADVISORY_DB: the database as plain files with its provenance in SOURCE (default
# ../shared/advisory-db, beside the checkout). It is copied into a temporary git repository,
# committed with the date SOURCE gives, so that cargo-deny's staleness limit
# (deny.toml's maximum-db-staleness) measures the copy's real age.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${CARGO_DENY_VERSION:=0.20.2}"
: "${PALISADE_ADVISORY_DB:=../shared/advisory-db}"

if [ "$(cargo deny --version 2>/dev/null || true)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
    echo "installing cargo-deny $CARGO_DENY_VERSION (about 8 minutes on 2 cores)"
    cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked
fi

if [ ! -f "$PALISADE_ADVISORY_DB/SOURCE" ] || [ ! -d "$PALISADE_ADVISORY_DB/crates" ]; then
    echo "no advisory database at $PALISADE_ADVISORY_DB (SOURCE and crates/ expected):" \
        "set PALISADE_ADVISORY_DB to a copy of github.com/rustsec/advisory-db" >&2
    exit 1
fi
source_date="$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' "$PALISADE_ADVISORY_DB/SOURCE" | head -n 1 || true)"
if [ -z "$source_date" ]; then
    echo "$PALISADE_ADVISORY_DB/SOURCE gives no date (YYYY-MM-DD) for the database" >&2
    exit 1
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
# cargo-deny looks for the database of a URL in <db-path>/<last path segment>-<xxh64 of the
# URL>; this is the name for deny.toml's db-urls (cargo-deny 0.20). Another name would fail the
# check ("failed to get 'FETCH_HEAD' metadata"), never skip it.
db="$root/advisory-db-3157b0e258782691"
cp -R "$PALISADE_ADVISORY_DB" "$db"
chmod -R u+w "$db"
(
    # A git hook running CI would point git at the project's repository.
    unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE
    export GIT_AUTHOR_DATE="${source_date}T00:00:00Z" GIT_COMMITTER_DATE="${source_date}T00:00:00Z"
    git -C "$db" init --quiet
    git -C "$db" add --all
    git -C "$db" -c user.name=palisade-ci -c user.email=ci@palisade.invalid \
        -c commit.gpgsign=false -c core.hooksPath=/dev/null \
        commit --quiet --message "$(cat "$PALISADE_ADVISORY_DB/SOURCE")"
)
# cargo-deny dates the copy by the later of HEAD's commit and the .git/HEAD file.
touch -d "${source_date}T00:00:00Z" "$db/.git/HEAD"
echo "advisory database: $(tr '\n' ' ' < "$PALISADE_ADVISORY_DB/SOURCE")"

# The crates' sources (licence files) and the index, from crates.io; then nothing is fetched.
cargo fetch --locked
PALISADE_ADVISORY_DB_ROOT="$root" cargo deny --locked --offline check
# The vendored tokio-postgres, which cargo-deny does not check (a path dependency).
PALISADE_ADVISORY_DB="$PALISADE_ADVISORY_DB" bash scripts/check_vendored.sh
