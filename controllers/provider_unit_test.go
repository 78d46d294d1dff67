package controllers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// TestProviderResolve covers how presets, discovery and explicit fields combine. Discovery goes
// through the Discover seam: no test here sends a request anywhere.
func TestProviderResolve(t *testing.T) {
	tests := []struct {
		name           string
		spec           authv1alpha1.OAuthProviderSpec
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			r := &ProviderReconciler{Discover: func(_ context.Context, _ *http.Client, issuer string) (oauth.Endpoints, error) {
				asked = append(asked, issuer)
				if e, ok := tt.discovery[issuer]; ok {
					return e, nil
				}
				return oauth.Endpoints{}, &oauth.DiscoveryError{Reason: "HTTP 404"}
			}}
			obj := &authv1alpha1.ClusterOAuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: tt.spec}
			got, _, reason, err := r.resolve(context.Background(), obj)
			if strings.Join(asked, ",") != strings.Join(tt.wantDiscovered, ",") {
				t.Errorf("discovery asked %v; want %v", asked, tt.wantDiscovered)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || reason != tt.wantReason {
					t.Fatalf("got %q, %v; want %q with %q", reason, err, tt.wantReason, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve: %s %v", reason, err)
			}
			if got != tt.want {
				t.Errorf("endpoints\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
