package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// triggers is what reconcileTriggers decided, for the steps after it.
type triggers struct {
	// reauthorize: the reauthorize annotation asks for a new approval now (reconcileFlow).
	reauthorize bool
	// refresh: the refresh annotation asks for a refresh now (reconcileRefresh).
	refresh bool
	// halt is an earlier AccessDenied, ProviderError or CodeExpired that still holds: no new code
	// is asked for (reconcileRefresh, reconcileFlow), and Ready keeps saying so.
	halt *blocker
}

// haltingReasons stop the flow until the reauthorize annotation or a spec change.
var haltingReasons = map[string]bool{ReasonAccessDenied: true, ReasonProviderError: true, ReasonCodeExpired: true}

// reconcileTriggers acts on the annotations users set and on spec changes that affect the grant
// (a pending code for another request or provider instance is dropped; stored tokens go only back
// to the instance that issued them), and works out whether an earlier AccessDenied, ProviderError
// or CodeExpired still holds.
func (r *DeviceLoginReconciler) reconcileTriggers(ctx context.Context, s *loginScope) (triggers, error) {
	dl, st := s.dl, s.state
	var t triggers
	// The annotations are acted on only with a usable provider; until then they stay unhandled,
	// and the provider's watch brings them back.
	if v := dl.Annotations[authv1alpha1.ReauthorizeAnnotation]; s.provider != nil && v != "" && v != dl.Status.LastHandledReauthorize {
		dl.Status.LastHandledReauthorize = v
		dl.Status.UnansweredCodes = 0
		t.reauthorize = true
		r.dropCode(s)
		log.FromContext(ctx).Info("Reauthorization requested")
	}
	if v := dl.Annotations[authv1alpha1.RefreshAnnotation]; s.provider != nil && v != "" && v != dl.Status.LastHandledRefresh {
		dl.Status.LastHandledRefresh = v
		t.refresh = true
		log.FromContext(ctx).Info("Refresh requested")
	}
	if (st.DeviceCode != "" && s.dl.Status.UserCode == "") || (st.DeviceCode == "" && s.dl.Status.UserCode != "") {
		// Half a pending flow (status or state lost): start over rather than poll blind.
		r.dropCode(s)
	}
	if s.grant != "" && st.DeviceCode != "" && (st.DeviceGrant != s.grant || st.DeviceBinding != s.binding) {
		// The code was asked for another request or of another provider instance: never poll
		// a new host with it.
		r.dropCode(s)
	}
	if err := r.checkBinding(ctx, s); err != nil {
		return t, err
	}
	if dl.Generation != dl.Status.ObservedGeneration {
		dl.Status.UnansweredCodes = 0
	}
	if prev := s.prevReady; prev != nil && !t.reauthorize &&
		haltingReasons[prev.Reason] && prev.ObservedGeneration == dl.Generation && !s.pending() &&
		(prev.Reason != ReasonCodeExpired || r.codesExhausted(dl)) &&
		// An expired token whose refresh failed with ProviderError is not a halt: refreshing
		// goes on, and the next reconcile says again what holds.
		!strings.HasPrefix(prev.Message, expiredTokenPrefix(dl)) {
		t.halt = halted(prev.Reason, prev.Message)
	}
	return t, nil
}

// checkBinding makes sure stored tokens go only back to the provider instance that issued them.
// Tokens stored before bindings existed adopt the current instance once. When the provider was
// replaced (deleted and created again) or its endpoints moved, the stored tokens are never sent
// there: a new approval is needed, and the current token is served until it expires.
func (r *DeviceLoginReconciler) checkBinding(ctx context.Context, s *loginScope) error {
	st := s.state
	if !st.hasToken() || s.binding == "" || st.Binding == s.binding {
		return nil
	}
	if st.Binding == "" {
		st.Binding = s.binding
		return r.persist(ctx, s)
	}
	if st.NeedsApproval != "" {
		return nil
	}
	st.NeedsApproval = fmt.Sprintf("%s is not the instance that issued the token (it was recreated, or its endpoints changed)", providerName(s.dl))
	if err := r.persist(ctx, s); err != nil {
		return err
	}
	s.dl.Status.NextRefreshTime = nil
	r.event(s.dl, corev1.EventTypeWarning, ReasonReauthorizationRequired, "Reconcile",
		"%s; the stored refresh token is not sent there. Requesting a new user code; the current token %s", st.NeedsApproval, expiryText(st))
	return nil
}

// dropCode forgets the pending device code.
func (r *DeviceLoginReconciler) dropCode(s *loginScope) {
	s.state.DeviceCode, s.state.DeviceGrant, s.state.DeviceBinding = "", "", ""
	clearPendingCode(&s.dl.Status)
	if r.duePolls != nil {
		r.duePolls.forget(client.ObjectKeyFromObject(s.dl))
	}
}
