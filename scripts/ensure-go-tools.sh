#!/usr/bin/env bash
# The Go load generator of `liveclass-bench crosscheck` (bench/go/*.go): Debian's golang-go and
# golang-github-gorilla-websocket-dev (its only dependency), installed when run as root without
# them, then `go build` in GOPATH mode against the Debian sources in /usr/share/gocode (nothing
# from the Go module proxy) into bench/go/build/loadgen (gitignored), again only when a source
# is newer than the binary. Prints the binary's path.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/../bench/go"

gorilla=/usr/share/gocode/src/github.com/gorilla/websocket
if ! command -v go >/dev/null || [ ! -d "$gorilla" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing golang-go and golang-github-gorilla-websocket-dev (Debian packages)" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            golang-go golang-github-gorilla-websocket-dev >/dev/null
    else
        echo "the Go load generator needs Debian's golang-go and golang-github-gorilla-websocket-dev" >&2
        exit 1
    fi
fi
binary=build/loadgen
stale=0
[ -x "$binary" ] || stale=1
for source in *.go "$self"; do
    if [ "$source" -nt "$binary" ]; then stale=1; fi
done
if [ "$stale" = 1 ]; then
    version=$(dpkg-query -W -f='${Version}' golang-github-gorilla-websocket-dev 2>/dev/null || echo unknown)
    mkdir -p build
    GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$PWD/build/cache" GOFLAGS= \
        go build -o "$binary.tmp" -ldflags "-X main.gorillaVersion=$version" .
    mv "$binary.tmp" "$binary"
fi
echo "$PWD/$binary"
