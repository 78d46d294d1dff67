#!/usr/bin/env bash
# Checks charts/devicelogin-operator and the namespace-scoped overlay config/namespaced against
# config/, so that neither drifts from what the tests cover:
#   - the chart's crds/ are config/crd/bases, files/manager-role.yaml is config/rbac/role.yaml and
#     files/alerts.yaml is config/prometheus/alerts.yaml, byte for byte (make sync-chart copies them);
#   - helm lint --strict passes with the default values and with every optional feature on
#     (ci/all-features-values.yaml);
#   - helm template with both renders the manager's RBAC with exactly the rules of
#     config/rbac/role.yaml (hack/chartcheck): one ClusterRole by default; with watchNamespaces a Role
#     per namespace, a ClusterRole for ClusterOAuthProviders only, a Role that gets client secrets
#     in the cluster-resource namespace and no ClusterRole on Secrets; plus the Deployment's
#     --watch-namespaces, the ServiceMonitor and the PrometheusRule's groups;
#   - kustomize build config/namespaced passes the same RBAC check.
# HELM and KUSTOMIZE name the binaries (make helm-lint sets both).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
HELM="${HELM:-${ROOT}/bin/helm}"
KUSTOMIZE="${KUSTOMIZE:-${ROOT}/bin/kustomize}"
CHART=charts/devicelogin-operator
RELEASE=dl
NAMESPACE=devicelogin-system
MANAGER_ROLE="${RELEASE}-devicelogin-operator-manager"

failed=0
problem() {
	echo "check-chart: $*" >&2
	failed=1
}

echo "check-chart: copies of config/ in ${CHART}"
if ! diff -r config/crd/bases "${CHART}/crds" >/dev/null; then
	problem "${CHART}/crds differs from config/crd/bases; run 'make sync-chart':"
	diff -r config/crd/bases "${CHART}/crds" | head -20 >&2 || true
fi
if ! cmp -s config/rbac/role.yaml "${CHART}/files/manager-role.yaml"; then
	problem "${CHART}/files/manager-role.yaml differs from config/rbac/role.yaml; run 'make sync-chart'"
fi
if ! cmp -s config/prometheus/alerts.yaml "${CHART}/files/alerts.yaml"; then
	problem "${CHART}/files/alerts.yaml differs from config/prometheus/alerts.yaml; run 'make sync-chart'"
fi

CHECK="$(mktemp -d)"
trap 'rm -rf "${CHECK}"' EXIT
go build -o "${CHECK}/chartcheck" ./hack/chartcheck

echo "check-chart: helm lint"
"${HELM}" lint --strict "${CHART}" || problem "helm lint with the default values failed"
"${HELM}" lint --strict "${CHART}" -f "${CHART}/ci/all-features-values.yaml" || problem "helm lint with every feature on failed"

echo "check-chart: helm template, default values"
"${HELM}" template "${RELEASE}" "${CHART}" --namespace "${NAMESPACE}" --include-crds >"${CHECK}/default.yaml" ||
	problem "helm template with the default values failed"
"${CHECK}/chartcheck" -name "${MANAGER_ROLE}" -require-kinds CustomResourceDefinition,Deployment,Service,ServiceAccount \
	"${CHECK}/default.yaml" ||
	problem "the chart with the default values does not match config/ (see above)"

echo "check-chart: helm template, every feature on"
"${HELM}" template "${RELEASE}" "${CHART}" --namespace "${NAMESPACE}" -f "${CHART}/ci/all-features-values.yaml" \
	>"${CHECK}/all.yaml" || problem "helm template with every feature on failed"
"${CHECK}/chartcheck" -name "${MANAGER_ROLE}" -watch-namespaces team-a,team-b -cluster-resource-namespace "${NAMESPACE}" \
	-alerts config/prometheus/alerts.yaml -require-kinds Deployment,Service,ServiceMonitor,PrometheusRule \
	"${CHECK}/all.yaml" || problem "the chart with every feature on does not match config/ (see above)"

echo "check-chart: kustomize build config/namespaced"
"${KUSTOMIZE}" build config/namespaced >"${CHECK}/namespaced.yaml" || problem "kustomize build config/namespaced failed"
"${CHECK}/chartcheck" -name devicelogin-manager-role -watch-namespaces team-a,team-b -cluster-resource-namespace "${NAMESPACE}" \
	-require-kinds CustomResourceDefinition,Deployment "${CHECK}/namespaced.yaml" ||
	problem "config/namespaced does not match config/rbac/role.yaml (see above)"

if [[ "${failed}" != 0 ]]; then
	echo "check-chart: FAILED" >&2
	exit 1
fi
echo "check-chart: OK"
