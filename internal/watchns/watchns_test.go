package watchns

import (
	"flag"
	"io"
	"reflect"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/cache"
)

func TestListSet(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        List
		wantErr     bool
	}{
		{name: "empty means all", value: "", want: nil},
		{name: "only commas mean all", value: " , ,", want: nil},
		{name: "one", value: "team-a", want: List{"team-a"}},
		{name: "sorted, trimmed, deduplicated", value: " team-b,team-a , team-b,", want: List{"team-a", "team-b"}},
		{name: "upper case refused", value: "team-a,Team-B", wantErr: true},
		{name: "slash refused", value: "team-a/x", wantErr: true},
		{name: "too long refused", value: "a234567890123456789012345678901234567890123456789012345678901234", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l List
			err := l.Set(tc.value)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Set(%q) error = %v, want error %v", tc.value, err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(l, tc.want) {
				t.Errorf("Set(%q) = %#v, want %#v", tc.value, l, tc.want)
			}
		})
	}
}

func TestListAsFlag(t *testing.T) {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var l List
	fs.Var(&l, "watch-namespaces", "")
	if err := fs.Parse([]string{"--watch-namespaces=b,a"}); err != nil {
		t.Fatal(err)
	}
	if got := l.String(); got != "a,b" {
		t.Errorf("String() = %q, want %q", got, "a,b")
	}
	if err := fs.Parse([]string{"--watch-namespaces=a_b"}); err == nil {
		t.Error("an invalid namespace name passed flag parsing")
	}
	var unset *List
	if got := unset.String(); got != "" {
		t.Errorf("nil String() = %q, want empty", got)
	}
}

func TestDefaultNamespaces(t *testing.T) {
	if got := List(nil).DefaultNamespaces(); got != nil {
		t.Errorf("empty list: DefaultNamespaces() = %v, want nil (every namespace)", got)
	}
	want := map[string]cache.Config{"team-a": {}, "team-b": {}}
	if got := (List{"team-a", "team-b"}).DefaultNamespaces(); !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultNamespaces() = %v, want %v", got, want)
	}
}
