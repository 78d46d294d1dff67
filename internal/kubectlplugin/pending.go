package kubectlplugin

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// noPendingMessage is what pending says when no code waits.
const noPendingMessage = "No codes are waiting for approval."

func newPendingCommand(o *Options, kf *kubeFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "pending [-A]",
		Short: "List the user codes waiting for someone to approve them",
		Long: `List the user codes waiting for someone to approve them, in the current namespace or, with -A,
in every namespace: the DeviceLogin, its provider, the code, the URL to open (with the code filled
in when the provider allows) and how long the code still works.

A code waits while the Ready reason is AwaitingApproval, or ReauthorizationRequired while the old
token still works. When none waits, it says so on stderr and prints nothing on stdout.`,
		Example: `  # Codes waiting in the current namespace
  kubectl devicelogin pending

  # Codes waiting anywhere in the cluster
  kubectl devicelogin pending -A`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := kf.client(o.ErrOut)
			if err != nil {
				return err
			}
			var opts []client.ListOption
			if !all {
				ns, err := kf.namespace()
				if err != nil {
					return err
				}
				opts = append(opts, client.InNamespace(ns))
			}
			var list authv1alpha1.DeviceLoginList
			if err := c.List(cmd.Context(), &list, opts...); err != nil {
				return err
			}
			return printPending(o.Out, o.ErrOut, list.Items, o.Clock.Now(), all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "List the codes waiting in every namespace.")
	return cmd
}

// printPending writes the table of the logins whose code waits for approval, sorted by
// namespace and name; with allNamespaces the first column is the namespace, as in kubectl.
func printPending(out, errOut io.Writer, logins []authv1alpha1.DeviceLogin, now time.Time, allNamespaces bool) error {
	var waiting []*authv1alpha1.DeviceLogin
	for i := range logins {
		if waitingForApproval(&logins[i]) {
			waiting = append(waiting, &logins[i])
		}
	}
	if len(waiting) == 0 {
		_, err := fmt.Fprintln(errOut, noPendingMessage)
		return err
	}
	sort.Slice(waiting, func(i, j int) bool {
		if waiting[i].Namespace != waiting[j].Namespace {
			return waiting[i].Namespace < waiting[j].Namespace
		}
		return waiting[i].Name < waiting[j].Name
	})
	headers := []string{"name", "provider", "user code", "url", "time left"}
	if allNamespaces {
		headers = append([]string{"namespace"}, headers...)
	}
	rows := make([][]string, 0, len(waiting))
	for _, dl := range waiting {
		row := []string{dl.Name, providerName(dl), dl.Status.UserCode, approvalURL(&dl.Status),
			timeLeft(now, dl.Status.UserCodeExpiresAt)}
		if allNamespaces {
			row = append([]string{dl.Namespace}, row...)
		}
		rows = append(rows, row)
	}
	return printTable(out, headers, rows)
}
