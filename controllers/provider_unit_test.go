package controllers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// TestProviderResolve covers how presets, discovery and explicit fields combine. Discovery goes
// through the Discover seam: no test here sends a request anywhere.
func TestProviderResolve(t *testing.T) {
	tests := []struct {
		name           string
		spec           authv1alpha1.OAuthProviderSpec
		namespaced     bool                       // an OAuthProvider in team-a instead of a ClusterOAuthProvider
		allowPrivate   bool                       // --allow-private-namespaced-providers
		discovery      map[string]oauth.Endpoints // issuer -> what discovery finds; absent: discovery fails
		wantDiscovered []string
		wantReason     string
		wantErr        string
		want           oauth.Endpoints
	}{
		{
			name:           "GitLab without issuerURL discovers at gitlab.com",
			spec:           authv1alpha1.OAuthProviderSpec{Preset: authv1alpha1.PresetGitLab, ClientID: "c"},
			discovery:      map[string]oauth.Endpoints{"https://gitlab.com": {Issuer: "https://gitlab.com", JWKSURL: "https://gitlab.com/oauth/discovery/keys", UserinfoURL: "https://gitlab.com/oauth/userinfo"}},
			wantDiscovered: []string{"https://gitlab.com"},
			want: oauth.Endpoints{Issuer: "https://gitlab.com", DeviceAuthorizationURL: "https://gitlab.com/oauth/authorize_device",
				TokenURL: "https://gitlab.com/oauth/token", RevocationURL: "https://gitlab.com/oauth/revoke",
				JWKSURL: "https://gitlab.com/oauth/discovery/keys", UserinfoURL: "https://gitlab.com/oauth/userinfo"},
		},
		{
			name:           "GitLab self-managed discovers at its base URL, and a failed discovery keeps the preset's endpoints",
			spec:           authv1alpha1.OAuthProviderSpec{Preset: authv1alpha1.PresetGitLab, IssuerURL: "https://git.example.com/", ClientID: "c"},
			wantDiscovered: []string{"https://git.example.com"},
			want: oauth.Endpoints{DeviceAuthorizationURL: "https://git.example.com/oauth/authorize_device",
				TokenURL: "https://git.example.com/oauth/token", RevocationURL: "https://git.example.com/oauth/revoke"},
		},
		{
			name: "GitHub never discovers",
			spec: authv1alpha1.OAuthProviderSpec{Preset: authv1alpha1.PresetGitHub, ClientID: "c"},
			want: oauth.Endpoints{DeviceAuthorizationURL: "https://github.com/login/device/code", TokenURL: "https://github.com/login/oauth/access_token",
				UserinfoURL: "https://api.github.com/user"},
		},
		{
			name:       "Google without a client secret is refused before any request",
			spec:       authv1alpha1.OAuthProviderSpec{Preset: authv1alpha1.PresetGoogle, ClientID: "c"},
			wantReason: ReasonInvalidSpec, wantErr: "the Google preset needs the client secret",
		},
		{
			name: "explicit endpoints override the preset",
			spec: authv1alpha1.OAuthProviderSpec{Preset: authv1alpha1.PresetGitHub, ClientID: "c", TokenURL: "https://proxy.example.com/token"},
			want: oauth.Endpoints{DeviceAuthorizationURL: "https://github.com/login/device/code", TokenURL: "https://proxy.example.com/token",
				UserinfoURL: "https://api.github.com/user"},
		},
		{
			name:           "an issuer without device endpoint says what to set",
			spec:           authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com", ClientID: "c"},
			discovery:      map[string]oauth.Endpoints{"https://idp.example.com": {Issuer: "https://idp.example.com", TokenURL: "https://idp.example.com/token"}},
			wantDiscovered: []string{"https://idp.example.com"},
			wantReason:     ReasonDiscoveryFailed, wantErr: "advertises no device_authorization_endpoint; set deviceAuthorizationURL",
		},
		{
			name:       "a discovered http endpoint is refused without allowInsecureHTTP",
			spec:       authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com", ClientID: "c"},
			discovery:  map[string]oauth.Endpoints{"https://idp.example.com": {DeviceAuthorizationURL: "http://idp.example.com/device", TokenURL: "https://idp.example.com/token"}},
			wantReason: ReasonInsecureEndpoint, wantErr: "is not https", wantDiscovered: []string{"https://idp.example.com"},
		},
		{
			name: "a discovered endpoint with credentials is refused, and they are not shown",
			spec: authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com", ClientID: "c"},
			discovery: map[string]oauth.Endpoints{"https://idp.example.com": {DeviceAuthorizationURL: "https://idp.example.com/device",
				TokenURL: "https://idp.example.com/token", UserinfoURL: "https://admin:hunter2@idp.example.com/userinfo?key=s3cret"}},
			wantDiscovered: []string{"https://idp.example.com"},
			wantReason:     ReasonInvalidEndpoint, wantErr: "userinfo endpoint https://redacted@idp.example.com/userinfo?redacted carries credentials",
		},
		{
			name:       "an issuerURL with a query is refused before any request, without showing the query",
			spec:       authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com/dex?key=s3cret", ClientID: "c"},
			wantReason: ReasonInvalidSpec, wantErr: "issuerURL https://idp.example.com/dex?redacted has a query or fragment",
		},
		{
			name:       "a namespaced provider may not use allowInsecureHTTP, and nothing is asked",
			namespaced: true,
			spec:       authv1alpha1.OAuthProviderSpec{IssuerURL: "http://idp.example.com", AllowInsecureHTTP: true, ClientID: "c"},
			wantReason: ReasonInsecureEndpoint, wantErr: "allowInsecureHTTP is refused on an OAuthProvider unless the operator runs with --allow-private-namespaced-providers",
		},
		{
			name:       "a namespaced provider's explicit private endpoint is refused before any request",
			namespaced: true,
			spec:       authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com", DeviceAuthorizationURL: "https://[fd00::1]/device", TokenURL: "https://idp.example.com/token", ClientID: "c"},
			wantReason: ReasonPrivateEndpoint, wantErr: "device authorization endpoint https://[fd00::1]/device is a private address; an OAuthProvider may not reach it unless the operator runs with --allow-private-namespaced-providers",
		},
		{
			name:       "a namespaced provider's loopback issuer is refused before any request",
			namespaced: true,
			spec:       authv1alpha1.OAuthProviderSpec{IssuerURL: "https://127.0.0.1:8443", ClientID: "c"},
			wantReason: ReasonPrivateEndpoint, wantErr: "issuerURL https://127.0.0.1:8443 is a loopback address",
		},
		{
			name:       "a namespaced provider's discovered userinfo on a link-local address is refused",
			namespaced: true,
			spec:       authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com", ClientID: "c"},
			discovery: map[string]oauth.Endpoints{"https://idp.example.com": {DeviceAuthorizationURL: "https://idp.example.com/device",
				TokenURL: "https://idp.example.com/token", UserinfoURL: "https://169.254.169.254/latest/meta-data"}},
			wantDiscovered: []string{"https://idp.example.com"},
			wantReason:     ReasonPrivateEndpoint, wantErr: "userinfo endpoint https://169.254.169.254/latest/meta-data is a link-local address",
		},
		{
			name:         "with --allow-private-namespaced-providers a namespaced provider may use http and private addresses",
			namespaced:   true,
			allowPrivate: true,
			spec:         authv1alpha1.OAuthProviderSpec{DeviceAuthorizationURL: "http://127.0.0.1:5556/device", TokenURL: "http://10.1.2.3/token", AllowInsecureHTTP: true, ClientID: "c"},
			want:         oauth.Endpoints{DeviceAuthorizationURL: "http://127.0.0.1:5556/device", TokenURL: "http://10.1.2.3/token"},
		},
		{
			name: "a ClusterOAuthProvider keeps today's rule: private addresses are the admin's business",
			spec: authv1alpha1.OAuthProviderSpec{IssuerURL: "http://127.0.0.1:5556", AllowInsecureHTTP: true, ClientID: "c"},
			discovery: map[string]oauth.Endpoints{"http://127.0.0.1:5556": {DeviceAuthorizationURL: "http://127.0.0.1:5556/device",
				TokenURL: "http://127.0.0.1:5556/token", JWKSURL: "http://10.0.0.1/keys"}},
			wantDiscovered: []string{"http://127.0.0.1:5556"},
			want:           oauth.Endpoints{DeviceAuthorizationURL: "http://127.0.0.1:5556/device", TokenURL: "http://127.0.0.1:5556/token", JWKSURL: "http://10.0.0.1/keys"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			r := &ProviderReconciler{AllowPrivateNamespacedProviders: tt.allowPrivate,
				Discover: func(_ context.Context, _ *http.Client, issuer string) (oauth.Endpoints, error) {
					asked = append(asked, issuer)
					if e, ok := tt.discovery[issuer]; ok {
						return e, nil
					}
					return oauth.Endpoints{}, &oauth.DiscoveryError{Reason: "HTTP 404"}
				}}
			var obj authv1alpha1.ProviderObject = clusterProvider(tt.spec)
			if tt.namespaced {
				obj = namespacedProvider(tt.spec)
			}
			res := r.resolve(context.Background(), obj)
			if strings.Join(asked, ",") != strings.Join(tt.wantDiscovered, ",") {
				t.Errorf("discovery asked %v; want %v", asked, tt.wantDiscovered)
			}
			if tt.wantErr != "" {
				if res.err == nil || !strings.Contains(res.err.Error(), tt.wantErr) || res.reason != tt.wantReason {
					t.Fatalf("got %q, %v; want %q with %q", res.reason, res.err, tt.wantReason, tt.wantErr)
				}
				if strings.Contains(res.err.Error(), "hunter2") || strings.Contains(res.err.Error(), "s3cret") {
					t.Errorf("the message shows credentials: %v", res.err)
				}
				return
			}
			if res.err != nil {
				t.Fatalf("resolve: %s %v", res.reason, res.err)
			}
			if res.endpoints != tt.want {
				t.Errorf("endpoints\n got %+v\nwant %+v", res.endpoints, tt.want)
			}
		})
	}
}

// TestProviderNamespacedDiscoveryClient: a namespaced OAuthProvider's discovery goes through
// NamespacedHTTP (which refuses private addresses at dial time) unless the manager flag allows
// private addresses; a ClusterOAuthProvider's through HTTP.
func TestProviderNamespacedDiscoveryClient(t *testing.T) {
	spec := authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com", ClientID: "c"}
	for _, tt := range []struct {
		name         string
		obj          authv1alpha1.ProviderObject
		allowPrivate bool
		namespaced   bool // want NamespacedHTTP
	}{
		{"OAuthProvider", namespacedProvider(spec), false, true},
		{"OAuthProvider with the flag", namespacedProvider(spec), true, false},
		{"ClusterOAuthProvider", clusterProvider(spec), false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newPHarness(t, tt.obj, nil)
			h.r.AllowPrivateNamespacedProviders = tt.allowPrivate
			h.discover = pDiscoveredOK
			if _, err := h.reconcile(); err != nil {
				t.Fatal(err)
			}
			want := h.r.HTTP
			if tt.namespaced {
				want = h.r.NamespacedHTTP
			}
			if len(h.clients) != 1 || h.clients[0] != want {
				t.Errorf("discovery went through the wrong client (namespaced wanted: %v)", tt.namespaced)
			}
		})
	}
}
