package main

// leaderElectionNamespace is where the leader-election lease lives: the pod's own namespace, where
// the operator's RBAC grants leases, whatever --cluster-resource-namespace says; outside a cluster
// (make run) the cluster-resource namespace, as there is no pod namespace.
func leaderElectionNamespace(podNamespace, clusterResourceNamespace string) string {
	if podNamespace != "" {
		return podNamespace
	}
	return clusterResourceNamespace
}
