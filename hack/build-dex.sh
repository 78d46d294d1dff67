#!/usr/bin/env bash
# Builds Dex (a real OAuth 2.0 / OIDC provider with the device flow) into bin/dex from the Go module
# proxy, for the end-to-end tests and `make demo`.
#
# Dex's module path has no /v2, so its v2.x tags cannot be named: the tag's commit is used as a
# pseudo-version. Its go.mod replaces github.com/dexidp/dex/api/v2 with a local path, so the build
# goes through a throwaway wrapper module that replaces it with the published tag. Dex never
# becomes a dependency of the operator's own module.
#
# Skipped when bin/dex already reports the wanted version. Cold (empty Go caches) this takes about
# 3.5 minutes on two cores, plus the download of the Go toolchain Dex's dependencies need.
set -euo pipefail

DEX_VERSION="${DEX_VERSION:-v2.45.1}"
# The commit of the v2.45.1 tag, as a pseudo-version.
DEX_MODULE_VERSION="${DEX_MODULE_VERSION:-v0.0.0-20260303133905-11d2eeb52b42}"
DEX_API_VERSION="${DEX_API_VERSION:-v2.4.0}"
# Dex's dependencies need Go 1.27; only this build uses that toolchain.
DEX_GOTOOLCHAIN="${DEX_GOTOOLCHAIN:-go1.27.3}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ROOT}/bin/dex"

log() { echo "build-dex: $*" >&2; }
fail() {
	log "ERROR: $*"
	log "Dex ${DEX_VERSION} is built from Go modules (github.com/dexidp/dex@${DEX_MODULE_VERSION}) with"
	log "the ${DEX_GOTOOLCHAIN} toolchain, which the go command downloads from the module proxy, and cgo"
	log "(a C compiler such as gcc must be on PATH). Check that 'go env GOPROXY' reaches a module proxy,"
	log "that gcc works and that about 2 GB of memory and 1 GB of disk are free, then run 'make dex' again."
	log "A Dex binary you already have can be used instead: copy it to ${DEST}."
	exit 1
}

# Captured before matching: `| grep -q` under pipefail fails at random when dex dies of SIGPIPE.
have_dex() { local v; [[ -x "${DEST}" ]] && v="$("${DEST}" version 2>/dev/null)" && grep -q "Version: ${DEX_VERSION}\$" <<<"${v}"; }

if have_dex; then
	exit 0
fi

command -v go >/dev/null || fail "go is not on PATH"
command -v "$(go env CC 2>/dev/null || echo gcc)" >/dev/null || fail "no C compiler ($(go env CC)) on PATH; Dex needs cgo for sqlite"
mkdir -p "$(dirname "${DEST}")"
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
cd "${WORK}"

cat >go.mod <<EOF
module devicelogin.dev/build-dex

go 1.27

require github.com/dexidp/dex ${DEX_MODULE_VERSION}

replace github.com/dexidp/dex/api/v2 => github.com/dexidp/dex/api/v2 ${DEX_API_VERSION}
EOF
cat >tools.go <<'EOF'
//go:build tools

// Package tools pins Dex's main package, so that `go build` resolves its dependencies here.
package tools

import _ "github.com/dexidp/dex/cmd/dex"
EOF

log "building Dex ${DEX_VERSION} from the Go module proxy with ${DEX_GOTOOLCHAIN} (cold: several minutes)"
start="$(date +%s)"
if ! GOTOOLCHAIN="${DEX_GOTOOLCHAIN}" GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=1 \
	go build -ldflags "-X main.version=${DEX_VERSION}" -o "${DEST}.tmp" github.com/dexidp/dex/cmd/dex; then
	rm -f "${DEST}.tmp"
	fail "go build of Dex failed (see above)"
fi
mv "${DEST}.tmp" "${DEST}"
have_dex || fail "the built ${DEST} does not report ${DEX_VERSION} ('${DEST} version' says: $("${DEST}" version 2>&1 | head -1))"
log "Dex ${DEX_VERSION} ready in ${DEST} (built in $(($(date +%s) - start)) s)"
