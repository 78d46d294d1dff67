package kubectlplugin

import (
	"context"
	"strings"
	"testing"
)

// runOffline runs the plugin without a cluster.
func runOffline(args ...string) result {
	var out, errOut strings.Builder
	code := Run(context.Background(), args, Options{Out: &out, ErrOut: &errOut})
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"kubectl devicelogin [command]", "pending", "show", "wait", "reauthorize", "refresh", "version", "--kubeconfig", "--context", "-n, --namespace"}},
		{[]string{"pending", "--help"}, []string{"kubectl devicelogin pending [-A]", "-A, --all-namespaces"}},
		{[]string{"show", "--help"}, []string{"kubectl devicelogin show NAME [--qr]", "--qr", "--invert", "no Secret, no token"}},
		{[]string{"wait", "--help"}, []string{"Exit status:", "0  the condition holds", "1  the timeout passed first", "2  the operator stopped the flow", "--for", "--timeout duration"}},
		{[]string{"reauthorize", "--help"}, []string{"auth.devicelogin.dev/reauthorize"}},
		{[]string{"refresh", "--help"}, []string{"auth.devicelogin.dev/refresh"}},
		{[]string{"version", "--help"}, []string{"kubectl devicelogin version"}},
	} {
		r := runOffline(tc.args...)
		if r.code != ExitOK {
			t.Errorf("%v: exit %d, stderr %q", tc.args, r.code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v: help lacks %q:\n%s", tc.args, w, r.stdout)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	r := runOffline("version")
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "kubectl-devicelogin devel (go") || !strings.Contains(r.stdout, "API auth.devicelogin.dev/v1alpha1") {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestUnknownCommand(t *testing.T) {
	r := runOffline("approve")
	if r.code != ExitFailed || !strings.HasPrefix(r.stderr, `error: unknown command "approve"`) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}
