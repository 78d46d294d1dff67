// Package kubectlplugin is the `kubectl devicelogin` plugin: it lists the user codes waiting for
// approval, shows a DeviceLogin's status in words (with the approval URL as a QR code), waits for
// an outcome and sets the reauthorize and refresh annotations. It talks to the cluster with the
// user's kubeconfig and RBAC, reads DeviceLogins only, and never reads a Secret.
package kubectlplugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"
)

// Exit statuses of the plugin.
const (
	// ExitOK: the command did what was asked (for wait: the condition holds).
	ExitOK = 0
	// ExitFailed: an error (bad flags, not found, forbidden) or, for wait, the timeout passed.
	ExitFailed = 1
	// ExitHalted: wait saw the operator stop the flow (AccessDenied, CodeExpired with
	// codeExpiryPolicy Stop, ProviderError): the condition cannot hold without someone acting.
	ExitHalted = 2
)

// Options are what every command shares. The zero value writes to os.Stdout and os.Stderr and
// reads the real clock.
type Options struct {
	// Out receives the results; ErrOut receives errors and notes.
	Out, ErrOut io.Writer
	// Clock gives "now" for the time left, relative times and annotation values.
	Clock clock.PassiveClock
}

func (o *Options) defaults() {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.ErrOut == nil {
		o.ErrOut = os.Stderr
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// exitError carries an exit status other than ExitFailed with the error to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Run runs the plugin with args (the command line without the program name, e.g.
// []string{"pending", "-A"}) and returns the exit status. Errors go to o.ErrOut as kubectl
// writes them ("error: ...").
func Run(ctx context.Context, args []string, o Options) int {
	o.defaults()
	cmd := NewCommand(&o)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(o.ErrOut, "error: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitFailed
}

// NewCommand returns the `kubectl devicelogin` command with its subcommands.
func NewCommand(o *Options) *cobra.Command {
	o.defaults()
	kf := newKubeFlags()
	root := &cobra.Command{
		Use:   "devicelogin",
		Short: "Approve, inspect and wait for DeviceLogins",
		Long: `kubectl devicelogin works with the DeviceLogins of devicelogin-operator: it lists the user codes
waiting for someone to approve them, shows where a login stands (with the approval URL as a QR
code for a phone), waits for an outcome, and asks the operator for a new login or a refresh.

It uses your kubeconfig and your RBAC: get, list and watch on devicelogins to read, patch to
reauthorize or refresh. It never reads a Secret and never prints a token.`,
		Annotations:       map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl devicelogin"},
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetOut(o.Out)
	root.SetErr(o.ErrOut)
	kf.bind(root.PersistentFlags())
	root.AddCommand(
		newPendingCommand(o, kf),
		newShowCommand(o, kf),
		newWaitCommand(o, kf),
		newAnnotateCommand(o, kf, reauthorizeAction),
		newAnnotateCommand(o, kf, refreshAction),
		newVersionCommand(o),
	)
	return root
}
