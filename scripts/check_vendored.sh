#!/usr/bin/env bash
# The vendored tokio-postgres (vendor/tokio-postgres/PALISADE.md) is crates.io's package plus
# vendor/tokio-postgres.patch, less its tests, benches and Cargo.lock, and nothing else; and
# every advisory the RustSec database holds for tokio-postgres has been read. cargo-deny does
# not check a path dependency (it matches advisories by a crate's registry source), so this
# script does, beside it: scripts/cargo_deny.sh runs it.
#
# The package comes from cargo's cache when it is there, else from static.crates.io, and must
# have the checksum crates.io's index gives for it (the one Cargo.lock held before the patch).
set -euo pipefail
cd "$(dirname "$0")/.."

name=tokio-postgres
version=0.7.18
sha256=a528f7d280f6d5b9cd149635c8705b0dd049754bc67d81d31fa25169a93809d3
# The advisories read, each with why the vendored version is not affected.
#   RUSTSEC-2026-0178: a DataRow with fewer fields than columns panicked Row::get; patched in
#   0.7.18, the vendored version, and the patch does not touch Row.
acknowledged="RUSTSEC-2026-0178"
: "${PALISADE_ADVISORY_DB:=../shared/advisory-db}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
crate="$work/$name-$version.crate"
cached="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$version.crate" 2>/dev/null | head -n 1 || true)"
if [ -n "$cached" ]; then
    cp "$cached" "$crate"
else
    curl -sSfL -o "$crate" "https://static.crates.io/crates/$name/$name-$version.crate"
fi
if ! echo "$sha256  $crate" | sha256sum --check --quiet; then
    echo "$name $version: the package's checksum is not crates.io's ($sha256)" >&2
    exit 1
fi
tar -xzf "$crate" -C "$work"
upstream="$work/$name-$version"
rm -rf "$upstream/tests" "$upstream/benches" "$upstream/Cargo.lock"
patch --quiet --forward -p1 -d "$upstream" < "vendor/$name.patch"
if ! diff -r --exclude=PALISADE.md "$upstream" "vendor/$name"; then
    echo "vendor/$name is not crates.io's $name $version with vendor/$name.patch applied" \
        "(the differences above): regenerate the patch, or undo the edit" >&2
    exit 1
fi
echo "vendor/$name: crates.io's $name $version (sha256 $sha256) with vendor/$name.patch"

new=""
for advisory in "$PALISADE_ADVISORY_DB/crates/$name"/*.md; do
    [ -e "$advisory" ] || continue
    id="$(basename "$advisory" .md)"
    case " $acknowledged " in
        *" $id "*) ;;
        *) new="$new $id" ;;
    esac
done
if [ -n "$new" ]; then
    echo "advisories for the vendored $name that nobody has read:$new" \
        "($PALISADE_ADVISORY_DB/crates/$name): update vendor/$name, or add each to" \
        "scripts/check_vendored.sh's acknowledged list with why it does not apply" >&2
    exit 1
fi
echo "advisories for $name: $acknowledged (read; see scripts/check_vendored.sh)"
