// Command kubectl-devicelogin is the `kubectl devicelogin` plugin of devicelogin-operator: put it
// on your PATH and run `kubectl devicelogin --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/devicelogin-dev/devicelogin-operator/internal/kubectlplugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := kubectlplugin.Run(ctx, os.Args[1:], kubectlplugin.Options{})
	stop()
	os.Exit(code)
}
