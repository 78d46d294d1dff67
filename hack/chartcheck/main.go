// Command chartcheck checks rendered manifests (helm template output, or the files of a kustomize
// overlay) against config/: the manager's Roles and ClusterRoles grant exactly the rules of
// config/rbac/role.yaml (split into per-namespace Roles and a ClusterRole for the cluster-scoped
// kinds when --watch-namespaces is set, with a Role to get client secrets in the cluster-resource
// namespace and no ClusterRole granting Secrets), every one of them is bound, the Deployment passes
// the same --watch-namespaces, and a PrometheusRule carries the groups of
// config/prometheus/alerts.yaml. hack/check-chart.sh runs it; it exits 1 with one line per problem.
//
//	helm template x charts/devicelogin-operator | go run ./hack/chartcheck -name x-devicelogin-operator-manager -
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/devicelogin-dev/devicelogin-operator/internal/watchns"
)

func main() {
	problems, err := run(os.Args[1:], os.Stdin, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartcheck:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "chartcheck:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}

// run parses the arguments, reads the manifests and returns the problems found.
func run(args []string, stdin io.Reader, stderr io.Writer) ([]string, error) {
	fs := flag.NewFlagSet("chartcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rolePath := fs.String("role", "config/rbac/role.yaml", "The manager's reference ClusterRole.")
	crdDir := fs.String("crds", "config/crd/bases", "The CRDs, to know which of the operator's kinds are cluster-scoped.")
	name := fs.String("name", "", "The name of the manager's ClusterRole (and Roles) in the manifests.")
	var watch watchns.List
	fs.Var(&watch, "watch-namespaces", "The namespaces the install watches; empty: cluster-wide.")
	crn := fs.String("cluster-resource-namespace", "", "Namespace-scoped: where the manager must get client Secrets.")
	alerts := fs.String("alerts", "", "If set, a PrometheusRule must carry the spec.groups of this file.")
	kinds := fs.String("require-kinds", "", "Comma-separated kinds that must be in the manifests.")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *name == "" || fs.NArg() == 0 {
		return nil, fmt.Errorf("usage: chartcheck -name ROLE [flags] FILE... ('-' reads standard input)")
	}
	if len(watch) > 0 && *crn == "" {
		return nil, fmt.Errorf("-watch-namespaces needs -cluster-resource-namespace")
	}

	refDocs, err := readDocs([]string{*rolePath}, nil)
	if err != nil {
		return nil, err
	}
	if len(refDocs) != 1 || refDocs[0].GetKind() != "ClusterRole" {
		return nil, fmt.Errorf("%s: want one ClusterRole", *rolePath)
	}
	ref, err := asRole(refDocs[0])
	if err != nil {
		return nil, err
	}
	clusterScoped, err := clusterScopedResources(*crdDir)
	if err != nil {
		return nil, err
	}
	docs, err := readDocs(fs.Args(), stdin)
	if err != nil {
		return nil, err
	}

	var roles []roleDoc
	var bindings []bindingDoc
	for _, d := range docs {
		switch d.GetKind() {
		case "Role", "ClusterRole":
			r, err := asRole(d)
			if err != nil {
				return nil, err
			}
			roles = append(roles, roleDoc{kind: d.GetKind(), namespace: d.GetNamespace(), name: d.GetName(), rules: r.Rules})
		case "RoleBinding", "ClusterRoleBinding":
			b, err := asBinding(d)
			if err != nil {
				return nil, err
			}
			bindings = append(bindings, bindingDoc{kind: d.GetKind(), namespace: d.GetNamespace(), roleRef: b.RoleRef})
		}
	}
	problems := rbacCheck{
		reference: ref.Rules, name: *name, watchNamespaces: watch,
		clusterResourceNamespace: *crn, clusterScoped: clusterScoped,
	}.run(roles, bindings)
	problems = append(problems, checkDeploymentArgs(docs, watch)...)
	problems = append(problems, checkMemoryLimit(docs)...)
	if *kinds != "" {
		problems = append(problems, checkKinds(docs, strings.Split(*kinds, ","))...)
	}
	if *alerts != "" {
		p, err := checkAlerts(docs, *alerts)
		if err != nil {
			return nil, err
		}
		problems = append(problems, p...)
	}
	return problems, nil
}

// clusterScopedResources returns the plurals of the cluster-scoped CRDs in dir.
func clusterScopedResources(dir string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	docs, err := readDocs(files, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, d := range docs {
		scope, _, _ := unstructured.NestedString(d.Object, "spec", "scope")
		plural, _, _ := unstructured.NestedString(d.Object, "spec", "names", "plural")
		if d.GetKind() == "CustomResourceDefinition" && scope == "Cluster" {
			out[plural] = true
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no cluster-scoped CRD", dir)
	}
	return out, nil
}

// checkDeploymentArgs checks that the manager container of each Deployment passes
// --watch-namespaces with the expected list, and only when namespace-scoped.
func checkDeploymentArgs(docs []*unstructured.Unstructured, watch watchns.List) []string {
	var problems []string
	for _, m := range managerContainers(docs) {
		args, _, _ := unstructured.NestedStringSlice(m.container, "args")
		var got []string
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--watch-namespaces="); ok {
				// As the manager reads it: order and blanks do not matter.
				var l watchns.List
				if err := l.Set(v); err != nil {
					problems = append(problems, fmt.Sprintf("Deployment %s: --watch-namespaces: %v", m.deployment, err))
				}
				got = append(got, l.String())
			}
		}
		want := []string{watch.String()}
		if len(watch) == 0 {
			want = nil
		}
		if !slices.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("Deployment %s passes --watch-namespaces=%v, want %v", m.deployment, got, want))
		}
	}
	return problems
}

// managerContainer is the manager container of a Deployment.
type managerContainer struct {
	deployment string
	container  map[string]any
}

// managerContainers lists the containers named manager of every Deployment in docs.
func managerContainers(docs []*unstructured.Unstructured) []managerContainer {
	var out []managerContainer
	for _, d := range docs {
		if d.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			if cm, _ := c.(map[string]any); cm["name"] == "manager" {
				out = append(out, managerContainer{deployment: d.GetName(), container: cm})
			}
		}
	}
	return out
}

// checkKinds checks that every kind in want has an object in docs.
func checkKinds(docs []*unstructured.Unstructured, want []string) []string {
	var problems []string
	for _, k := range want {
		if !slices.ContainsFunc(docs, func(d *unstructured.Unstructured) bool { return d.GetKind() == k }) {
			problems = append(problems, "no "+k+" in the manifests")
		}
	}
	return problems
}

// checkAlerts checks that a PrometheusRule of docs has the spec.groups of the file at path.
func checkAlerts(docs []*unstructured.Unstructured, path string) ([]string, error) {
	ref, err := readDocs([]string{path}, nil)
	if err != nil {
		return nil, err
	}
	if len(ref) != 1 {
		return nil, fmt.Errorf("%s: want one PrometheusRule", path)
	}
	want, found, _ := unstructured.NestedSlice(ref[0].Object, "spec", "groups")
	if !found || len(want) == 0 {
		return nil, fmt.Errorf("%s: no spec.groups", path)
	}
	for _, d := range docs {
		got, _, _ := unstructured.NestedSlice(d.Object, "spec", "groups")
		if d.GetKind() == "PrometheusRule" && reflect.DeepEqual(got, want) {
			return nil, nil
		}
	}
	return []string{"no PrometheusRule carries the spec.groups of " + path}, nil
}
