package kubectlplugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// waitCondition is what wait can wait for.
type waitCondition string

// The conditions of --for.
const (
	// forAuthorized: Ready is True with reason Authorized: approved, and no new approval pending.
	forAuthorized waitCondition = "authorized"
	// forReady: Ready is True: the token Secret holds a valid access token.
	forReady waitCondition = "ready"
	// forPending: a user code waits for approval.
	forPending waitCondition = "pending"
)

// holds reports whether the condition holds for a status that is current (see current): a
// status that still shows the time before a new spec or annotation does not count.
func (w waitCondition) holds(dl *authv1alpha1.DeviceLogin) bool {
	if !current(dl) {
		return false
	}
	c := readyCondition(dl)
	switch w {
	case forAuthorized:
		return c.Status == metav1.ConditionTrue && c.Reason == reasonAuthorized
	case forReady:
		return c.Status == metav1.ConditionTrue
	case forPending:
		return waitingForApproval(dl)
	}
	return false
}

func parseWaitCondition(s string) (waitCondition, error) {
	switch w := waitCondition(s); w {
	case forAuthorized, forReady, forPending:
		return w, nil
	}
	return "", fmt.Errorf("--for=%q: want authorized, ready or pending", s)
}

func newWaitCommand(o *Options, kf *kubeFlags) *cobra.Command {
	var forFlag string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait NAME --for=authorized|ready|pending [--timeout=5m]",
		Short: "Wait until a DeviceLogin is authorized, ready or has a code waiting",
		Long: `Wait until a DeviceLogin reaches a condition, watching it:

  authorized  Ready is True with reason Authorized: someone approved and no new approval waits.
  ready       Ready is True: the token Secret holds a valid access token.
  pending     a user code waits for approval (see: kubectl devicelogin pending).

Only a status that the operator wrote after the latest spec change and the latest reauthorize and
refresh annotations counts, so "reauthorize NAME" followed by "wait NAME --for=authorized" waits
for the new approval. --timeout=0 checks once.

Exit status:
  0  the condition holds
  1  the timeout passed first, or an error (not found, forbidden, bad flags)
  2  the operator stopped the flow (AccessDenied, CodeExpired with codeExpiryPolicy Stop,
     ProviderError): nothing changes until someone runs "kubectl devicelogin reauthorize NAME"`,
		Example: `  # Block a pipeline until someone approves ci-bot's code
  kubectl devicelogin wait ci-bot -n team-a --for=authorized --timeout=10m

  # Ask for a new login, show the code, and wait for the approval
  kubectl devicelogin reauthorize ci-bot -n team-a
  kubectl devicelogin wait ci-bot -n team-a --for=pending --timeout=1m
  kubectl devicelogin show ci-bot -n team-a --qr
  kubectl devicelogin wait ci-bot -n team-a --for=authorized`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cond, err := parseWaitCondition(forFlag)
			if err != nil {
				return err
			}
			if timeout < 0 {
				return fmt.Errorf("--timeout=%s: want zero or more", timeout)
			}
			t, err := kf.resolve(o.ErrOut, args[0])
			if err != nil {
				return err
			}
			dl, err := waitFor(cmd.Context(), t, cond, timeout)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(o.Out, metMessage(dl, cond))
			return err
		},
	}
	cmd.Flags().StringVar(&forFlag, "for", "", "The condition to wait for: authorized, ready or pending.")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "How long to wait; 0 checks once.")
	if err := cmd.MarkFlagRequired("for"); err != nil {
		panic(err)
	}
	return cmd
}

// waitFor returns the DeviceLogin once the condition holds; an exitError with ExitHalted when the
// operator stopped the flow; an error when the timeout passes first or the object goes away.
func waitFor(ctx context.Context, t *target, cond waitCondition, timeout time.Duration) (*authv1alpha1.DeviceLogin, error) {
	key := t.key()
	var last authv1alpha1.DeviceLogin
	// A Get first: a missing object or missing RBAC fails at once instead of at the timeout.
	if err := t.c.Get(ctx, key, &last); err != nil {
		return nil, err
	}
	done, err := judge(&last, cond)
	if done || err != nil || timeout == 0 {
		if !done && err == nil {
			err = notYet(&last, cond, "at once (--timeout=0)")
		}
		return &last, err
	}

	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	check := func(obj runtime.Object) (bool, error) {
		dl, ok := obj.(*authv1alpha1.DeviceLogin)
		if !ok {
			return false, nil
		}
		dl.DeepCopyInto(&last)
		return judge(dl, cond)
	}
	precondition := func(store cache.Store) (bool, error) {
		obj, exists, err := store.GetByKey(key.String())
		if err != nil {
			return false, err
		}
		if !exists { // it was there a moment ago
			return false, fmt.Errorf("%s was deleted while waiting for it to be %s", t.ref(), cond)
		}
		return check(obj.(runtime.Object))
	}
	_, err = watchtools.UntilWithSync(wctx, loginListWatch(t), &authv1alpha1.DeviceLogin{}, precondition,
		func(ev watch.Event) (bool, error) {
			if ev.Type == watch.Deleted {
				return false, fmt.Errorf("%s was deleted while waiting for it to be %s", t.ref(), cond)
			}
			return check(ev.Object)
		})
	switch {
	case err == nil:
		return &last, nil
	case ctx.Err() != nil:
		return &last, ctx.Err()
	case wctx.Err() != nil:
		return &last, notYet(&last, cond, "within "+timeout.String())
	}
	return &last, err
}

// judge says whether waiting is over: the condition holds (true, nil), or the operator stopped
// the flow (true, exitError with ExitHalted).
func judge(dl *authv1alpha1.DeviceLogin, cond waitCondition) (bool, error) {
	if cond.holds(dl) {
		return true, nil
	}
	if halted(dl) {
		c := readyCondition(dl)
		return true, &exitError{code: ExitHalted, err: fmt.Errorf("%s/%s will not become %s: the operator stopped the flow (%s): %s",
			dl.Namespace, dl.Name, cond, c.Reason, oneLine(c.Message))}
	}
	return false, nil
}

// notYet is the error of a timeout, with where the login stands.
func notYet(dl *authv1alpha1.DeviceLogin, cond waitCondition, within string) error {
	return errors.New(oneLine(fmt.Sprintf("%s/%s did not become %s %s: %s", dl.Namespace, dl.Name, cond, within, statusInWords(dl))))
}

// metMessage says that the condition holds, and what that means.
func metMessage(dl *authv1alpha1.DeviceLogin, cond waitCondition) string {
	ref := dl.Namespace + "/" + dl.Name
	switch cond {
	case forAuthorized, forReady:
		msg := fmt.Sprintf("%s is %s: Secret %s holds a valid access token", ref, cond, dl.TokenSecretName())
		if dl.Status.AuthorizedSubject != "" {
			msg += ", approved by " + dl.Status.AuthorizedSubject
		}
		return oneLine(msg)
	default:
		return oneLine(fmt.Sprintf("%s has a code waiting for approval: %s at %s", ref, dl.Status.UserCode, approvalURL(&dl.Status)))
	}
}

// loginListWatch lists and watches the one DeviceLogin, by a field selector on its name, as
// kubectl wait does.
func loginListWatch(t *target) cache.ListerWatcher {
	byName := fields.OneTermEqualSelector("metadata.name", t.name).String()
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = byName
			list := &authv1alpha1.DeviceLoginList{}
			return list, t.c.List(ctx, list, &client.ListOptions{Namespace: t.namespace, Raw: &opts})
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = byName
			return t.c.Watch(ctx, &authv1alpha1.DeviceLoginList{}, &client.ListOptions{Namespace: t.namespace, Raw: &opts})
		},
	}
}
