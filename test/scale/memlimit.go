package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

// manifestMemoryLimit is the manager container's limits.memory in config/manager/manager.yaml, the
// limit a deployment gives the manager (through MEMORY_LIMIT, from the downward API).
func manifestMemoryLimit() (resource.Quantity, error) {
	root, err := framework.RepoRoot()
	if err != nil {
		return resource.Quantity{}, err
	}
	path := filepath.Join(root, "config", "manager", "manager.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return resource.Quantity{}, err
	}
	return memoryLimitOf(data, path)
}

// memoryLimitOf finds the manager container's memory limit in the Deployment of a multi-document
// manifest.
func memoryLimitOf(data []byte, path string) (resource.Quantity, error) {
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var d appsv1.Deployment
		if err := yaml.Unmarshal(doc, &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if q, ok := c.Resources.Limits["memory"]; ok && c.Name == "manager" {
				return q, nil
			}
		}
	}
	return resource.Quantity{}, fmt.Errorf("%s: no memory limit of the manager container", path)
}

// memoryLimitEnv is the environment the manager runs with for a limit: MEMORY_LIMIT in bytes, as
// the downward API gives it; nothing for "none".
func memoryLimitEnv(flagValue string) ([]string, string, error) {
	var q resource.Quantity
	var err error
	from := "config/manager's limits.memory"
	switch flagValue {
	case "none":
		return nil, "none", nil
	case "":
		q, err = manifestMemoryLimit()
	default:
		q, err = resource.ParseQuantity(flagValue)
		from = "-memory-limit"
	}
	if err != nil {
		return nil, "", err
	}
	return []string{"MEMORY_LIMIT=" + strconv.FormatInt(q.Value(), 10)}, q.String() + " (" + from + ")", nil
}
