package framework

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// ManagerUser is the identity the manager runs as: the name a ServiceAccount token would carry,
// so that the project's own RoleBindings (config/rbac) grant it exactly what a deployment gets.
const ManagerUser = "system:serviceaccount:" + OperatorNamespace + ":controller-manager"

// The RBAC manifests applied, in order. The namespace "system" in them becomes OperatorNamespace,
// as kustomize's config/default does.
var rbacManifests = []string{
	"service_account.yaml",
	"role.yaml", // the manager's ClusterRole
	"role_binding.yaml",
	"leader_election_role.yaml",
	"leader_election_role_binding.yaml",
}

// NewScheme knows the built-in kinds and the operator's.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(authv1alpha1.AddToScheme(s))
	return s
}

// ControlPlane is a kube-apiserver and etcd with the operator's CRDs and RBAC installed.
type ControlPlane struct {
	Env    *envtest.Environment
	Config *rest.Config // cluster admin
	Client client.Client
	Scheme *runtime.Scheme
	// Server is the API server's URL.
	Server string
	// KubeconfigPath is a cluster-admin (system:masters) kubeconfig, for kubectl and for people.
	KubeconfigPath string
	// ManagerKubeconfigPath is ManagerUser's kubeconfig: only config/rbac's roles apply to it.
	ManagerKubeconfigPath string
}

// StartControlPlane starts kube-apiserver and etcd from AssetsDir, installs the CRDs from
// config/crd/bases and the RBAC from config/rbac, creates OperatorNamespace and writes
// dir/kubeconfig (admin) and dir/manager.kubeconfig (ManagerUser).
func StartControlPlane(dir string) (*ControlPlane, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start fails after the processes run when, say, a CRD does not install: stop them.
		return nil, errors.Join(fmt.Errorf("starting kube-apiserver and etcd from %s with the CRDs of config/crd/bases: %w", assets, err), env.Stop())
	}
	cp := &ControlPlane{Env: env, Config: cfg, Scheme: NewScheme(), Server: cfg.Host}
	if err := cp.setUp(root, dir); err != nil {
		return nil, errors.Join(err, cp.Stop())
	}
	return cp, nil
}

func (cp *ControlPlane) setUp(root, dir string) error {
	var err error
	if cp.Client, err = client.New(cp.Config, client.Options{Scheme: cp.Scheme}); err != nil {
		return err
	}
	if cp.KubeconfigPath, err = cp.writeKubeconfig(envtest.User{Name: "devicelogin-admin", Groups: []string{"system:masters"}},
		filepath.Join(dir, "kubeconfig")); err != nil {
		return err
	}
	if cp.ManagerKubeconfigPath, err = cp.writeKubeconfig(envtest.User{Name: ManagerUser,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + OperatorNamespace}},
		filepath.Join(dir, "manager.kubeconfig")); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", OperatorNamespace, err)
	}
	return cp.applyRBAC(ctx, filepath.Join(root, "config", "rbac"))
}

// writeKubeconfig adds a user with a client certificate and writes its kubeconfig.
func (cp *ControlPlane) writeKubeconfig(user envtest.User, path string) (string, error) {
	u, err := cp.Env.AddUser(user, nil)
	if err != nil {
		return "", fmt.Errorf("adding user %s: %w", user.Name, err)
	}
	data, err := u.KubeConfig()
	if err != nil {
		return "", err
	}
	kc, err := clientcmd.Load(data)
	if err != nil {
		return "", fmt.Errorf("parsing the kubeconfig of %s: %w", user.Name, err)
	}
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// applyRBAC decodes the project's RBAC manifests strictly into their types (so a malformed
// generated role fails here) and creates them, namespaced into OperatorNamespace.
func (cp *ControlPlane) applyRBAC(ctx context.Context, rbacDir string) error {
	decoder := clientgoscheme.Codecs.UniversalDecoder(rbacv1.SchemeGroupVersion, corev1.SchemeGroupVersion)
	for _, name := range rbacManifests {
		path := filepath.Join(rbacDir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", path, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, _, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				return fmt.Errorf("decoding %s: %w", path, err)
			}
			co, ok := obj.(client.Object)
			if !ok {
				return fmt.Errorf("%s: unexpected %T", path, obj)
			}
			intoOperatorNamespace(co)
			if err := cp.Client.Create(ctx, co); err != nil {
				return fmt.Errorf("creating %s %s from %s: %w", co.GetObjectKind().GroupVersionKind().Kind, co.GetName(), path, err)
			}
		}
	}
	return nil
}

func intoOperatorNamespace(obj client.Object) {
	if obj.GetNamespace() == "system" {
		obj.SetNamespace(OperatorNamespace)
	}
	var subjects []rbacv1.Subject
	switch o := obj.(type) {
	case *rbacv1.RoleBinding:
		subjects = o.Subjects
	case *rbacv1.ClusterRoleBinding:
		subjects = o.Subjects
	}
	for i := range subjects {
		if subjects[i].Namespace == "system" {
			subjects[i].Namespace = OperatorNamespace
		}
	}
}

// ListenAddrs are the host:port addresses kube-apiserver and etcd listen on, to check that Stop
// freed them.
func (cp *ControlPlane) ListenAddrs() []string {
	var addrs []string
	if api := cp.Env.ControlPlane.APIServer; api != nil {
		addrs = append(addrs, api.SecureServing.HostPort())
	}
	if etcd := cp.Env.ControlPlane.Etcd; etcd != nil && etcd.URL != nil {
		addrs = append(addrs, etcd.URL.Host)
	}
	return addrs
}

// Stop stops kube-apiserver and etcd. Stop whatever watches the API server (the manager) first:
// an open watch makes the API server's shutdown wait.
func (cp *ControlPlane) Stop() error {
	if cp == nil || cp.Env == nil {
		return nil
	}
	return cp.Env.Stop()
}
