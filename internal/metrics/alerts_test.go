package metrics

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"
)

// exported are the labels of every metric the package exports.
var exported = map[string][]string{
	"devicelogin_ready_status":                           {"namespace", "name", "condition"},
	"devicelogin_ready_reason":                           {"namespace", "name", "reason"},
	"devicelogin_awaiting_approval":                      {"namespace", "name", "provider_kind", "provider"},
	"devicelogin_user_code_expiration_timestamp_seconds": {"namespace", "name"},
	"devicelogin_token_expiration_timestamp_seconds":     {"namespace", "name"},
	"devicelogin_token_renewal_timestamp_seconds":        {"namespace", "name"},
	"devicelogin_provider_requests_total":                {"provider", "endpoint", "outcome"},
	"devicelogin_token_refreshes_total":                  {"provider", "result"},
	"devicelogin_rollout_restarts_total":                 {"namespace", "kind"},
}

// promql parses as Prometheus does by default: no experimental syntax.
var promql = parser.NewParser(parser.Options{})

// prometheusRule is the part of a monitoring.coreos.com/v1 PrometheusRule that the test reads.
type prometheusRule struct {
	Kind string `json:"kind"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// TestAlertRules parses every expression of config/prometheus/alerts.yaml with Prometheus' own
// parser, and checks that each selects only metrics this package exports, by labels they have.
func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile("../../config/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rule prometheusRule
	if err := yaml.Unmarshal(raw, &rule); err != nil {
		t.Fatal(err)
	}
	if rule.Kind != "PrometheusRule" {
		t.Fatalf("kind %q", rule.Kind)
	}
	var alerts []string
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary annotation", r.Alert)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			expr, err := promql.ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
				continue
			}
			if expr.Type() != parser.ValueTypeVector {
				t.Errorf("%s: the expression is a %s, not an instant vector", r.Alert, expr.Type())
			}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				vs, ok := node.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				labels, ok := exported[vs.Name]
				if !ok {
					t.Errorf("%s: selects %q, which the operator does not export", r.Alert, vs.Name)
					return nil
				}
				for _, m := range vs.LabelMatchers {
					if m.Name != "__name__" && !slices.Contains(labels, m.Name) {
						t.Errorf("%s: %s has no label %q", r.Alert, vs.Name, m.Name)
					}
				}
				return nil
			})
		}
	}
	want := []string{"DeviceLoginAwaitingApproval", "DeviceLoginTokenExpiringWithoutRefresh",
		"DeviceLoginReauthorizationRequired", "DeviceLoginNotReady"}
	if !slices.Equal(alerts, want) {
		t.Fatalf("alerts %v, want %v", alerts, want)
	}
}

// TestExportedLabels keeps the table above true: it scrapes a registry with one DeviceLogin of each
// kind and every counter touched, and compares each metric's label names.
func TestExportedLabels(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(testLogins()...).Build()); err != nil {
		t.Fatal(err)
	}
	ObserveProviderRequest("OAuthProvider/idp", oauth.EndpointToken, oauth.OutcomeSuccess)
	RecordRefresh("OAuthProvider/idp", true)
	RecordRestart("team-a", "Deployment")
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		seen[f.GetName()] = true
		want, ok := exported[f.GetName()]
		if !ok {
			t.Errorf("%s is exported but missing from the table", f.GetName())
			continue
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			if !sameSet(got, want) {
				t.Errorf("%s has labels %v, the table says %v", f.GetName(), got, want)
			}
		}
	}
	for name := range exported {
		if !seen[name] {
			t.Errorf("%s is in the table but not exported", name)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
