#!/usr/bin/env bash
# Refresh the vendored front-end files in static/vendor/ from npm: pinned versions, licences
# kept beside the files, checksums recorded in static/vendor/VERSIONS. Run by hand when bumping
# a version; the files are committed, so `make run` and `make test` never need npm.
set -euo pipefail
cd "$(dirname "$0")/.."

BARCODE_DETECTOR=3.2.2  # the merchant scanner's BarcodeDetector ponyfill
ZXING_WASM=3.1.3        # the ZXing-C++ WebAssembly that barcode-detector $BARCODE_DETECTOR is built against
CHART_JS=4.6.1          # the dashboard's charts

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unpack() {  # unpack <package> <version> -> prints the unpacked folder
    local folder="$work/$1"
    mkdir -p "$folder"
    (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
    tar xzf "$work/$1-$2.tgz" -C "$folder"
    echo "$folder/package"
}

detector=$(unpack barcode-detector "$BARCODE_DETECTOR")
zxing=$(unpack zxing-wasm "$ZXING_WASM")

wanted=$(node -p "require('$detector/package.json').dependencies['zxing-wasm']")
if [ "$wanted" != "$ZXING_WASM" ]; then
    echo "barcode-detector $BARCODE_DETECTOR wants zxing-wasm $wanted, not $ZXING_WASM" >&2
    exit 1
fi

dest=static/vendor/barcode-detector
rm -rf "$dest"
mkdir -p "$dest"
# The IIFE build defines window.BarcodeDetectionAPI; the page points its wasm loader at our copy.
cp "$detector/dist/iife/ponyfill.js" "$dest/ponyfill.js"
cp "$detector/LICENSE" "$dest/LICENSE"
cp "$zxing/dist/reader/zxing_reader.wasm" "$dest/zxing_reader.wasm"
cp "$zxing/LICENSE" "$dest/LICENSE.zxing-wasm"

# The ponyfill carries the SHA-256 of the wasm it expects: refuse a mismatched pair.
sha=$(sha256sum "$dest/zxing_reader.wasm" | cut -d' ' -f1)
grep -q "$sha" "$dest/ponyfill.js" || { echo "zxing_reader.wasm does not match the ponyfill" >&2; exit 1; }

charts=$(unpack chart.js "$CHART_JS")
rm -rf static/vendor/chart.js
mkdir -p static/vendor/chart.js
# The UMD build defines window.Chart; no bundler, no module loader.
cp "$charts/dist/chart.umd.js" static/vendor/chart.js/chart.umd.js
cp "$charts/LICENSE.md" static/vendor/chart.js/LICENSE.md

{
    echo "# Vendored front-end files (refresh with scripts/vendor.sh; do not edit by hand)"
    echo "barcode-detector $BARCODE_DETECTOR (MIT) barcode-detector/ponyfill.js"
    echo "zxing-wasm $ZXING_WASM (MIT; ZXing-C++ is Apache-2.0) barcode-detector/zxing_reader.wasm"
    echo "chart.js $CHART_JS (MIT) chart.js/chart.umd.js"
    (cd static/vendor && sha256sum barcode-detector/ponyfill.js barcode-detector/zxing_reader.wasm chart.js/chart.umd.js)
} > static/vendor/VERSIONS
echo "vendored into static/vendor/:"
cat static/vendor/VERSIONS
