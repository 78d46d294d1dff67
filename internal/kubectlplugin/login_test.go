package kubectlplugin

import (
	"strconv"
	"testing"
	"time"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

func TestClassification(t *testing.T) {
	stale := func(dl *authv1alpha1.DeviceLogin) *authv1alpha1.DeviceLogin { dl.Generation = 2; return dl }
	annotated := func(dl *authv1alpha1.DeviceLogin, key, handled string) *authv1alpha1.DeviceLogin {
		dl.Annotations = map[string]string{key: "1795890948"}
		dl.Status.LastHandledReauthorize, dl.Status.LastHandledRefresh = handled, handled
		return dl
	}
	for _, tc := range []struct {
		name                         string
		dl                           *authv1alpha1.DeviceLogin
		waiting, halted              bool
		authorized, ready, pendingOK bool
	}{
		{name: "never reconciled", dl: newLogin("ns", "a")},
		{name: "requesting a code", dl: requestingLogin("ns", "a")},
		{name: "awaiting approval", dl: awaitingLogin("ns", "a", "WDJB-MJHT", true, time.Minute), waiting: true, pendingOK: true},
		{name: "awaiting, code expired in status", dl: awaitingLogin("ns", "a", "WDJB-MJHT", true, -time.Minute), waiting: true, pendingOK: true},
		{name: "authorized", dl: authorizedLogin("ns", "a"), authorized: true, ready: true},
		{name: "reauthorization with the old token valid", dl: reauthorizingLogin("ns", "a", "QQQQ-ZZZZ"), waiting: true, ready: true, pendingOK: true},
		{name: "access denied", dl: deniedLogin("ns", "a"), halted: true},
		{name: "code expired with Stop", dl: codeExpiredLogin("ns", "a"), halted: true},
		{name: "provider error", dl: providerErrorLogin("ns", "a"), halted: true},
		{name: "provider not ready retries", dl: providerNotReadyLogin("ns", "a")},
		{name: "authorized, spec changed since", dl: stale(authorizedLogin("ns", "a"))},
		{name: "denied, spec changed since", dl: stale(deniedLogin("ns", "a"))},
		{name: "denied, Ready of an older generation", dl: func() *authv1alpha1.DeviceLogin {
			dl := stale(deniedLogin("ns", "a"))
			dl.Status.ObservedGeneration = 2
			return dl
		}()},
		{name: "denied, reauthorize not handled yet", dl: annotated(deniedLogin("ns", "a"), authv1alpha1.ReauthorizeAnnotation, "")},
		{name: "denied, reauthorize handled", dl: annotated(deniedLogin("ns", "a"), authv1alpha1.ReauthorizeAnnotation, "1795890948"), halted: true},
		{name: "authorized, refresh not handled yet", dl: annotated(authorizedLogin("ns", "a"), authv1alpha1.RefreshAnnotation, "")},
		{name: "authorized, refresh handled", dl: annotated(authorizedLogin("ns", "a"), authv1alpha1.RefreshAnnotation, "1795890948"), authorized: true, ready: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := waitingForApproval(tc.dl); got != tc.waiting {
				t.Errorf("waitingForApproval = %v, want %v", got, tc.waiting)
			}
			if got := halted(tc.dl); got != tc.halted {
				t.Errorf("halted = %v, want %v", got, tc.halted)
			}
			for cond, want := range map[waitCondition]bool{forAuthorized: tc.authorized, forReady: tc.ready, forPending: tc.pendingOK} {
				if got := cond.holds(tc.dl); got != want {
					t.Errorf("%s holds = %v, want %v", cond, got, want)
				}
			}
		})
	}
}

func TestApprovalURLAndProvider(t *testing.T) {
	dl := withCode(newLogin("ns", "a"), "WDJB-MJHT", false, time.Minute)
	if got := approvalURL(&dl.Status); got != "https://dex.example.com/dex/device" {
		t.Errorf("without a complete URI: %q", got)
	}
	dl.Status.ApprovalURL = ""
	dl.Status.VerificationURIComplete = "https://dex.example.com/dex/device?user_code=WDJB-MJHT"
	if got := approvalURL(&dl.Status); got != dl.Status.VerificationURIComplete {
		t.Errorf("without approvalURL: %q", got)
	}
	if got := providerName(dl); got != "ClusterOAuthProvider/dex" {
		t.Errorf("providerName = %q", got)
	}
	dl.Spec.ProviderRef.Kind = ""
	if got := providerName(dl); got != "OAuthProvider/dex" {
		t.Errorf("providerName without a kind = %q", got)
	}
}

func TestAnnotationValue(t *testing.T) {
	now := testNow.Unix()
	for _, tc := range []struct {
		previous string
		want     int64
	}{
		{"", now},
		{"not-a-number", now},
		{"1", now},
		{"1795880000", now}, // an older value
		{itoa(now), now + 1},
		{itoa(now + 5), now + 6},
	} {
		if got := annotationValue(testNow, tc.previous); got != itoa(tc.want) {
			t.Errorf("annotationValue(%q) = %s, want %d", tc.previous, got, tc.want)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
