package controllers

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

var _ = Describe("The CRDs", func() {
	ctx := context.Background()
	const ns = "crd-validation"

	BeforeEach(func() {
		err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
	})

	It("accept every sample in config/samples", func() {
		files, err := filepath.Glob(filepath.Join("..", "config", "samples", "auth_*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		for _, f := range files {
			raw, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			obj := &unstructured.Unstructured{}
			Expect(yaml.Unmarshal(raw, &obj.Object)).To(Succeed(), f)
			if obj.GetKind() != "ClusterOAuthProvider" {
				obj.SetNamespace(ns)
			}
			Expect(k8s.Create(ctx, obj, client.DryRunAll)).To(Succeed(), f)
		}
	})

	It("default providerRef.kind, codeExpiryPolicy, includeRefreshToken and allowInsecureHTTP", func() {
		dl := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "auth.devicelogin.dev/v1alpha1", "kind": "DeviceLogin",
			"metadata": map[string]any{"name": "defaults", "namespace": ns},
			"spec":     map[string]any{"providerRef": map[string]any{"name": "p"}},
		}}
		Expect(k8s.Create(ctx, dl, client.DryRunAll)).To(Succeed())
		kind, _, _ := unstructured.NestedString(dl.Object, "spec", "providerRef", "kind")
		Expect(kind).To(Equal("OAuthProvider"))
		policy, _, _ := unstructured.NestedString(dl.Object, "spec", "codeExpiryPolicy")
		Expect(policy).To(Equal("Renew"))
		include, found, _ := unstructured.NestedBool(dl.Object, "spec", "includeRefreshToken")
		Expect(found).To(BeTrue())
		Expect(include).To(BeFalse())

		p := provider("OAuthProvider", map[string]any{"issuerURL": "https://idp.example.com", "clientID": "c"})
		p.SetNamespace(ns)
		Expect(k8s.Create(ctx, p, client.DryRunAll)).To(Succeed())
		v, found, _ := unstructured.NestedBool(p.Object, "spec", "allowInsecureHTTP")
		Expect(found).To(BeTrue())
		Expect(v).To(BeFalse())
	})

	DescribeTable("reject invalid objects with the rule's own message",
		func(obj *unstructured.Unstructured, message string) {
			if obj.GetKind() != "ClusterOAuthProvider" {
				obj.SetNamespace(ns)
			}
			err := k8s.Create(ctx, obj, client.DryRunAll)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("provider without issuerURL, endpoints or preset",
			provider("OAuthProvider", map[string]any{"clientID": "c"}),
			"set issuerURL (endpoints are discovered from it), or both deviceAuthorizationURL and tokenURL, or a preset"),
		Entry("provider with only deviceAuthorizationURL",
			provider("OAuthProvider", map[string]any{"clientID": "c", "deviceAuthorizationURL": "https://idp/device"}),
			"or both deviceAuthorizationURL and tokenURL"),
		Entry("provider with an empty issuerURL",
			provider("ClusterOAuthProvider", map[string]any{"clientID": "c", "issuerURL": ""}),
			"set issuerURL (endpoints are discovered from it)"),
		Entry("http issuerURL",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "http://idp.example.com"}),
			"issuerURL must start with https://"),
		Entry("http deviceAuthorizationURL",
			provider("OAuthProvider", map[string]any{"clientID": "c", "deviceAuthorizationURL": "http://idp/d", "tokenURL": "https://idp/t"}),
			"deviceAuthorizationURL must start with https://"),
		Entry("http tokenURL",
			provider("ClusterOAuthProvider", map[string]any{"clientID": "c", "deviceAuthorizationURL": "https://idp/d", "tokenURL": "http://idp/t"}),
			"tokenURL must start with https://"),
		Entry("http revocationURL",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "https://idp", "revocationURL": "http://idp/r"}),
			"revocationURL must start with https://"),
		Entry("an issuerURL that is not a URL",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "not a url"}),
			"issuerURL must be an absolute URL"),
		Entry("unknown preset",
			provider("OAuthProvider", map[string]any{"clientID": "c", "preset": "Gitea"}),
			`Unsupported value: "Gitea"`),
		Entry("unknown clientAuthentication",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "https://idp", "clientAuthentication": "PrivateKeyJWT"}),
			`Unsupported value: "PrivateKeyJWT"`),
		Entry("ClientSecretBasic without clientSecretRef",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "https://idp", "clientAuthentication": "ClientSecretBasic"}),
			"clientAuthentication ClientSecretBasic and ClientSecretPost need a clientSecretRef"),
		Entry("clientSecretRef without key",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "https://idp", "clientSecretRef": map[string]any{"name": "s"}}),
			"clientSecretRef needs both name (the Secret) and key"),
		Entry("clientSecretRef without name",
			provider("ClusterOAuthProvider", map[string]any{"clientID": "c", "issuerURL": "https://idp", "clientSecretRef": map[string]any{"key": "k"}}),
			"clientSecretRef needs both name (the Secret) and key"),
		Entry("allowedNamespaces on an OAuthProvider",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "https://idp", "allowedNamespaces": []any{"a"}}),
			"allowedNamespaces is for ClusterOAuthProvider only"),
		Entry("provider without clientID",
			provider("OAuthProvider", map[string]any{"issuerURL": "https://idp"}),
			"spec.clientID: Required value"),
		Entry("DeviceLogin with an unknown providerRef.kind",
			deviceLogin(map[string]any{"providerRef": map[string]any{"kind": "Issuer", "name": "p"}}),
			`Unsupported value: "Issuer"`),
		Entry("DeviceLogin with an unknown codeExpiryPolicy",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"}, "codeExpiryPolicy": "Retry"}),
			`Unsupported value: "Retry"`),
		Entry("DeviceLogin with an invalid secretName",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"}, "secretName": "Bad_Name"}),
			"secretName must be a DNS-1123 subdomain"),
		Entry("DeviceLogin with a zero refreshBefore",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"}, "refreshBefore": "0s"}),
			"refreshBefore must be a positive duration such as 10m or 1h30m"),
		Entry("DeviceLogin with a negative refreshBefore",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"}, "refreshBefore": "-5m"}),
			"refreshBefore must be a positive duration such as 10m or 1h30m"),
		Entry("DeviceLogin with a refreshBefore that is not a duration",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"}, "refreshBefore": "soon"}),
			"refreshBefore must be a positive duration such as 10m or 1h30m"),
		Entry("DeviceLogin with an empty scope",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"}, "scopes": []any{"openid", ""}}),
			"each scope must be one non-empty word without spaces"),
		Entry("DeviceLogin with scopes in one string",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"}, "scopes": []any{"openid email"}}),
			"each scope must be one non-empty word without spaces"),
		Entry("DeviceLogin without providerRef.name",
			deviceLogin(map[string]any{"providerRef": map[string]any{"kind": "ClusterOAuthProvider"}}),
			"spec.providerRef.name: Required value"),
		Entry("DeviceLogin asking for a service-account token Secret",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"},
				"secretTemplate": map[string]any{"type": "kubernetes.io/service-account-token"}}),
			`Unsupported value: "kubernetes.io/service-account-token"`),
		Entry("DeviceLogin with a service-account annotation on its Secret",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"},
				"secretTemplate": map[string]any{"annotations": map[string]any{"kubernetes.io/service-account.name": "default"}}}),
			"may not set kubernetes.io/service-account.* annotations"),
		Entry("DeviceLogin whose secretName names a state Secret",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"}, "secretName": "other-devicelogin-state"}),
			"secretName may not end in -devicelogin-state"),
		Entry("DeviceLogin with a template value over 4096 characters",
			deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"},
				"secretTemplate": map[string]any{"data": map[string]any{"k": strings.Repeat("x", 4097)}}}),
			"at most 4096 characters"),
		Entry("DeviceLogin with a name over 63 characters",
			named(deviceLogin(map[string]any{"providerRef": map[string]any{"name": "p"}}), strings.Repeat("a", 64)),
			"a DeviceLogin name is at most 63 characters"),
	)

	It("document the spec for kubectl explain", func() {
		kubectl := kubectlOrSkip()
		user, err := testEnv.AddUser(envtest.User{Name: "explainer", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		kubeconfig, err := user.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())
		// The API server publishes a new CRD's OpenAPI schema a few seconds after installing it.
		var out []byte
		Eventually(func() error {
			out, err = exec.Command(kubectl, "--kubeconfig", path, "explain", "devicelogin.spec").CombinedOutput()
			return err
		}, 60*time.Second, time.Second).Should(Succeed(), func() string { return string(out) })
		Expect(string(out)).To(ContainSubstring("Spec says which provider to ask, for what, and where to put the token."))
		Expect(string(out)).To(ContainSubstring("CodeExpiryPolicy: Renew asks for a fresh user code"))
		Expect(string(out)).To(ContainSubstring("providerRef"))
	})

	It("serve the printer columns and the short name", func() {
		var crd apiextensionsv1.CustomResourceDefinition
		Expect(k8s.Get(ctx, types.NamespacedName{Name: "devicelogins.auth.devicelogin.dev"}, &crd)).To(Succeed())
		Expect(crd.Spec.Names.ShortNames).To(ContainElement("dl"))
		cols := map[string]string{}
		for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
			cols[c.Name] = c.JSONPath
		}
		Expect(cols).To(HaveKeyWithValue("Ready", `.status.conditions[?(@.type=="Ready")].status`))
		Expect(cols).To(HaveKeyWithValue("Reason", `.status.conditions[?(@.type=="Ready")].reason`))
		Expect(cols).To(HaveKeyWithValue("User Code", ".status.userCode"))
		Expect(cols).To(HaveKeyWithValue("URL", ".status.approvalURL"))
		Expect(cols).To(HaveKeyWithValue("Code Expires", ".status.userCodeExpiresAt"))
		Expect(cols).To(HaveKeyWithValue("Token Expires", ".status.tokenExpiresAt"))
		Expect(cols).To(HaveKeyWithValue("Age", ".metadata.creationTimestamp"))
	})
})

// provider builds an unstructured OAuthProvider or ClusterOAuthProvider.
func provider(kind string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "auth.devicelogin.dev/v1alpha1", "kind": kind,
		"metadata": map[string]any{"name": "p"}, "spec": spec,
	}}
}

// named renames an unstructured object.
func named(obj *unstructured.Unstructured, name string) *unstructured.Unstructured {
	obj.SetName(name)
	return obj
}

// kubectlOrSkip finds kubectl. Without it the check is skipped on a developer's machine, but under
// CI (CI=true) a missing tool is a failure, never a silent skip.
func kubectlOrSkip() string {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") != "" {
			Fail("kubectl is not installed, and CI must run this check")
		}
		Skip("kubectl is not installed; this check needs it")
	}
	return kubectl
}

// deviceLogin builds an unstructured DeviceLogin.
func deviceLogin(spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "auth.devicelogin.dev/v1alpha1", "kind": "DeviceLogin",
		"metadata": map[string]any{"name": "dl"}, "spec": spec,
	}}
}
