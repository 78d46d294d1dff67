package watchns

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/controllers"
)

// TestManagerCacheWatchesOnlyListedNamespaces starts a manager with the cache options main.go
// builds for --watch-namespaces=team-a against a real kube-apiserver, and checks that its cache
// holds DeviceLogins, OAuthProviders and owned Secrets of team-a only, still holds
// ClusterOAuthProviders, and that the API reader still gets a Secret outside the list (the
// cluster-resource namespace's client secret).
func TestManagerCacheWatchesOnlyListedNamespaces(t *testing.T) {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(authv1alpha1.AddToScheme(scheme))

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("Starting kube-apiserver and etcd (run 'make test', which builds them into bin/k8s): %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("Stopping envtest: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"team-a", "team-b", "operator"} {
		mustCreate(ctx, t, k8s, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	for _, ns := range []string{"team-a", "team-b"} {
		mustCreate(ctx, t, k8s, oauthProvider(ns))
		mustCreate(ctx, t, k8s, deviceLogin(ns))
		mustCreate(ctx, t, k8s, secret(ns, "owned", true))
	}
	mustCreate(ctx, t, k8s, secret("team-a", "foreign", false))
	mustCreate(ctx, t, k8s, secret("operator", "client-secret", false))
	mustCreate(ctx, t, k8s, &authv1alpha1.ClusterOAuthProvider{
		ObjectMeta: metav1.ObjectMeta{Name: "dex"},
		Spec:       oauthProvider("").Spec,
	})

	var watch List
	if err := watch.Set("team-a"); err != nil {
		t.Fatal(err)
	}
	// The cache options of main.go: owned Secrets only, in the watched namespaces only.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   controllers.CacheOptions(watch.DefaultNamespaces()),
	})
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Manager exited: %v", err)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("The cache did not sync")
	}
	c := mgr.GetClient()

	var logins authv1alpha1.DeviceLoginList
	assertNames(ctx, t, c, &logins, func() []string { return namesOf(logins.Items) }, []string{"team-a/login"})
	var providers authv1alpha1.OAuthProviderList
	assertNames(ctx, t, c, &providers, func() []string { return namesOf(providers.Items) }, []string{"team-a/provider"})
	var secrets corev1.SecretList
	assertNames(ctx, t, c, &secrets, func() []string { return namesOf(secrets.Items) }, []string{"team-a/owned"})
	var clusterProviders authv1alpha1.ClusterOAuthProviderList
	assertNames(ctx, t, c, &clusterProviders, func() []string { return namesOf(clusterProviders.Items) }, []string{"/dex"})

	if err := c.Get(ctx, client.ObjectKey{Namespace: "team-b", Name: "login"}, &authv1alpha1.DeviceLogin{}); err == nil {
		t.Error("The cache returned a DeviceLogin of team-b, a namespace it does not watch")
	}
	var s corev1.Secret
	if err := mgr.GetAPIReader().Get(ctx, client.ObjectKey{Namespace: "operator", Name: "client-secret"}, &s); err != nil {
		t.Errorf("The API reader could not get a Secret outside the watched namespaces: %v", err)
	}
}

// assertNames lists obj through the cache and compares the namespace/name pairs, sorted.
func assertNames(ctx context.Context, t *testing.T, c client.Reader, list client.ObjectList, names func() []string, want []string) {
	t.Helper()
	if err := c.List(ctx, list); err != nil {
		t.Fatalf("Listing %T: %v", list, err)
	}
	if got := names(); !slices.Equal(got, want) {
		t.Errorf("The cache lists %T %v, want %v", list, got, want)
	}
}

// namesOf returns the sorted namespace/name of each object.
func namesOf[T any, PT interface {
	*T
	client.Object
}](items []T) []string {
	out := make([]string, 0, len(items))
	for i := range items {
		o := PT(&items[i])
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	slices.Sort(out)
	return out
}

func mustCreate(ctx context.Context, t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("Creating %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}

func oauthProvider(ns string) *authv1alpha1.OAuthProvider {
	return &authv1alpha1.OAuthProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "provider"},
		Spec: authv1alpha1.OAuthProviderSpec{
			DeviceAuthorizationURL: "https://idp.example.com/device",
			TokenURL:               "https://idp.example.com/token",
			ClientID:               "ci-runner",
		},
	}
}

func deviceLogin(ns string) *authv1alpha1.DeviceLogin {
	return &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "login"},
		Spec: authv1alpha1.DeviceLoginSpec{
			ProviderRef: authv1alpha1.ProviderReference{Kind: authv1alpha1.OAuthProviderKind, Name: "provider"},
			SecretName:  "token",
		},
	}
}

func secret(ns, name string, owned bool) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if owned {
		s.Labels = map[string]string{authv1alpha1.DeviceLoginLabel: "login"}
	}
	return s
}
