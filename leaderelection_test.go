package main

import "testing"

// Issue 10 item 15: pointing --cluster-resource-namespace elsewhere must not move the lease out of
// the pod's namespace, where the operator may write leases.
func TestLeaderElectionNamespace(t *testing.T) {
	for _, tt := range []struct{ pod, cluster, want string }{
		{"devicelogin-system", "devicelogin-system", "devicelogin-system"},
		{"devicelogin-system", "platform-secrets", "devicelogin-system"},
		{"", "platform-secrets", "platform-secrets"},
	} {
		if got := leaderElectionNamespace(tt.pod, tt.cluster); got != tt.want {
			t.Errorf("leaderElectionNamespace(%q, %q) = %q, want %q", tt.pod, tt.cluster, got, tt.want)
		}
	}
}
