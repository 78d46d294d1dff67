package logsafe

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
)

func TestCapDropsVerboseLevels(t *testing.T) {
	var buf bytes.Buffer
	base := funcr.New(func(prefix, args string) { buf.WriteString(prefix + " " + args + "\n") }, funcr.Options{Verbosity: 10})
	l := Cap(base, MaxVerbosity).WithName("client").WithValues("k", "v")

	l.Info("level 0")
	l.V(1).Info("level 1")
	l.V(MaxVerbosity).Info("at the cap")
	l.V(8).Info("Response Body", "body", "access_token=SECRET")
	l.V(10).Info("Request Body", "body", "refresh_token=SECRET")
	l.Error(nil, "errors always pass")

	out := buf.String()
	for _, want := range []string{"level 0", "level 1", "at the cap", "errors always pass", `"k"="v"`, "client"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SECRET") || strings.Contains(out, "Body") {
		t.Errorf("a level above the cap was logged:\n%s", out)
	}
	if l.V(8).Enabled() {
		t.Error("V(8) reports enabled; client-go would build the body dump")
	}
	if !l.V(MaxVerbosity).Enabled() {
		t.Error("V(MaxVerbosity) reports disabled")
	}
}
