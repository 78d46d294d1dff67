package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

// watch waits for the approval (giving it, with DEMO_APPROVE=auto), then reports refreshes.
func (d *demo) watch(ctx context.Context, dl *authv1alpha1.DeviceLogin) error {
	if d.auto {
		d.say("DEMO_APPROVE=auto: approving %s as %s over HTTP, as a browser would", dl.Status.UserCode, framework.DexLogin)
		if err := framework.ApproveDex(ctx, dl.Status.VerificationURI, dl.Status.UserCode, framework.DexLogin, framework.DexPassword); err != nil {
			return fmt.Errorf("approving at Dex: %w", err)
		}
	} else {
		d.say("Waiting for approval (Ctrl-C stops everything)")
	}
	approvedAt := time.Now()
	code, lastReason := dl.Status.UserCode, ""
	authorized := false
	var lastRefresh *metav1.Time
	key := types.NamespacedName{Namespace: namespace, Name: loginName}
	for {
		select {
		case <-ctx.Done():
			stage := "the first refresh"
			if !authorized {
				stage = "the approval to produce the token Secret"
			}
			return fmt.Errorf("waiting for %s (Ready: %s; manager log %s): %w", stage, readyText(dl), d.mgr.LogPath, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
		if exited, err := d.mgr.Process().Exited(); exited {
			return fmt.Errorf("the manager exited (%w); see %s", err, d.mgr.LogPath)
		}
		if err := d.cp.Client.Get(ctx, key, dl); err != nil {
			if ctx.Err() != nil {
				continue
			}
			return err
		}
		ready := framework.ReadyCondition(dl)
		if !authorized && dl.Status.UserCode != "" && dl.Status.UserCode != code {
			code = dl.Status.UserCode
			d.say("The code was renewed")
			d.printCode(dl)
		}
		if ready != nil && ready.Reason != lastReason {
			lastReason = ready.Reason
			if ready.Status != metav1.ConditionTrue {
				d.info("Ready=%s %s: %s", ready.Status, ready.Reason, ready.Message)
			}
		}
		if !authorized {
			if ready == nil || ready.Status != metav1.ConditionTrue {
				continue
			}
			secret := &corev1.Secret{}
			if err := d.cp.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: dl.TokenSecretName()}, secret); err != nil {
				continue
			}
			authorized, lastRefresh = true, dl.Status.LastRefreshTime
			who := dl.Status.AuthorizedSubject
			if who == "" {
				who = "(subject not known)"
			}
			d.say("Approved by %s", who)
			if d.auto {
				d.info("Approval to Ready token Secret: %s", time.Since(approvedAt).Round(10*time.Millisecond))
			}
			d.info("Secret %s/%s holds the keys %s (values not shown)", namespace, secret.Name, strings.Join(framework.SecretKeys(secret), ", "))
			d.info("Granted scopes: %s", strings.Join(dl.Status.GrantedScopes, " "))
			d.info("Token expires at %s; next refresh at %s", timeText(dl.Status.TokenExpiresAt), timeText(dl.Status.NextRefreshTime))
			d.say("Watching refreshes (status.lastRefreshTime)%s", map[bool]string{true: "; exiting after the first", false: "; Ctrl-C stops everything"}[d.auto])
			continue
		}
		if t := dl.Status.LastRefreshTime; t != nil && (lastRefresh == nil || !t.Equal(lastRefresh)) {
			lastRefresh = t.DeepCopy()
			d.say("Token refreshed at %s; expires at %s; next refresh at %s", timeText(t), timeText(dl.Status.TokenExpiresAt), timeText(dl.Status.NextRefreshTime))
			d.showRestart(ctx)
			d.showMetrics(ctx)
			if d.auto {
				d.say("DEMO_APPROVE=auto: the first refresh happened %s after the start; done", time.Since(d.started).Round(time.Second))
				return nil
			}
		}
	}
}

func timeText(t *metav1.Time) string {
	if t == nil {
		return "(not set)"
	}
	return t.UTC().Format(time.RFC3339)
}
