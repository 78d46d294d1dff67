package main

import (
	"strings"
	"testing"
)

const memoryLimitDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: mgr}
spec:
  template:
    spec:
      containers:
      - name: manager
        env:
        - name: POD_NAMESPACE
          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
        ENV
        resources: {limits: {memory: 128Mi}}
`

func TestCheckMemoryLimit(t *testing.T) {
	for _, tc := range []struct{ name, env, want string }{
		{name: "from the downward API", env: "- {name: MEMORY_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}"},
		{name: "divisor 1, this container", env: "- {name: MEMORY_LIMIT, valueFrom: {resourceFieldRef: {containerName: manager, resource: limits.memory, divisor: '1'}}}"},
		{name: "missing", env: "", want: "does not set MEMORY_LIMIT"},
		{name: "in MiB", env: "- {name: MEMORY_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}", want: "does not set MEMORY_LIMIT"},
		{name: "the request", env: "- {name: MEMORY_LIMIT, valueFrom: {resourceFieldRef: {resource: requests.memory}}}", want: "does not set MEMORY_LIMIT"},
		{name: "a literal", env: "- {name: MEMORY_LIMIT, value: '134217728'}", want: "does not set MEMORY_LIMIT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := parseDocs([]byte(strings.Replace(memoryLimitDeployment, "ENV", tc.env, 1)))
			if err != nil {
				t.Fatal(err)
			}
			assertProblems(t, checkMemoryLimit(docs), tc.want)
		})
	}
	t.Run("no limit", func(t *testing.T) {
		docs, err := parseDocs([]byte(strings.Replace(strings.Replace(memoryLimitDeployment, "ENV",
			"- {name: MEMORY_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}", 1),
			"resources: {limits: {memory: 128Mi}}", "resources: {}", 1)))
		if err != nil {
			t.Fatal(err)
		}
		assertProblems(t, checkMemoryLimit(docs), "has no memory limit")
	})
}
