package kubectlplugin

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// annotateAction is a command that asks the operator for something by setting an annotation.
type annotateAction struct {
	use, short, long, example string
	annotation                string
	// next says what the operator does now, and how to follow it, for namespace and name.
	next func(ns, name string) string
}

var reauthorizeAction = annotateAction{
	use:   "reauthorize NAME",
	short: "Ask the operator for a new login (a fresh user code to approve)",
	long: `Set the annotation auth.devicelogin.dev/reauthorize to the current Unix time: the operator starts a
new device flow and publishes a new user code, even after the flow stopped (AccessDenied,
CodeExpired, ProviderError). While the new code waits, a token that still works stays in the
Secret. Needs patch on devicelogins.`,
	example: `  kubectl devicelogin reauthorize ci-bot -n team-a
  kubectl devicelogin wait ci-bot -n team-a --for=pending && kubectl devicelogin show ci-bot -n team-a --qr`,
	annotation: authv1alpha1.ReauthorizeAnnotation,
	next: func(ns, name string) string {
		return fmt.Sprintf("the operator will request a new user code; see it with: kubectl devicelogin show %s -n %s --qr", name, ns)
	},
}

var refreshAction = annotateAction{
	use:   "refresh NAME",
	short: "Ask the operator to refresh the token now",
	long: `Set the annotation auth.devicelogin.dev/refresh to the current Unix time: the operator refreshes the
access token now instead of at status.nextRefreshTime. Needs patch on devicelogins.`,
	example:    `  kubectl devicelogin refresh ci-bot -n team-a && kubectl devicelogin wait ci-bot -n team-a --for=ready`,
	annotation: authv1alpha1.RefreshAnnotation,
	next: func(ns, name string) string {
		return fmt.Sprintf("the operator will refresh the token now; follow with: kubectl devicelogin wait %s -n %s --for=ready", name, ns)
	},
}

func newAnnotateCommand(o *Options, kf *kubeFlags, a annotateAction) *cobra.Command {
	return &cobra.Command{
		Use:     a.use,
		Short:   a.short,
		Long:    a.long,
		Example: a.example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := kf.resolve(o.ErrOut, args[0])
			if err != nil {
				return err
			}
			dl, err := t.get(cmd.Context())
			if err != nil {
				return err
			}
			value := annotationValue(o.Clock.Now(), dl.Annotations[a.annotation])
			patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{a.annotation: value}}})
			if err != nil {
				return err
			}
			if err := t.c.Patch(cmd.Context(), dl, client.RawPatch(types.MergePatchType, patch)); err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "devicelogin %s annotated %s=%s: %s\n", t.ref(), a.annotation, value, a.next(t.namespace, t.name))
			return err
		},
	}
}

// annotationValue is the current Unix time, or one more than the previous value when that is not
// smaller: the operator acts on a new value only, and two requests within a second must both count.
func annotationValue(now time.Time, previous string) string {
	v := now.Unix()
	if p, err := strconv.ParseInt(previous, 10, 64); err == nil && p >= v {
		v = p + 1
	}
	return strconv.FormatInt(v, 10)
}
