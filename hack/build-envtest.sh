#!/usr/bin/env bash
# Builds the control-plane binaries that envtest needs (kube-apiserver and etcd) from the Go module
# proxy, because setup-envtest's download sources cannot be reached from every machine we build on.
#
# The binaries land in bin/k8s/<version>-<os>-<arch>/, the layout setup-envtest uses, and the build
# is skipped when that folder already holds binaries that report the wanted versions. Print the
# folder (for KUBEBUILDER_ASSETS) with: hack/build-envtest.sh --print-dir
#
# Cold (empty Go caches) this takes about 8 minutes and 2.3 GB of memory on two cores; warm, seconds.
set -euo pipefail

K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.7.3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"
DEST="${ROOT}/bin/k8s/${K8S_VERSION}-${GOOS}-${GOARCH}"

if [[ "${1:-}" == "--print-dir" ]]; then
	echo "${DEST}"
	exit 0
fi

log() { echo "build-envtest: $*" >&2; }
fail() {
	log "ERROR: $*"
	log "The control plane for the tests is built from Go modules (k8s.io/kubernetes v${K8S_VERSION},"
	log "go.etcd.io/etcd/server/v3 v${ETCD_VERSION}). Check that 'go env GOPROXY' reaches a module proxy,"
	log "that about 3 GB of memory and 2 GB of disk are free, then run 'make envtest' again."
	log "Binaries you already have can be used instead: put kube-apiserver and etcd in ${DEST}."
	exit 1
}

# The version output is captured before it is matched: piping it into `grep -q` under pipefail
# fails at random, when grep exits before etcd has written its last line and etcd dies of SIGPIPE.
version_of() { [[ -x "$1" ]] && "$1" --version 2>/dev/null; }
have_apiserver() { local v; v="$(version_of "${DEST}/kube-apiserver")" && [[ "${v}" == "Kubernetes v${K8S_VERSION}" ]]; }
have_etcd() { local v; v="$(version_of "${DEST}/etcd")" && grep -q "^etcd Version: ${ETCD_VERSION}$" <<<"${v}"; }

if have_apiserver && have_etcd; then
	exit 0
fi

command -v go >/dev/null || fail "go is not on PATH"
mkdir -p "${DEST}"
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0

if ! have_apiserver; then
	log "building kube-apiserver v${K8S_VERSION} from the Go module proxy (cold: several minutes)"
	mkdir -p "${WORK}/apiserver"
	cd "${WORK}/apiserver"
	# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths, so
	# `go install pkg@version` refuses it. A wrapper module replaces each with its published tag.
	gomod="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
	[[ -f "${gomod}" ]] || fail "could not download k8s.io/kubernetes@v${K8S_VERSION}"
	staging="$(grep -E '^[[:space:]]+k8s\.io/[a-z0-9-]+ v0\.0\.0([[:space:]]|$)' "${gomod}" | awk '{print $1}' | sort -u)"
	[[ -n "${staging}" ]] || fail "found no staging modules in k8s.io/kubernetes' go.mod"
	{
		echo "module envtest/apiserver"
		echo "go 1.26"
		echo "require k8s.io/kubernetes v${K8S_VERSION}"
		for m in ${staging}; do echo "replace ${m} => ${m} v0.${K8S_VERSION#1.}"; done
	} >go.mod
	minor="$(echo "${K8S_VERSION}" | cut -d. -f2)"
	ldflags="-s -w"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X ${pkg}.gitVersion=v${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
		ldflags+=" -X ${pkg}.gitTreeState=clean"
	done
	go build -tags selinux,notest,grpcnotrace -ldflags "${ldflags}" -o "${DEST}/kube-apiserver.tmp" \
		k8s.io/kubernetes/cmd/kube-apiserver || fail "go build of kube-apiserver failed (see above)"
	mv "${DEST}/kube-apiserver.tmp" "${DEST}/kube-apiserver"
	have_apiserver || fail "the built kube-apiserver does not report v${K8S_VERSION}"
fi

if ! have_etcd; then
	log "building etcd v${ETCD_VERSION} from the Go module proxy"
	mkdir -p "${WORK}/etcd"
	cd "${WORK}/etcd"
	printf 'module envtest/etcd\ngo 1.26\nrequire go.etcd.io/etcd/server/v3 v%s\n' "${ETCD_VERSION}" >go.mod
	go build -ldflags "-s -w" -o "${DEST}/etcd.tmp" go.etcd.io/etcd/server/v3 || fail "go build of etcd failed (see above)"
	mv "${DEST}/etcd.tmp" "${DEST}/etcd"
	have_etcd || fail "the built etcd does not report v${ETCD_VERSION}"
fi
log "kube-apiserver and etcd ready in ${DEST}"
