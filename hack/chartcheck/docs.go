package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// readDocs reads every YAML document of the named files ("-" is standard input), skipping empty
// ones.
func readDocs(names []string, stdin io.Reader) ([]*unstructured.Unstructured, error) {
	var docs []*unstructured.Unstructured
	for _, name := range names {
		var data []byte
		var err error
		if name == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, err
		}
		d, err := parseDocs(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

// parseDocs splits a multi-document YAML stream into objects.
func parseDocs(data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []*unstructured.Unstructured
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			return nil, err
		}
		if len(obj) == 0 {
			continue
		}
		docs = append(docs, &unstructured.Unstructured{Object: obj})
	}
}

// asRole converts a Role or ClusterRole document into its typed form.
func asRole(u *unstructured.Unstructured) (*rbacv1.ClusterRole, error) {
	raw, err := yaml.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	var r rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(raw, &r); err != nil {
		return nil, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return &r, nil
}

// asBinding converts a RoleBinding or ClusterRoleBinding document into its typed form.
func asBinding(u *unstructured.Unstructured) (*rbacv1.RoleBinding, error) {
	raw, err := yaml.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	var b rbacv1.RoleBinding
	if err := yaml.UnmarshalStrict(raw, &b); err != nil {
		return nil, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return &b, nil
}
