package kubectlplugin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// The envtest suite runs the commands in-process against a real kube-apiserver and etcd, with a
// kubeconfig as a user would have one. No operator runs: the tests write the status that the
// controller would write, through the status subresource.

var (
	testEnv    *envtest.Environment
	k8s        client.Client
	kubeconfig string // a system:masters user's kubeconfig for the envtest apiserver
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: under CI the envtest tests must run (make envtest builds kube-apiserver and etcd into bin/k8s)")
			return 1
		}
		return m.Run() // the envtest tests skip themselves
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(authv1alpha1.AddToScheme(scheme))
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting kube-apiserver and etcd: %v\n", err)
		return 1
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}()
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kubectl-devicelogin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if kubeconfig, err = writeKubeconfig(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// writeKubeconfig writes the kubeconfig of an admin user, with team-a as the context's namespace.
func writeKubeconfig(dir string) (string, error) {
	user, err := testEnv.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	cfg, err := clientcmd.Load(kc)
	if err != nil {
		return "", err
	}
	cfg.Contexts[cfg.CurrentContext].Namespace = "team-a"
	path := filepath.Join(dir, "kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

// needCluster skips a test outside CI when there is no envtest control plane.
func needCluster(t *testing.T) {
	t.Helper()
	if testEnv == nil {
		t.Skip("KUBEBUILDER_ASSETS is not set: run with KUBEBUILDER_ASSETS=bin/k8s/<version>-<os>-<arch> (make envtest)")
	}
}

// result is what one run of the plugin printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// runPlugin runs the plugin in-process with the suite's kubeconfig and the test clock.
func runPlugin(ctx context.Context, args ...string) result {
	var out, errOut bytes.Buffer
	code := Run(ctx, append([]string{"--kubeconfig", kubeconfig}, args...), Options{
		Out: &out, ErrOut: &errOut, Clock: clocktesting.NewFakePassiveClock(testNow),
	})
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// ensureNamespace creates the namespace once.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// createLogin creates the DeviceLogin, writes its status through the status subresource as the
// controller does, and deletes it when the test ends (so that `pending -A` in another test sees
// only its own). It returns the object as stored.
func createLogin(t *testing.T, want *authv1alpha1.DeviceLogin) *authv1alpha1.DeviceLogin {
	t.Helper()
	ctx := context.Background()
	ensureNamespace(t, want.Namespace)
	dl := want.DeepCopy()
	dl.Generation, dl.Status = 0, authv1alpha1.DeviceLoginStatus{}
	if err := k8s.Create(ctx, dl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k8s.Delete(context.Background(), dl); err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	})
	writeStatus(t, dl, want.Status)
	return dl
}

// writeStatus replaces the status as the controller would, stamping the stored generation where
// the fixture stamped its own (so that the status is current unless the test says otherwise).
func writeStatus(t *testing.T, dl *authv1alpha1.DeviceLogin, st authv1alpha1.DeviceLoginStatus) {
	t.Helper()
	st = *st.DeepCopy()
	if st.ObservedGeneration != 0 {
		st.ObservedGeneration = dl.Generation
	}
	for i := range st.Conditions {
		st.Conditions[i].ObservedGeneration = dl.Generation
	}
	dl.Status = st
	if err := k8s.Status().Update(context.Background(), dl); err != nil {
		t.Fatal(err)
	}
}

// grantLoginAccess gives user the verbs on devicelogins in namespace, and nothing else.
func grantLoginAccess(t *testing.T, namespace, user string, verbs ...string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: user},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{authv1alpha1.GroupVersion.Group}, Resources: []string{"devicelogins"}, Verbs: verbs}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := k8s.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}
