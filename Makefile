# devicelogin-operator: every tool this Makefile needs is pinned below and installed into bin/ by it.

IMG ?= devicelogin-operator:dev
ENVTEST_K8S_VERSION ?= 1.37.2
ENVTEST_ETCD_VERSION ?= 3.7.3
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
ENVTEST_ASSETS = $(LOCALBIN)/k8s/$(ENVTEST_K8S_VERSION)-$(shell go env GOOS)-$(shell go env GOARCH)
export ENVTEST_K8S_VERSION ENVTEST_ETCD_VERSION

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs, and the RBAC that the markers ask for (checked against config/rbac/role.yaml by the tests).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases \
		output:rbac:artifacts:config=hack/generated/rbac

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint with .golangci.yml (CI fails on any finding).
	$(GOLANGCI_LINT) run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply the fixes it can make.
	$(GOLANGCI_LINT) run --fix

.PHONY: helm-lint
helm-lint: helm kustomize ## Lint and render the Helm chart, and check it and config/namespaced against config/.
	HELM="$(HELM)" KUSTOMIZE="$(KUSTOMIZE)" hack/check-chart.sh

.PHONY: sync-chart
sync-chart: manifests ## Copy the CRDs, the manager's ClusterRole and the alert rules from config/ into the Helm chart.
	rm -f charts/devicelogin-operator/crds/*.yaml
	cp config/crd/bases/*.yaml charts/devicelogin-operator/crds/
	cp config/rbac/role.yaml charts/devicelogin-operator/files/manager-role.yaml
	cp config/prometheus/alerts.yaml charts/devicelogin-operator/files/alerts.yaml

.PHONY: test
test: manifests generate fmt vet envtest ## Run the unit and envtest suites against a real kube-apiserver and etcd.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test $$(go list ./... | grep -v /test/e2e) -coverprofile cover.out

.PHONY: test-e2e
test-e2e: build envtest dex ## Run the end-to-end suite: the manager binary, a local control plane and a real Dex.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" DEX_BINARY="$(LOCALBIN)/dex" MANAGER_BINARY="$(LOCALBIN)/manager" \
		go test ./test/e2e/ -count=1 -v -ginkgo.v -timeout 20m

.PHONY: demo
demo: build envtest dex ## Run the operator against a local control plane and Dex; DEMO_APPROVE=auto approves by itself.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" DEX_BINARY="$(LOCALBIN)/dex" MANAGER_BINARY="$(LOCALBIN)/manager" \
		DEMO_APPROVE="$(DEMO_APPROVE)" go run ./hack/demo

.PHONY: bench
bench: envtest ## Run the benchmarks.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test ./... -run '^$$' -bench . -benchmem

N ?= 1000
.PHONY: bench-scale
bench-scale: build envtest ## Measure N (1000) DeviceLogins at once beside a naive client, goals of issue 12 (docs/performance.md); BENCH_SCALE_ARGS adds flags.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" MANAGER_BINARY="$(LOCALBIN)/manager" go run ./test/scale -n $(N) $(BENCH_SCALE_ARGS)

.PHONY: fuzz
fuzz: ## Fuzz the response parsers and secretTemplate rendering, each for FUZZTIME (30s by default).
	go test ./internal/oauth/ -run '^$$' -fuzz '^FuzzParseTokenResponse$$' -fuzztime $${FUZZTIME:-30s}
	go test ./internal/oauth/ -run '^$$' -fuzz '^FuzzParseDeviceAuthorizationResponse$$' -fuzztime $${FUZZTIME:-30s}
	go test ./internal/secrettemplate/ -run '^$$' -fuzz '^FuzzRender$$' -fuzzminimizetime 5s -fuzztime $${FUZZTIME:-30s}

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary.
	go build -o $(LOCALBIN)/manager .

.PHONY: plugin
plugin: ## Build the kubectl plugin bin/kubectl-devicelogin (put bin/ on PATH, then: kubectl devicelogin --help).
	go build -o $(LOCALBIN)/kubectl-devicelogin ./cmd/kubectl-devicelogin

.PHONY: run
run: manifests generate fmt vet ## Run the manager from your host against the current kubeconfig.
	go run . --cluster-resource-namespace=$${CLUSTER_RESOURCE_NAMESPACE:-devicelogin-system}

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image.
	docker push $(IMG)

.PHONY: build-installer
build-installer: manifests generate kustomize ## Render dist/install.yaml with the CRDs and the deployment for IMG.
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default > dist/install.yaml

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRDs from the cluster.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator with image IMG into the cluster.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into bin/.
$(KUSTOMIZE): | $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint into bin/.
$(GOLANGCI_LINT): | $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: helm
helm: $(HELM) ## Install helm into bin/.
# Stamped as upstream's release builds are: without it helm reports no patch version and renders
# charts for Kubernetes v1.20. HELM_K8S_MINOR is the minor of the k8s.io/client-go helm links.
HELM_K8S_MINOR ?= 37
$(HELM): | $(LOCALBIN)
	@echo "Installing helm.sh/helm/v3/cmd/helm@$(HELM_VERSION) into $(LOCALBIN)"
	GOBIN=$(LOCALBIN) GOFLAGS=-mod=mod go install -ldflags "-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
		-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM_K8S_MINOR) \
		-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM_K8S_MINOR)" \
		helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(LOCALBIN)/helm $(HELM)

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd from the Go module proxy into bin/k8s (skipped when present).
	hack/build-envtest.sh

.PHONY: dex
dex: ## Build Dex from the Go module proxy into bin/ (skipped when present).
	hack/build-dex.sh

# go-install-tool installs a pinned Go tool into bin/ under a versioned name.
define go-install-tool
@[ -f "$(1)" ] || { \
set -e; \
echo "Installing $(2)@$(3) into $(LOCALBIN)"; \
GOBIN=$(LOCALBIN) GOFLAGS=-mod=mod go install $(2)@$(3); \
mv "$(LOCALBIN)/$$(basename $(2) | sed 's/^v[0-9]*$$/kustomize/')" $(1); \
}
endef
