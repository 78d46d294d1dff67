package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations that users set on a DeviceLogin, and the label on the Secrets the operator owns.
const (
	// ReauthorizeAnnotation: any new value starts a fresh device flow.
	ReauthorizeAnnotation = "auth.devicelogin.dev/reauthorize"
	// RefreshAnnotation: any new value refreshes the token now.
	RefreshAnnotation = "auth.devicelogin.dev/refresh"
	// DeviceLoginLabel marks the token Secret and the operator's own state Secret with the name of
	// the DeviceLogin they belong to. The manager caches only Secrets with this label.
	DeviceLoginLabel = "auth.devicelogin.dev/devicelogin"
	// DataHashAnnotation is stamped on every token Secret: the SHA-256 (hex) of the Secret's data,
	// as computed by internal/secrethash.DataHash. It changes exactly when the data changes, so
	// Reloader-style tools (and pod-template annotations copied from it) can restart consumers.
	DataHashAnnotation = "auth.devicelogin.dev/data-hash"
	// RestartedAtAnnotation is set on the pod template of each of spec.rolloutRestartTargets
	// (RFC 3339) to restart it, as `kubectl rollout restart` does with its own key.
	RestartedAtAnnotation = "auth.devicelogin.dev/restartedAt"
)

// ProviderKind is the kind of provider a DeviceLogin references.
// +kubebuilder:validation:Enum=OAuthProvider;ClusterOAuthProvider
type ProviderKind string

// The provider kinds.
const (
	OAuthProviderKind        ProviderKind = "OAuthProvider"
	ClusterOAuthProviderKind ProviderKind = "ClusterOAuthProvider"
)

// CodeExpiryPolicy says what happens when a user code expires before anyone approved it.
// +kubebuilder:validation:Enum=Renew;Stop
type CodeExpiryPolicy string

// The code expiry policies.
const (
	// CodeExpiryRenew asks the provider for a fresh code.
	CodeExpiryRenew CodeExpiryPolicy = "Renew"
	// CodeExpiryStop waits for the reauthorize annotation.
	CodeExpiryStop CodeExpiryPolicy = "Stop"
)

// RolloutRestartKind is the kind of a workload restarted when the token Secret changes.
// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet
type RolloutRestartKind string

// The workload kinds that can be restarted.
const (
	RolloutRestartDeployment  RolloutRestartKind = "Deployment"
	RolloutRestartStatefulSet RolloutRestartKind = "StatefulSet"
	RolloutRestartDaemonSet   RolloutRestartKind = "DaemonSet"
)

// RolloutRestartTarget names a workload (apps/v1) in the DeviceLogin's namespace whose pods are
// restarted when the token Secret's data changes.
type RolloutRestartTarget struct {
	// Kind of the workload: Deployment, StatefulSet or DaemonSet.
	Kind RolloutRestartKind `json:"kind"`

	// Name of the workload, in the DeviceLogin's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
	Name string `json:"name"`
}

// ProviderReference names the OAuthProvider (in the DeviceLogin's namespace) or ClusterOAuthProvider
// to ask.
type ProviderReference struct {
	// Kind is OAuthProvider (same namespace) or ClusterOAuthProvider.
	// +kubebuilder:default=OAuthProvider
	// +optional
	Kind ProviderKind `json:"kind,omitempty"`

	// Name of the provider.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SecretTemplate shapes the token Secret beyond its standard keys.
type SecretTemplate struct {
	// Labels added to the token Secret.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations added to the token Secret. The kubernetes.io/service-account.* annotations are
	// refused: they would ask the API server to fill the Secret with a service account's token.
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('kubernetes.io/service-account'))",message="secretTemplate.annotations may not set kubernetes.io/service-account.* annotations"
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Type of the token Secret: Opaque (the default) or one of the types a workload consumes.
	// Service-account token Secrets are refused.
	// +kubebuilder:validation:Enum=Opaque;kubernetes.io/basic-auth;kubernetes.io/dockerconfigjson;kubernetes.io/dockercfg;kubernetes.io/ssh-auth;kubernetes.io/tls
	// +optional
	Type string `json:"type,omitempty"`

	// Data holds extra keys of the token Secret. Each value is a template in a small, sandboxed
	// part of Go's text/template syntax, rendered with .AccessToken, .TokenType, .Expiry (RFC 3339,
	// empty when the token does not expire), .IDToken and .Scope; for example
	// `authorization: "Bearer {{ .AccessToken }}"`. Only values, literals, variables declared once,
	// if/else/with and the functions b64enc, b64dec, quote, upper, lower, trim, trimPrefix,
	// trimSuffix, replace, default, concat, eq, ne, not, and, or are allowed (docs/secret-templates.md).
	// Each value is at most 4096 bytes long and renders to at most 256 KiB.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].size() <= 4096)",message="each secretTemplate.data value must be at most 4096 characters long"
	// +optional
	Data map[string]string `json:"data,omitempty"`
}

// DeviceLoginSpec asks for an OAuth token through the device authorization grant.
type DeviceLoginSpec struct {
	// ProviderRef names the provider to ask.
	ProviderRef ProviderReference `json:"providerRef"`

	// Scopes to request, e.g. [openid, email, offline_access]. Many providers issue a refresh token
	// only with offline_access.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.all(s, s.size() > 0 && !s.contains(' ') && !s.contains('\\t'))",message="each scope must be one non-empty word without spaces: write [openid, email], not [\"openid email\"]"
	// +optional
	Scopes []string `json:"scopes,omitempty"`

	// Audience is sent as the audience parameter when set (Auth0 and others need it).
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Audience string `json:"audience,omitempty"`

	// Parameters are extra device authorization request parameters, e.g. {resource: https://api.example.com}.
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`

	// SecretName is the name of the token Secret in this namespace. Defaults to the DeviceLogin's
	// name. Names ending in -devicelogin-state are the operator's own and are refused.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!self.endsWith('-devicelogin-state')",message="secretName may not end in -devicelogin-state: that suffix names the operator's own state Secrets"
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="secretName must be a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. ci-bot-token)"
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// SecretTemplate adds labels, annotations and templated keys to the token Secret.
	// +optional
	SecretTemplate *SecretTemplate `json:"secretTemplate,omitempty"`

	// IncludeRefreshToken puts the refresh token into the token Secret under refresh_token. Leave it
	// false unless the workload refreshes by itself: the operator keeps the refresh token and
	// refreshes for it.
	// +kubebuilder:default=false
	// +optional
	IncludeRefreshToken bool `json:"includeRefreshToken"`

	// RefreshBefore refreshes the token this long before it expires. Default: once two thirds of
	// its lifetime have passed.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="refreshBefore must be a positive duration such as 10m or 1h30m"
	// +optional
	RefreshBefore *metav1.Duration `json:"refreshBefore,omitempty"`

	// CodeExpiryPolicy: Renew asks for a fresh user code when one expires unapproved; Stop waits
	// for the auth.devicelogin.dev/reauthorize annotation.
	// +kubebuilder:default=Renew
	// +optional
	CodeExpiryPolicy CodeExpiryPolicy `json:"codeExpiryPolicy,omitempty"`

	// RevokeOnDelete revokes the tokens at the provider (RFC 7009) when the DeviceLogin is deleted.
	// Deletion is never held up for more than 30 seconds by a failing provider.
	// +kubebuilder:default=false
	// +optional
	RevokeOnDelete bool `json:"revokeOnDelete"`

	// RolloutRestartTargets are workloads in this namespace restarted (as by `kubectl rollout
	// restart`) when the token Secret's data changes, for consumers that read the token once: from
	// an environment variable or a subPath mount. Workloads that mount the Secret as a directory see
	// new files without a restart and need not be listed. The first token the operator sees for a
	// DeviceLogin restarts nothing.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	RolloutRestartTargets []RolloutRestartTarget `json:"rolloutRestartTargets,omitempty"`

	// RolloutRestartMinInterval is the least time between two restarts of the targets: a token that
	// changes again within it restarts them once, at the end of the interval, with the newest data.
	// Default 5m; 0s restarts on every change.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$')",message="rolloutRestartMinInterval must be a duration such as 5m or 1h30m"
	// +kubebuilder:default="5m"
	// +optional
	RolloutRestartMinInterval *metav1.Duration `json:"rolloutRestartMinInterval,omitempty"`
}

// DeviceLoginStatus is where the flow stands. The times are absolute so that a restarted
// controller resumes exactly where it was.
type DeviceLoginStatus struct {
	// ObservedGeneration is the generation of the spec that the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready is True only while the token Secret holds a valid access token.
	// TokenRefreshed says whether the last refresh worked.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// UserCode is the code a person enters at the verification URI.
	// +optional
	UserCode string `json:"userCode,omitempty"`

	// VerificationURI is the page where the user code is entered.
	// +optional
	VerificationURI string `json:"verificationURI,omitempty"`

	// VerificationURIComplete is the page with the user code filled in, when the provider gives one.
	// +optional
	VerificationURIComplete string `json:"verificationURIComplete,omitempty"`

	// ApprovalURL is the page to open: verificationURIComplete when the provider gives one, else
	// verificationURI.
	// +optional
	ApprovalURL string `json:"approvalURL,omitempty"`

	// UserCodeExpiresAt is when the user code stops working.
	// +optional
	UserCodeExpiresAt *metav1.Time `json:"userCodeExpiresAt,omitempty"`

	// PollInterval is the number of seconds between token requests now in force (slow_down raises it).
	// +optional
	PollInterval int32 `json:"pollInterval,omitempty"`

	// NextPollTime is when the operator may next make a device-flow request: the first token
	// request for a new code, or the retry after a failed token or device authorization request.
	// The polls in between are scheduled in memory and do not change it.
	// +optional
	NextPollTime *metav1.Time `json:"nextPollTime,omitempty"`

	// AuthorizedAt is when the current grant was approved.
	// +optional
	AuthorizedAt *metav1.Time `json:"authorizedAt,omitempty"`

	// AuthorizedSubject is who approved, from the verified ID token or the userinfo endpoint, when
	// the provider tells.
	// +optional
	AuthorizedSubject string `json:"authorizedSubject,omitempty"`

	// GrantedScopes are the scopes the provider granted.
	// +listType=atomic
	// +optional
	GrantedScopes []string `json:"grantedScopes,omitempty"`

	// TokenExpiresAt is when the access token in the Secret expires; empty when it does not.
	// +optional
	TokenExpiresAt *metav1.Time `json:"tokenExpiresAt,omitempty"`

	// LastRefreshTime is when the token was last refreshed.
	// +optional
	LastRefreshTime *metav1.Time `json:"lastRefreshTime,omitempty"`

	// NextRefreshTime is when the operator refreshes the token next.
	// +optional
	NextRefreshTime *metav1.Time `json:"nextRefreshTime,omitempty"`

	// ConsecutiveFailures counts transient failures (network, 5xx, timeouts) since the last
	// success; the retry delay grows with it.
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`

	// SecretName is the token Secret that holds the access token.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// LastHandledReauthorize is the last value of the auth.devicelogin.dev/reauthorize annotation
	// that was acted on.
	// +optional
	LastHandledReauthorize string `json:"lastHandledReauthorize,omitempty"`

	// UnansweredCodes counts the user codes in a row that expired before anyone approved them. With
	// codeExpiryPolicy Renew the operator stops asking after 10 (CodeExpired, with an event); the
	// reauthorize annotation or a spec change starts again.
	// +optional
	UnansweredCodes int32 `json:"unansweredCodes,omitempty"`

	// LastHandledRefresh is the last value of the auth.devicelogin.dev/refresh annotation that was
	// acted on.
	// +optional
	LastHandledRefresh string `json:"lastHandledRefresh,omitempty"`

	// RolloutRestartedDataHash is the token Secret's data hash (auth.devicelogin.dev/data-hash)
	// that spec.rolloutRestartTargets were last restarted for, or, before the first restart, the
	// first hash seen. The targets are restarted when the Secret's hash differs from it. Empty
	// while the DeviceLogin has no rolloutRestartTargets.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	RolloutRestartedDataHash string `json:"rolloutRestartedDataHash,omitempty"`

	// LastRolloutRestartTime is when spec.rolloutRestartTargets were last restarted; the next
	// restart comes no earlier than spec.rolloutRestartMinInterval after it.
	// +optional
	LastRolloutRestartTime *metav1.Time `json:"lastRolloutRestartTime,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dl,categories=devicelogin-operator
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="a DeviceLogin name is at most 63 characters: it is used as a label value on its Secrets"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="User Code",type=string,JSONPath=`.status.userCode`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.approvalURL`
// +kubebuilder:printcolumn:name="Code Expires",type=string,JSONPath=`.status.userCodeExpiresAt`
// +kubebuilder:printcolumn:name="Token Expires",type=string,JSONPath=`.status.tokenExpiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DeviceLogin gets an OAuth access token for workloads through the device authorization grant
// (RFC 8628): the operator publishes a user code for a person to approve at the provider, then
// keeps the token in a Secret and refreshes it.
type DeviceLogin struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which provider to ask, for what, and where to put the token.
	Spec DeviceLoginSpec `json:"spec"`

	// Status says where the flow stands.
	// +optional
	Status DeviceLoginStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DeviceLoginList is a list of DeviceLogins.
type DeviceLoginList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DeviceLogin `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DeviceLogin{}, &DeviceLoginList{})
}

// TokenSecretName is the name of the Secret that holds the token for workloads.
func (d *DeviceLogin) TokenSecretName() string {
	if d.Spec.SecretName != "" {
		return d.Spec.SecretName
	}
	return d.Name
}
