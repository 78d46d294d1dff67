package main

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

var (
	secretsRule  = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}}
	providerRule = rbacv1.PolicyRule{
		APIGroups: []string{"auth.devicelogin.dev"},
		Resources: []string{"clusteroauthproviders", "oauthproviders"}, Verbs: []string{"get", "list"},
	}
	reference = []rbacv1.PolicyRule{secretsRule, providerRule}
)

func baseCheck() rbacCheck {
	return rbacCheck{reference: reference, name: "m", clusterScoped: map[string]bool{"clusteroauthproviders": true}}
}

func namespacedCheck() rbacCheck {
	c := baseCheck()
	c.watchNamespaces = []string{"a", "b"}
	c.clusterResourceNamespace = "op"
	return c
}

func rule(group, resource string, verbs ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs}
}

// namespacedRoles is a correct namespace-scoped split of reference, rules regrouped on purpose.
func namespacedRoles() []roleDoc {
	nsRules := []rbacv1.PolicyRule{
		rule("", "secrets", "get", "list", "watch"),
		rule("auth.devicelogin.dev", "oauthproviders", "list", "get"),
	}
	return []roleDoc{
		{kind: "ClusterRole", name: "m", rules: []rbacv1.PolicyRule{rule("auth.devicelogin.dev", "clusteroauthproviders", "get", "list")}},
		{kind: "Role", namespace: "a", name: "m", rules: nsRules},
		{kind: "Role", namespace: "b", name: "m", rules: nsRules},
		{kind: "Role", namespace: "op", name: "client-secrets", rules: []rbacv1.PolicyRule{rule("", "secrets", "get")}},
	}
}

func namespacedBindings() []bindingDoc {
	return []bindingDoc{
		{kind: "ClusterRoleBinding", roleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "m"}},
		{kind: "RoleBinding", namespace: "a", roleRef: rbacv1.RoleRef{Kind: "Role", Name: "m"}},
		{kind: "RoleBinding", namespace: "b", roleRef: rbacv1.RoleRef{Kind: "Role", Name: "m"}},
		{kind: "RoleBinding", namespace: "op", roleRef: rbacv1.RoleRef{Kind: "Role", Name: "client-secrets"}},
	}
}

func TestRBACCheckClusterWide(t *testing.T) {
	bound := []bindingDoc{{kind: "ClusterRoleBinding", roleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "m"}}}
	for _, tc := range []struct {
		name     string
		roles    []roleDoc
		bindings []bindingDoc
		want     string // a substring of the problems; empty: none
	}{
		{name: "same rules", roles: []roleDoc{{kind: "ClusterRole", name: "m", rules: reference}}, bindings: bound},
		{
			name:     "a verb missing",
			roles:    []roleDoc{{kind: "ClusterRole", name: "m", rules: []rbacv1.PolicyRule{rule("", "secrets", "get", "list", "watch"), rule("auth.devicelogin.dev", "clusteroauthproviders", "get", "list"), rule("auth.devicelogin.dev", "oauthproviders", "get")}}},
			bindings: bound, want: "lacks auth.devicelogin.dev/oauthproviders list",
		},
		{
			name:     "a rule more",
			roles:    []roleDoc{{kind: "ClusterRole", name: "m", rules: append([]rbacv1.PolicyRule{rule("", "configmaps", "get")}, reference...)}},
			bindings: bound, want: "grants more: /configmaps get",
		},
		{name: "same grants, other order", roles: []roleDoc{{kind: "ClusterRole", name: "m", rules: []rbacv1.PolicyRule{providerRule, secretsRule}}}, bindings: bound, want: "same order"},
		{name: "not bound", roles: []roleDoc{{kind: "ClusterRole", name: "m", rules: reference}}, want: "bound by no binding"},
		{name: "no ClusterRole", want: "exactly one ClusterRole"},
		{
			name:     "Roles as well",
			roles:    []roleDoc{{kind: "ClusterRole", name: "m", rules: reference}, {kind: "Role", namespace: "a", name: "m", rules: reference}},
			bindings: bound, want: "has Roles named m",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertProblems(t, baseCheck().run(tc.roles, tc.bindings), tc.want)
		})
	}
}

func TestRBACCheckNamespaced(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(roles []roleDoc, bindings []bindingDoc) ([]roleDoc, []bindingDoc)
		want   string
	}{
		{name: "correct split", change: func(r []roleDoc, b []bindingDoc) ([]roleDoc, []bindingDoc) { return r, b }},
		{
			name:   "a namespace without its Role",
			change: func(r []roleDoc, b []bindingDoc) ([]roleDoc, []bindingDoc) { return append(r[:2:2], r[3]), b },
			want:   "want one in each of [a b]",
		},
		{
			name: "ClusterRole on Secrets",
			change: func(r []roleDoc, b []bindingDoc) ([]roleDoc, []bindingDoc) {
				r[0].rules = append(r[0].rules, rule("", "secrets", "get"))
				return r, b
			},
			want: "granting access to Secrets",
		},
		{
			name: "a cluster-scoped kind in a Role",
			change: func(r []roleDoc, b []bindingDoc) ([]roleDoc, []bindingDoc) {
				r[1].rules = append([]rbacv1.PolicyRule{rule("auth.devicelogin.dev", "clusteroauthproviders", "get")}, r[1].rules...)
				return r, b
			},
			want: "Role a/m grants more: auth.devicelogin.dev/clusteroauthproviders get",
		},
		{
			name: "a Role lacks a verb",
			change: func(r []roleDoc, b []bindingDoc) ([]roleDoc, []bindingDoc) {
				r[2] = roleDoc{kind: "Role", namespace: "b", name: "m", rules: []rbacv1.PolicyRule{rule("", "secrets", "get", "list", "watch"), rule("auth.devicelogin.dev", "oauthproviders", "get")}}
				return r, b
			},
			want: "Role b/m lacks auth.devicelogin.dev/oauthproviders list",
		},
		{
			name:   "no client-secret Role",
			change: func(r []roleDoc, b []bindingDoc) ([]roleDoc, []bindingDoc) { return r[:3], b },
			want:   `get Secrets in the cluster-resource namespace "op"`,
		},
		{
			name:   "client-secret Role not bound",
			change: func(r []roleDoc, b []bindingDoc) ([]roleDoc, []bindingDoc) { return r, b[:3] },
			want:   "no RoleBinding binds a Role that gets Secrets",
		},
		{
			name:   "a Role not bound",
			change: func(r []roleDoc, b []bindingDoc) ([]roleDoc, []bindingDoc) { return r, append(b[:1:1], b[2:]...) },
			want:   "Role a/m is bound by no binding",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roles, bindings := tc.change(namespacedRoles(), namespacedBindings())
			assertProblems(t, namespacedCheck().run(roles, bindings), tc.want)
		})
	}
}

// assertProblems fails unless problems is empty (want "") or one of them contains want.
func assertProblems(t *testing.T, problems []string, want string) {
	t.Helper()
	if want == "" {
		if len(problems) > 0 {
			t.Errorf("unexpected problems: %q", problems)
		}
		return
	}
	for _, p := range problems {
		if strings.Contains(p, want) {
			return
		}
	}
	t.Errorf("problems %q, want one containing %q", problems, want)
}
