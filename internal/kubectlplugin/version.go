package kubectlplugin

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// version is stamped by a release build:
//
//	go build -ldflags "-X github.com/devicelogin-dev/devicelogin-operator/internal/kubectlplugin.version=v0.2.0"
//
// Without it, the module version that `go install ...@v0.2.0` records is used.
var version = ""

// pluginVersion is the stamped version, else the module's, else "devel".
func pluginVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func newVersionCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(o.Out, "kubectl-devicelogin %s (%s, %s/%s), API %s\n",
				pluginVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH, authv1alpha1.GroupVersion)
			return err
		},
	}
}
