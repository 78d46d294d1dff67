package main

import (
	"slices"
	"testing"
)

// The benchmark gives the manager the memory limit a deployment gives it (config/manager).
func TestManifestMemoryLimit(t *testing.T) {
	q, err := manifestMemoryLimit()
	if err != nil {
		t.Fatal(err)
	}
	if q.Value() < 32<<20 {
		t.Errorf("config/manager's memory limit = %s", q.String())
	}
	env, _, err := memoryLimitEnv("")
	if err != nil || len(env) != 1 || env[0] != "MEMORY_LIMIT="+q.AsDec().String() {
		t.Errorf("memoryLimitEnv(\"\") = %v, %v; want MEMORY_LIMIT=%d", env, err, q.Value())
	}
}

func TestMemoryLimitEnv(t *testing.T) {
	if env, _, err := memoryLimitEnv("96Mi"); err != nil || !slices.Equal(env, []string{"MEMORY_LIMIT=100663296"}) {
		t.Errorf("memoryLimitEnv(96Mi) = %v, %v", env, err)
	}
	if env, _, err := memoryLimitEnv("none"); err != nil || env != nil {
		t.Errorf("memoryLimitEnv(none) = %v, %v", env, err)
	}
	if _, _, err := memoryLimitEnv("lots"); err == nil {
		t.Error("memoryLimitEnv(lots): no error")
	}
	manifest := []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\napiVersion: apps/v1\nkind: Deployment\n" +
		"spec:\n  template:\n    spec:\n      containers:\n      - name: sidecar\n        resources: {limits: {memory: 1Gi}}\n" +
		"      - name: manager\n        resources: {limits: {memory: 128Mi}}\n")
	if q, err := memoryLimitOf(manifest, "m.yaml"); err != nil || q.String() != "128Mi" {
		t.Errorf("memoryLimitOf = %v, %v; want the manager container's 128Mi", q.String(), err)
	}
	if _, err := memoryLimitOf([]byte("kind: Deployment\n"), "m.yaml"); err == nil {
		t.Error("memoryLimitOf: no error without a limit")
	}
}
