package main

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// checkMemoryLimit checks that the manager container of each Deployment has a memory limit and
// passes it as MEMORY_LIMIT through the downward API (resourceFieldRef limits.memory, in bytes),
// from which the manager sets the Go runtime's soft memory limit (--memory-limit-ratio).
func checkMemoryLimit(docs []*unstructured.Unstructured) []string {
	var problems []string
	for _, m := range managerContainers(docs) {
		if _, ok, _ := unstructured.NestedFieldNoCopy(m.container, "resources", "limits", "memory"); !ok {
			problems = append(problems, fmt.Sprintf("Deployment %s: the manager container has no memory limit", m.deployment))
		}
		if !passesMemoryLimit(m.container) {
			problems = append(problems, fmt.Sprintf("Deployment %s: the manager container does not set MEMORY_LIMIT "+
				"from resourceFieldRef limits.memory (divisor 1)", m.deployment))
		}
	}
	return problems
}

func passesMemoryLimit(container map[string]any) bool {
	env, _, _ := unstructured.NestedSlice(container, "env")
	for _, e := range env {
		em, _ := e.(map[string]any)
		if em["name"] != "MEMORY_LIMIT" {
			continue
		}
		ref, ok, _ := unstructured.NestedStringMap(em, "valueFrom", "resourceFieldRef")
		divisor := ref["divisor"]
		return ok && ref["resource"] == "limits.memory" && (divisor == "" || divisor == "1") &&
			(ref["containerName"] == "" || ref["containerName"] == "manager")
	}
	return false
}
