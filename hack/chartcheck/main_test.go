package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicelogin-dev/devicelogin-operator/internal/watchns"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: mgr}
spec:
  template:
    spec:
      containers:
      - name: manager
        args:
        - --leader-elect
        - "ARG"
        env:
        - {name: MEMORY_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}
        resources: {limits: {memory: 128Mi}}
`

const prometheusRule = `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: alerts}
spec:
  groups:
  - name: devicelogin
    rules:
    - alert: A
      expr: EXPR
`

// TestRun runs the whole command on the repository's config/ and small manifests.
func TestRun(t *testing.T) {
	root := filepath.Join("..", "..")
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	role, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	managerRole := strings.Replace(string(role), "name: manager-role", "name: m", 1)
	binding := "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: m}\n" +
		"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: m}\n"
	alerts := write("alerts.yaml", strings.Replace(prometheusRule, "EXPR", "up == 0", 1))

	for _, tc := range []struct {
		name      string
		manifests string
		extra     []string
		want      string
	}{
		{name: "matches", manifests: managerRole + binding + "---\n" + strings.Replace(deployment, "ARG", "--zap-log-level=info", 1)},
		{
			name:      "watch-namespaces on a cluster-wide install",
			manifests: managerRole + binding + "---\n" + strings.Replace(deployment, "ARG", "--watch-namespaces=a", 1),
			want:      "passes --watch-namespaces=[a], want []",
		},
		{name: "a kind missing", manifests: managerRole + binding, extra: []string{"-require-kinds", "ServiceMonitor"}, want: "no ServiceMonitor"},
		{
			name:      "alerts copied",
			manifests: managerRole + binding + "---\n" + strings.Replace(prometheusRule, "EXPR", "up == 0", 1),
			extra:     []string{"-alerts", alerts},
		},
		{
			name:      "alerts differ",
			manifests: managerRole + binding + "---\n" + strings.Replace(prometheusRule, "EXPR", "up == 1", 1),
			extra:     []string{"-alerts", alerts}, want: "no PrometheusRule carries the spec.groups",
		},
		{name: "a verb more", manifests: strings.Replace(managerRole, "verbs: [patch]", "verbs: [patch, update]", 1) + binding, want: "grants more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{
				"-role", filepath.Join(root, "config", "rbac", "role.yaml"),
				"-crds", filepath.Join(root, "config", "crd", "bases"), "-name", "m",
			}, tc.extra...)
			args = append(args, write("manifests.yaml", tc.manifests))
			problems, err := run(args, nil, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			assertProblems(t, problems, tc.want)
		})
	}
}

func TestRunNeedsClusterResourceNamespace(t *testing.T) {
	if _, err := run([]string{"-name", "m", "-watch-namespaces", "a", "x.yaml"}, nil, io.Discard); err == nil {
		t.Error("-watch-namespaces without -cluster-resource-namespace was accepted")
	}
}

func TestCheckDeploymentArgs(t *testing.T) {
	for _, tc := range []struct {
		name, arg string
		watch     watchns.List
		want      string
	}{
		{name: "cluster-wide", arg: "--zap-log-level=info"},
		{name: "same namespaces, another order", arg: "--watch-namespaces=b, a", watch: watchns.List{"a", "b"}},
		{name: "a namespace missing", arg: "--watch-namespaces=a", watch: watchns.List{"a", "b"}, want: "passes --watch-namespaces=[a], want [a,b]"},
		{name: "flag missing", arg: "--leader-elect", watch: watchns.List{"a"}, want: "passes --watch-namespaces=[], want [a]"},
		{name: "invalid name", arg: "--watch-namespaces=A", watch: watchns.List{"a"}, want: `invalid namespace "A"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := parseDocs([]byte(strings.Replace(deployment, "ARG", tc.arg, 1)))
			if err != nil {
				t.Fatal(err)
			}
			assertProblems(t, checkDeploymentArgs(docs, tc.watch), tc.want)
		})
	}
}
