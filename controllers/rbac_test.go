package controllers

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestRBACMatchesMarkers keeps config/rbac/role.yaml, written by hand with a reason on every rule,
// granting exactly what the kubebuilder:rbac markers ask for (rendered by `make manifests`).
func TestRBACMatchesMarkers(t *testing.T) {
	load := func(path string) map[string]bool {
		raw, err := os.ReadFile(filepath.Join("..", path))
		if err != nil {
			t.Fatalf("%s: %v (run 'make manifests')", path, err)
		}
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(strings.TrimPrefix(string(raw), "---\n")), &role); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		grants := map[string]bool{}
		for _, r := range role.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						grants[g+"/"+res+":"+v] = true
					}
				}
			}
		}
		return grants
	}
	hand, generated := load("config/rbac/role.yaml"), load("hack/generated/rbac/role.yaml")
	var extra, missing []string
	for g := range hand {
		if !generated[g] {
			extra = append(extra, g)
		}
	}
	for g := range generated {
		if !hand[g] {
			missing = append(missing, g)
		}
	}
	slices.Sort(extra)
	slices.Sort(missing)
	if len(extra) > 0 || len(missing) > 0 {
		t.Fatalf("config/rbac/role.yaml grants more than the markers ask for: %v; less: %v", extra, missing)
	}
	if len(hand) == 0 {
		t.Fatal("no rules read")
	}
}
