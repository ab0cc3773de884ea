#!/usr/bin/env bash
# Fetches the released Swagger UI bundle that /docs serves (npm's swagger-ui-dist), checks the
# tarball's sha256, and copies the files the page uses into crates/palisade_api/assets/swagger-ui/
# (the server embeds them with include_bytes!, so the page works offline). It also writes
# SHA256SUMS there, which a unit test compares with the embedded bytes.
#
#   bash scripts/vendor_swagger_ui.sh           # (re)write the vendored files
#   bash scripts/vendor_swagger_ui.sh --check   # only verify the committed files are upstream's
#
# To upgrade: set SWAGGER_UI_VERSION and SWAGGER_UI_SHA256 (the tarball's sha256; compare with
# `npm view swagger-ui-dist@<version> dist.integrity`), run, then update the defaults below and
# the version in the assets' README.md. Nothing of npm runs: the tarball is unpacked, never
# installed (the package's install-time dependency, @scarf/scarf, is telemetry).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${SWAGGER_UI_VERSION:=5.35.0}"
: "${SWAGGER_UI_SHA256:=1b8e891893404ea4c3558b6a87e2a3e494e7eedba41168c2ece5800a391a6ea6}"
: "${SWAGGER_UI_REGISTRY:=https://registry.npmjs.org}"
: "${SWAGGER_UI_DIR:=crates/palisade_api/assets/swagger-ui}"

# What the page loads, and the licence texts that must travel with it.
FILES=(
    swagger-ui-bundle.js
    swagger-ui.css
    favicon-32x32.png
    LICENSE
    NOTICE
    swagger-ui-bundle.js.LICENSE.txt
)

mode="${1:-write}"
case "$mode" in
    write | --check) ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac

url="$SWAGGER_UI_REGISTRY/swagger-ui-dist/-/swagger-ui-dist-$SWAGGER_UI_VERSION.tgz"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetching $url"
curl -sSfL -o "$work/package.tgz" "$url"
echo "$SWAGGER_UI_SHA256  $work/package.tgz" | sha256sum -c --quiet -
tar -xzf "$work/package.tgz" -C "$work"

if [[ "$mode" == "--check" ]]; then
    for f in "${FILES[@]}"; do
        cmp "$work/package/$f" "$SWAGGER_UI_DIR/$f"
    done
    (cd "$work/package" && sha256sum "${FILES[@]}") | diff - "$SWAGGER_UI_DIR/SHA256SUMS"
    echo "$SWAGGER_UI_DIR holds swagger-ui-dist $SWAGGER_UI_VERSION's files unchanged"
    exit 0
fi

mkdir -p "$SWAGGER_UI_DIR"
for f in "${FILES[@]}"; do
    cp "$work/package/$f" "$SWAGGER_UI_DIR/$f"
done
(cd "$SWAGGER_UI_DIR" && sha256sum "${FILES[@]}" > SHA256SUMS)
echo "wrote swagger-ui-dist $SWAGGER_UI_VERSION into $SWAGGER_UI_DIR (see its README.md)"
