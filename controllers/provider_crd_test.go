package controllers

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Credentials in provider URLs are refused by the API server (issue 9 item 8): the spec is
// readable by everyone who can read the provider, and messages would repeat it.
var _ = Describe("The provider CRDs", func() {
	ctx := context.Background()
	const ns = "crd-validation"

	BeforeEach(func() {
		err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
	})

	create := func(obj *unstructured.Unstructured) error {
		if obj.GetKind() != "ClusterOAuthProvider" {
			obj.SetNamespace(ns)
		}
		return k8s.Create(ctx, obj, client.DryRunAll)
	}

	DescribeTable("refuse credentials in URLs with the rule's own message",
		func(obj *unstructured.Unstructured, message string) {
			err := create(obj)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("issuerURL with user and password",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "https://alice:hunter2@idp.example.com"}),
			"issuerURL must not carry credentials"),
		Entry("issuerURL with a user only",
			provider("ClusterOAuthProvider", map[string]any{"clientID": "c", "issuerURL": "https://token@idp.example.com/dex"}),
			"issuerURL must not carry credentials"),
		Entry("deviceAuthorizationURL with credentials",
			provider("OAuthProvider", map[string]any{"clientID": "c", "deviceAuthorizationURL": "https://u:p@idp/d", "tokenURL": "https://idp/t"}),
			"deviceAuthorizationURL must not carry credentials"),
		Entry("tokenURL with credentials",
			provider("ClusterOAuthProvider", map[string]any{"clientID": "c", "deviceAuthorizationURL": "https://idp/d", "tokenURL": "https://u:p@idp/t"}),
			"tokenURL must not carry credentials"),
		Entry("revocationURL with credentials, http and allowInsecureHTTP",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "http://idp", "allowInsecureHTTP": true, "revocationURL": "http://u:p@idp/r"}),
			"revocationURL must not carry credentials"),
		Entry("issuerURL with a query",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "https://idp.example.com/dex?key=s3cret"}),
			"issuerURL must not have a query or fragment"),
		Entry("issuerURL with a fragment",
			provider("OAuthProvider", map[string]any{"clientID": "c", "issuerURL": "https://idp.example.com/dex#x"}),
			"issuerURL must not have a query or fragment"),
	)

	It("accept an @ outside the authority and a query on an endpoint", func() {
		Expect(create(provider("OAuthProvider", map[string]any{"clientID": "c",
			"deviceAuthorizationURL": "https://idp.example.com/users/@me/device",
			"tokenURL":               "https://idp.example.com/token?p=B2C_1_signin&redirect=https://x@y",
		}))).To(Succeed())
	})
})
