package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Preset names a well-known provider whose endpoints and quirks the operator knows.
// +kubebuilder:validation:Enum=GitHub;Google;Microsoft;Sentry;GitLab
type Preset string

// The presets the operator knows.
const (
	PresetGitHub    Preset = "GitHub"
	PresetGoogle    Preset = "Google"
	PresetMicrosoft Preset = "Microsoft"
	PresetSentry    Preset = "Sentry"
	PresetGitLab    Preset = "GitLab"
)

// ClientAuthentication says how the client authenticates at the token endpoint.
// +kubebuilder:validation:Enum=None;ClientSecretBasic;ClientSecretPost
type ClientAuthentication string

// The client authentication methods of RFC 6749 section 2.3.1, plus None for public clients.
const (
	ClientAuthNone  ClientAuthentication = "None"
	ClientAuthBasic ClientAuthentication = "ClientSecretBasic"
	ClientAuthPost  ClientAuthentication = "ClientSecretPost"
)

// SecretKeyRef points at one key of a Secret. Which namespace the Secret is read from depends on the
// kind that holds the reference: an OAuthProvider's own namespace, or the operator's
// cluster-resource namespace for a ClusterOAuthProvider.
// +kubebuilder:validation:XValidation:rule="has(self.name) && size(self.name) > 0 && has(self.key) && size(self.key) > 0",message="clientSecretRef needs both name (the Secret) and key (the entry that holds the client secret), e.g. {name: dex-client, key: client-secret}"
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Name string `json:"name,omitempty"`

	// Key of the entry in the Secret's data that holds the value.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Key string `json:"key,omitempty"`
}

// OAuthProviderSpec describes an identity provider that speaks the OAuth 2.0 Device Authorization
// Grant (RFC 8628). Set issuerURL for discovery, or both deviceAuthorizationURL and tokenURL, or a
// preset.
// +kubebuilder:validation:XValidation:rule="(has(self.issuerURL) && size(self.issuerURL) > 0) || (has(self.preset) && size(self.preset) > 0) || (has(self.deviceAuthorizationURL) && size(self.deviceAuthorizationURL) > 0 && has(self.tokenURL) && size(self.tokenURL) > 0)",message="set issuerURL (endpoints are discovered from it), or both deviceAuthorizationURL and tokenURL, or a preset (GitHub, Google, Microsoft, Sentry, GitLab)"
// +kubebuilder:validation:XValidation:rule="self.allowInsecureHTTP || !has(self.issuerURL) || size(self.issuerURL) == 0 || self.issuerURL.startsWith('https://')",message="issuerURL must start with https://; set allowInsecureHTTP: true only for a provider on a trusted local network"
// +kubebuilder:validation:XValidation:rule="self.allowInsecureHTTP || !has(self.deviceAuthorizationURL) || size(self.deviceAuthorizationURL) == 0 || self.deviceAuthorizationURL.startsWith('https://')",message="deviceAuthorizationURL must start with https://; set allowInsecureHTTP: true only for a provider on a trusted local network"
// +kubebuilder:validation:XValidation:rule="self.allowInsecureHTTP || !has(self.tokenURL) || size(self.tokenURL) == 0 || self.tokenURL.startsWith('https://')",message="tokenURL must start with https://; set allowInsecureHTTP: true only for a provider on a trusted local network"
// +kubebuilder:validation:XValidation:rule="self.allowInsecureHTTP || !has(self.revocationURL) || size(self.revocationURL) == 0 || self.revocationURL.startsWith('https://')",message="revocationURL must start with https://; set allowInsecureHTTP: true only for a provider on a trusted local network"
// +kubebuilder:validation:XValidation:rule="!has(self.clientAuthentication) || self.clientAuthentication == 'None' || has(self.clientSecretRef)",message="clientAuthentication ClientSecretBasic and ClientSecretPost need a clientSecretRef; use None for a public client"
type OAuthProviderSpec struct {
	// IssuerURL is the provider's issuer. The operator discovers the endpoints from
	// <issuerURL>/.well-known/openid-configuration (OpenID Connect) or, failing that, from the RFC 8414
	// authorization server metadata. With a preset it names a self-hosted instance's base URL (GitHub
	// Enterprise Server, GitLab self-managed, self-hosted Sentry) or, for Microsoft, the tenant's
	// authority URL (https://login.microsoftonline.com/<tenant>).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self)",message="issuerURL must be an absolute URL such as https://dex.example.com/dex"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^:/?#]+://[^/?#]*@')",message="issuerURL must not carry credentials (user:password@): everyone who can read the provider would see them; use clientSecretRef"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#')",message="issuerURL must not have a query or fragment: an issuer is a plain https URL such as https://dex.example.com/dex"
	// +optional
	IssuerURL string `json:"issuerURL,omitempty"`

	// DeviceAuthorizationURL is the RFC 8628 device authorization endpoint. It overrides discovery
	// and the preset.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self)",message="deviceAuthorizationURL must be an absolute URL such as https://idp.example.com/oauth/device/code"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^:/?#]+://[^/?#]*@')",message="deviceAuthorizationURL must not carry credentials (user:password@): everyone who can read the provider would see them; use clientSecretRef"
	// +optional
	DeviceAuthorizationURL string `json:"deviceAuthorizationURL,omitempty"`

	// TokenURL is the OAuth 2.0 token endpoint. It overrides discovery and the preset.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self)",message="tokenURL must be an absolute URL such as https://idp.example.com/oauth/token"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^:/?#]+://[^/?#]*@')",message="tokenURL must not carry credentials (user:password@): everyone who can read the provider would see them; use clientSecretRef"
	// +optional
	TokenURL string `json:"tokenURL,omitempty"`

	// RevocationURL is the RFC 7009 token revocation endpoint, used by DeviceLogins with
	// revokeOnDelete. Optional; it overrides discovery and the preset.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self)",message="revocationURL must be an absolute URL such as https://idp.example.com/oauth/revoke"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^:/?#]+://[^/?#]*@')",message="revocationURL must not carry credentials (user:password@): everyone who can read the provider would see them; use clientSecretRef"
	// +optional
	RevocationURL string `json:"revocationURL,omitempty"`

	// Preset selects a well-known provider's endpoints and quirks: GitHub, Google, Microsoft,
	// Sentry or GitLab.
	// +optional
	Preset Preset `json:"preset,omitempty"`

	// ClientID is the OAuth client (application) ID registered at the provider.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	ClientID string `json:"clientID"`

	// ClientSecretRef points at the client secret, for confidential clients only. An
	// OAuthProvider reads it from its own namespace; a ClusterOAuthProvider from the operator's
	// cluster-resource namespace.
	// +optional
	ClientSecretRef *SecretKeyRef `json:"clientSecretRef,omitempty"`

	// ClientAuthentication is how the client authenticates at the token endpoint: None (public
	// client), ClientSecretBasic or ClientSecretPost. Defaults to ClientSecretBasic when
	// clientSecretRef is set (or what the preset needs), else None.
	// +optional
	ClientAuthentication ClientAuthentication `json:"clientAuthentication,omitempty"`

	// AllowInsecureHTTP permits http:// endpoints. Leave it false outside a trusted local network:
	// tokens and client secrets would travel in clear text. On an OAuthProvider it is refused (and
	// so are endpoints on loopback, private, link-local, CGNAT and ULA addresses) unless the
	// operator runs with --allow-private-namespaced-providers.
	// +kubebuilder:default=false
	// +optional
	AllowInsecureHTTP bool `json:"allowInsecureHTTP"`

	// AllowedNamespaces limits which namespaces' DeviceLogins may use a ClusterOAuthProvider.
	// Empty means every namespace. Not allowed on an OAuthProvider, which serves its own
	// namespace only.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	AllowedNamespaces []string `json:"allowedNamespaces,omitempty"`
}

// OAuthProviderStatus is what the operator resolved for a provider.
type OAuthProviderStatus struct {
	// ObservedGeneration is the generation of the spec that the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready is True when the endpoints are known and the client secret (if any) is
	// readable. Discovered says how the last discovery went; while re-discovery fails, Ready stays
	// True with the endpoints of the last successful discovery for up to 24 hours.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Issuer is the OpenID Connect issuer whose keys verify ID tokens, when the provider has one.
	// +optional
	Issuer string `json:"issuer,omitempty"`

	// DeviceAuthorizationURL is the device authorization endpoint in use.
	// +optional
	DeviceAuthorizationURL string `json:"deviceAuthorizationURL,omitempty"`

	// TokenURL is the token endpoint in use.
	// +optional
	TokenURL string `json:"tokenURL,omitempty"`

	// RevocationURL is the revocation endpoint in use, when the provider has one.
	// +optional
	RevocationURL string `json:"revocationURL,omitempty"`

	// UserinfoURL is the OpenID Connect userinfo endpoint, when the provider has one.
	// +optional
	UserinfoURL string `json:"userinfoURL,omitempty"`

	// JWKSURL is the URL of the keys that sign the provider's ID tokens, when it has one.
	// +optional
	JWKSURL string `json:"jwksURL,omitempty"`

	// LastDiscoveryTime is when the endpoints in status were read from a discovery document;
	// absent when they come from the preset or the spec alone.
	// +optional
	LastDiscoveryTime *metav1.Time `json:"lastDiscoveryTime,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=devicelogin-operator
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Token URL",type=string,JSONPath=`.status.tokenURL`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.allowedNamespaces)",message="allowedNamespaces is for ClusterOAuthProvider only: an OAuthProvider serves DeviceLogins of its own namespace; remove the field, or use a ClusterOAuthProvider"

// OAuthProvider is an identity provider that DeviceLogins of its own namespace may use.
type OAuthProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec describes the provider.
	Spec OAuthProviderSpec `json:"spec"`

	// Status is what the operator resolved.
	// +optional
	Status OAuthProviderStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// OAuthProviderList is a list of OAuthProviders.
type OAuthProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OAuthProvider `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=devicelogin-operator
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Token URL",type=string,JSONPath=`.status.tokenURL`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterOAuthProvider is an identity provider that DeviceLogins of every namespace, or of the
// namespaces in allowedNamespaces, may use.
type ClusterOAuthProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec describes the provider.
	Spec OAuthProviderSpec `json:"spec"`

	// Status is what the operator resolved.
	// +optional
	Status OAuthProviderStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterOAuthProviderList is a list of ClusterOAuthProviders.
type ClusterOAuthProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterOAuthProvider `json:"items"`
}

func init() {
	SchemeBuilder.Register(&OAuthProvider{}, &OAuthProviderList{}, &ClusterOAuthProvider{}, &ClusterOAuthProviderList{})
}

// ProviderObject is what OAuthProvider and ClusterOAuthProvider share, so one controller serves both.
// +kubebuilder:object:generate=false
type ProviderObject interface {
	client.Object
	ProviderSpec() *OAuthProviderSpec
	ProviderStatus() *OAuthProviderStatus
}

// ProviderSpec returns the spec.
func (p *OAuthProvider) ProviderSpec() *OAuthProviderSpec { return &p.Spec }

// ProviderStatus returns the status.
func (p *OAuthProvider) ProviderStatus() *OAuthProviderStatus { return &p.Status }

// ProviderSpec returns the spec.
func (p *ClusterOAuthProvider) ProviderSpec() *OAuthProviderSpec { return &p.Spec }

// ProviderStatus returns the status.
func (p *ClusterOAuthProvider) ProviderStatus() *OAuthProviderStatus { return &p.Status }
