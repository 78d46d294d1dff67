package main

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// permission is one grant: a verb on a resource (or a non-resource URL) of an API group.
type permission struct{ group, resource, name, verb string }

func (p permission) String() string {
	s := p.group + "/" + p.resource
	if p.name != "" {
		s += "/" + p.name
	}
	return s + " " + p.verb
}

// expand turns rules into the set of single permissions they grant, so that rules written in a
// different order or grouping compare equal.
func expand(rules []rbacv1.PolicyRule) map[permission]bool {
	out := map[permission]bool{}
	for _, r := range rules {
		for _, verb := range r.Verbs {
			for _, url := range r.NonResourceURLs {
				out[permission{resource: url, verb: verb}] = true
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					names := r.ResourceNames
					if len(names) == 0 {
						names = []string{""}
					}
					for _, n := range names {
						out[permission{group: g, resource: res, name: n, verb: verb}] = true
					}
				}
			}
		}
	}
	return out
}

// roleDoc is a Role or ClusterRole of the manifests.
type roleDoc struct {
	kind, namespace, name string
	rules                 []rbacv1.PolicyRule
}

// bindingDoc is a RoleBinding or ClusterRoleBinding of the manifests.
type bindingDoc struct {
	kind, namespace string
	roleRef         rbacv1.RoleRef
}

// rbacCheck compares the manager's RBAC in the manifests with config/rbac/role.yaml.
type rbacCheck struct {
	// reference is the rules of config/rbac/role.yaml.
	reference []rbacv1.PolicyRule
	// name is the name of the manager's ClusterRole (and, namespace-scoped, of its Roles).
	name string
	// watchNamespaces is empty for a cluster-wide install; else the namespaces that need a Role.
	watchNamespaces []string
	// clusterResourceNamespace, namespace-scoped, is where a Role must let the manager get Secrets.
	clusterResourceNamespace string
	// clusterScoped holds the cluster-scoped resources (plural, without subresource).
	clusterScoped map[string]bool
}

// run returns every way in which roles and bindings differ from what the check expects.
func (c rbacCheck) run(roles []roleDoc, bindings []bindingDoc) []string {
	var problems []string
	var clusterRoles, nsRoles []roleDoc
	for _, r := range roles {
		if r.name != c.name {
			continue
		}
		if r.kind == "ClusterRole" {
			clusterRoles = append(clusterRoles, r)
		} else {
			nsRoles = append(nsRoles, r)
		}
	}
	if len(clusterRoles) != 1 {
		return append(problems, fmt.Sprintf("want exactly one ClusterRole %s, found %d", c.name, len(clusterRoles)))
	}
	want := expand(c.reference)
	if len(c.watchNamespaces) == 0 {
		if len(nsRoles) > 0 {
			problems = append(problems, fmt.Sprintf("a cluster-wide install has Roles named %s", c.name))
		}
		if !reflect.DeepEqual(clusterRoles[0].rules, c.reference) {
			problems = append(problems, fmt.Sprintf("the rules of ClusterRole %s are not those of the reference, in the same order", c.name))
		}
		problems = append(problems, diff("ClusterRole "+c.name, expand(clusterRoles[0].rules), want)...)
		return append(problems, c.unbound(clusterRoles, bindings)...)
	}

	wantCluster, wantNamespaced := map[permission]bool{}, map[permission]bool{}
	for p := range want {
		if c.isClusterScoped(p) {
			wantCluster[p] = true
		} else {
			wantNamespaced[p] = true
		}
	}
	problems = append(problems, diff("ClusterRole "+c.name, expand(clusterRoles[0].rules), wantCluster)...)
	var namespaces []string
	for _, r := range nsRoles {
		namespaces = append(namespaces, r.namespace)
		problems = append(problems, diff("Role "+r.namespace+"/"+r.name, expand(r.rules), wantNamespaced)...)
	}
	slices.Sort(namespaces)
	if !slices.Equal(namespaces, c.watchNamespaces) {
		problems = append(problems, fmt.Sprintf("Roles %s are in namespaces %v, want one in each of %v", c.name, namespaces, c.watchNamespaces))
	}
	problems = append(problems, c.unbound(append(clusterRoles, nsRoles...), bindings)...)

	secretsGet := permission{resource: "secrets", verb: "get"}
	var readers []roleDoc
	for _, r := range roles {
		if r.kind == "ClusterRole" && grantsSecrets(r.rules) {
			problems = append(problems, fmt.Sprintf("a namespace-scoped install has ClusterRole %s granting access to Secrets", r.name))
		}
		if r.kind == "Role" && r.namespace == c.clusterResourceNamespace && expand(r.rules)[secretsGet] {
			readers = append(readers, r)
		}
	}
	if len(readers) == 0 {
		problems = append(problems, fmt.Sprintf("no Role lets the manager get Secrets in the cluster-resource namespace %q", c.clusterResourceNamespace))
	}
	if len(c.unbound(readers, bindings)) == len(readers) && len(readers) > 0 {
		problems = append(problems, fmt.Sprintf("no RoleBinding binds a Role that gets Secrets in %q", c.clusterResourceNamespace))
	}
	return problems
}

// isClusterScoped tells whether a permission is on a cluster-scoped resource or a URL.
func (c rbacCheck) isClusterScoped(p permission) bool {
	if strings.HasPrefix(p.resource, "/") {
		return true
	}
	plural, _, _ := strings.Cut(p.resource, "/")
	return c.clusterScoped[plural]
}

// unbound lists the roles that no binding in their namespace refers to.
func (c rbacCheck) unbound(roles []roleDoc, bindings []bindingDoc) []string {
	var problems []string
	for _, r := range roles {
		bound := false
		for _, b := range bindings {
			if b.roleRef.Kind == r.kind && b.roleRef.Name == r.name && (r.kind == "ClusterRole" || b.namespace == r.namespace) {
				bound = true
			}
		}
		if !bound {
			problems = append(problems, fmt.Sprintf("%s %s/%s is bound by no binding", r.kind, r.namespace, r.name))
		}
	}
	return problems
}

// grantsSecrets tells whether rules grant anything on core Secrets.
func grantsSecrets(rules []rbacv1.PolicyRule) bool {
	for p := range expand(rules) {
		if (p.group == "" || p.group == "*") && (p.resource == "secrets" || p.resource == "*") {
			return true
		}
	}
	return false
}

// diff describes what got grants that want does not, and the reverse.
func diff(what string, got, want map[permission]bool) []string {
	var missing, extra []string
	for p := range want {
		if !got[p] {
			missing = append(missing, p.String())
		}
	}
	for p := range got {
		if !want[p] {
			extra = append(extra, p.String())
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%s lacks %s", what, strings.Join(missing, ", ")))
	}
	if len(extra) > 0 {
		problems = append(problems, fmt.Sprintf("%s grants more: %s", what, strings.Join(extra, ", ")))
	}
	return problems
}
