#!/usr/bin/env bash
# The vendored tokio-postgres (vendor/tokio-postgres/PALISADE.md) is crates.io's package plus
# vendor/tokio-postgres.patch, less its tests, benches and Cargo.lock, and nothing else; and
# every advisory the RustSec database holds for tokio-postgres has been read. cargo-deny does
# not check a path dependency (it matches advisories by a crate's registry source), so this
# script does, beside it: scripts/cargo_deny.sh runs it.
#
# The package comes from cargo's cache when it is there, else from static.crates.io (the
# [patch] means `cargo fetch` never downloads it), and must have the checksum crates.io's index
# gives for it (the one Cargo.lock held before the patch). Needs curl, tar, diff and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

name=tokio-postgres
version=0.7.18
sha256=a528f7d280f6d5b9cd149635c8705b0dd049754bc67d81d31fa25169a93809d3
# The advisories read, each with why the vendored version is not affected.
#   RUSTSEC-2026-0178: a DataRow with fewer fields than columns panicked Row::get; patched in
#   0.7.18, the vendored version (in Row::new, src/row.rs, which the patch's pipeline builds its
#   rows with, unchanged).
acknowledged="RUSTSEC-2026-0178"
: "${PALISADE_ADVISORY_DB:=../shared/advisory-db}"

if [ ! -d "$PALISADE_ADVISORY_DB/crates" ]; then
    echo "no advisory database at $PALISADE_ADVISORY_DB (crates/ expected)" >&2
    exit 1
fi

# Cargo builds tokio-postgres from vendor/ and no other crate from a path outside the workspace:
# a second path dependency would escape both cargo-deny and this check. (A crate from git or from
# another registry is refused by cargo-deny's [sources], deny.toml.)
cargo metadata --locked --format-version 1 | python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
vendored = os.path.realpath("vendor/'"$name"'/Cargo.toml")
bad, found = [], False
for p in meta["packages"]:
    if p["name"] == "'"$name"'":
        found = os.path.realpath(p["manifest_path"]) == vendored and p["version"] == "'"$version"'"
        if not found:
            bad.append(p["name"] + " " + p["version"] + " from " + (p["source"] or p["manifest_path"]))
    elif p["source"] is None and p["id"] not in members:
        bad.append(p["name"] + " " + p["version"] + " from " + p["manifest_path"])
if bad or not found:
    sys.exit("cargo builds another crate from a path outside the workspace, or a tokio-postgres other than the vendored one: " + "; ".join(bad or ["no vendored '"$name"'"]))
'

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
crate="$work/$name-$version.crate"
for cached in "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$version.crate"; do
    [ -f "$cached" ] && echo "$sha256  $cached" | sha256sum --check --quiet 2>/dev/null \
        && cp "$cached" "$crate" && break
done
if [ ! -f "$crate" ]; then
    curl -sSfL --proto '=https' --retry 3 --connect-timeout 10 --max-time 120 -o "$crate" \
        "https://static.crates.io/crates/$name/$name-$version.crate"
fi
if ! echo "$sha256  $crate" | sha256sum --check --quiet; then
    echo "$name $version: the package's checksum is not crates.io's ($sha256)" >&2
    exit 1
fi

# The package less what PALISADE.md lists as removed (a), this directory less PALISADE.md (b),
# and their difference, which must be vendor/$name.patch byte for byte.
odd="$(find "vendor/$name" \( -type l -o ! \( -type f -o -type d \) -o \( -type f -perm /111 \) \) -print)"
if [ -n "$odd" ]; then
    echo "vendor/$name holds symbolic links, special or executable files: $odd" >&2
    exit 1
fi
tar -xzf "$crate" -C "$work"
mv "$work/$name-$version" "$work/a"
rm -rf "$work/a/tests" "$work/a/benches" "$work/a/Cargo.lock"
cp -R "vendor/$name" "$work/b"
rm "$work/b/PALISADE.md"
rc=0
(cd "$work" && LC_ALL=C diff -ru a b) > "$work/actual.patch" || rc=$?
if [ "$rc" -gt 1 ]; then
    echo "diff failed ($rc)" >&2
    exit 1
fi
sed -E '/^(---|\+\+\+) [ab]\//s/\t.*$//' "$work/actual.patch" > "$work/actual.clean"
if ! cmp -s "$work/actual.clean" "vendor/$name.patch"; then
    diff -u "vendor/$name.patch" "$work/actual.clean" >&2 || true
    echo "vendor/$name.patch is not the difference between crates.io's $name $version and" \
        "vendor/$name (above): commit the directory's change as the patch (scripts/check_vendored.sh" \
        "compares them as PALISADE.md says), or undo it" >&2
    exit 1
fi
echo "vendor/$name: crates.io's $name $version (sha256 $sha256) with vendor/$name.patch"

for id in $acknowledged; do
    if [ ! -f "$PALISADE_ADVISORY_DB/crates/$name/$id.md" ]; then
        echo "$id is acknowledged for $name but not in $PALISADE_ADVISORY_DB" >&2
        exit 1
    fi
done
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
