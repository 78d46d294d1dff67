package kubectlplugin

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// kubeFlags are kubectl's connection flags (--kubeconfig, --context, -n/--namespace, --as, ...),
// resolved the way kubectl resolves them: flags, then $KUBECONFIG, then ~/.kube/config.
type kubeFlags struct {
	loading   *clientcmd.ClientConfigLoadingRules
	overrides clientcmd.ConfigOverrides
}

func newKubeFlags() *kubeFlags {
	return &kubeFlags{loading: clientcmd.NewDefaultClientConfigLoadingRules()}
}

func (k *kubeFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&k.loading.ExplicitPath, clientcmd.RecommendedConfigPathFlag, "",
		"Path to the kubeconfig file to use for CLI requests.")
	clientcmd.BindOverrideFlags(&k.overrides, fs, clientcmd.RecommendedConfigOverrideFlags(""))
}

func (k *kubeFlags) clientConfig() clientcmd.ClientConfig {
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(k.loading, &k.overrides)
}

// namespace is the namespace of -n, else the one of the kubeconfig context, else "default".
func (k *kubeFlags) namespace() (string, error) {
	ns, _, err := k.clientConfig().Namespace()
	return ns, err
}

// client returns a client that knows DeviceLogins only; API warnings go to errOut.
func (k *kubeFlags) client(errOut io.Writer) (client.WithWatch, error) {
	cfg, err := k.clientConfig().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.WarningHandler = rest.NewWarningWriter(errOut, rest.WarningWriterOptions{Deduplicate: true})
	cfg.UserAgent = "kubectl-devicelogin/" + pluginVersion()
	scheme := runtime.NewScheme()
	if err := authv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: scheme})
}

// target is the DeviceLogin a command names, with the client to reach it.
type target struct {
	c               client.WithWatch
	namespace, name string
}

// key names the target DeviceLogin.
func (t *target) key() client.ObjectKey {
	return client.ObjectKey{Namespace: t.namespace, Name: t.name}
}

// get reads the target DeviceLogin.
func (t *target) get(ctx context.Context) (*authv1alpha1.DeviceLogin, error) {
	var dl authv1alpha1.DeviceLogin
	if err := t.c.Get(ctx, t.key(), &dl); err != nil {
		return nil, err
	}
	return &dl, nil
}

// resolve builds the client and the namespace for a command on one DeviceLogin.
func (k *kubeFlags) resolve(errOut io.Writer, name string) (*target, error) {
	ns, err := k.namespace()
	if err != nil {
		return nil, err
	}
	c, err := k.client(errOut)
	if err != nil {
		return nil, err
	}
	return &target{c: c, namespace: ns, name: name}, nil
}

// ref is namespace/name, as the messages name a DeviceLogin.
func (t *target) ref() string { return t.namespace + "/" + t.name }
