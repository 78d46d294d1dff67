// Package watchns holds the manager's --watch-namespaces flag: the namespaces whose namespaced
// objects (DeviceLogins, OAuthProviders, Secrets) the manager caches and watches, for clusters that
// will not grant an operator cluster-wide access to Secrets. ClusterOAuthProviders are
// cluster-scoped and stay watched cluster-wide; Secrets outside the list (the cluster-resource
// namespace's client secrets) are read with a Get through the API reader, never cached.
package watchns

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// List is the value of --watch-namespaces: sorted, without duplicates; empty means every
// namespace. It implements flag.Value, so a bad name stops the manager at flag parsing.
type List []string

// String returns the flag's value as given to Set: a comma-separated list.
func (l *List) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// Set parses a comma-separated list of namespace names. Blanks around names and empty items are
// ignored, so "" and "," mean every namespace; every name must be a valid namespace name.
func (l *List) Set(value string) error {
	var names []string
	for _, item := range strings.Split(value, ",") {
		name := strings.TrimSpace(item)
		if name == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			return fmt.Errorf("invalid namespace %q: %s", name, strings.Join(errs, "; "))
		}
		names = append(names, name)
	}
	slices.Sort(names)
	*l = slices.Compact(names)
	return nil
}

// DefaultNamespaces is the cache.Options.DefaultNamespaces for the list: nil (every namespace)
// when the list is empty, else one entry per namespace, so that namespaced kinds are cached and
// watched only there. Settings per object (such as the Secrets' label selector in ByObject)
// still apply within each namespace.
func (l List) DefaultNamespaces() map[string]cache.Config {
	if len(l) == 0 {
		return nil
	}
	m := make(map[string]cache.Config, len(l))
	for _, ns := range l {
		m[ns] = cache.Config{}
	}
	return m
}
