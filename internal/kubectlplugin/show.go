package kubectlplugin

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

func newShowCommand(o *Options, kf *kubeFlags) *cobra.Command {
	var showQR, invert bool
	cmd := &cobra.Command{
		Use:   "show NAME [--qr]",
		Short: "Say where a DeviceLogin stands, with the approval URL as a QR code",
		Long: `Say where a DeviceLogin stands: Ready and its reason in words, the message, the code waiting for
approval and where to approve it, who approved, when the token expires, the next refresh and the
name of the token Secret. It reads the DeviceLogin only: no Secret, no token.

With --qr it also draws the approval URL (the complete verification URL, with the code filled in
when the provider gives one) as a QR code in the terminal, so that someone can approve from a
phone. The code is drawn for light-on-dark terminals; add --invert on a dark-on-light one.`,
		Example: `  # Where does ci-bot stand?
  kubectl devicelogin show ci-bot -n team-a

  # Approve from a phone: scan the code on the screen
  kubectl devicelogin show ci-bot -n team-a --qr`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := kf.resolve(o.ErrOut, args[0])
			if err != nil {
				return err
			}
			dl, err := t.get(cmd.Context())
			if err != nil {
				return err
			}
			if err := describeLogin(o.Out, dl, o.Clock.Now()); err != nil {
				return err
			}
			if !showQR {
				return nil
			}
			return printApprovalQR(o.Out, dl, invert)
		},
	}
	cmd.Flags().BoolVar(&showQR, "qr", false, "Draw the approval URL as a QR code.")
	cmd.Flags().BoolVar(&invert, "invert", false, "Draw the QR code for a dark-on-light terminal.")
	return cmd
}

// printApprovalQR draws the approval URL of the waiting code as a QR code, or says why there is
// none.
func printApprovalQR(w io.Writer, dl *authv1alpha1.DeviceLogin, invert bool) error {
	url := approvalURL(&dl.Status)
	if !waitingForApproval(dl) || url == "" {
		_, err := fmt.Fprintln(w, "\nNo code is waiting for approval, so there is no QR code to show.")
		return err
	}
	hint := fmt.Sprintf("Scan to open %s", url)
	if dl.Status.VerificationURIComplete == "" {
		hint += fmt.Sprintf(" and enter the code %s", dl.Status.UserCode)
	}
	if _, err := fmt.Fprintf(w, "\n%s:\n\n", oneLine(hint)); err != nil {
		return err
	}
	return writeQR(w, url, invert)
}
