package providersim

import (
	"net/http"
	"testing"
)

// TestFaultsInEveryDialect: a vendor dialect fails on demand as the RFC one does, and the faulted
// request is recorded.
func TestFaultsInEveryDialect(t *testing.T) {
	s := start(t, Microsoft, Options{})
	c, cfg := clientFor(t, s, "")
	s.SetFault(EndpointDevice, Fault500)
	_, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("User.Read"))
	if err == nil {
		t.Fatal("the fault answered a device code")
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Fault != Fault500 || reqs[0].Endpoint != EndpointDevice {
		t.Errorf("recorded %+v", reqs)
	}
	s.SetFault(EndpointDevice, FaultNone)
	if _, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("User.Read")); err != nil {
		t.Fatal(err)
	}
	if r := s.Requests()[1]; r.Status != http.StatusOK || r.Fault != FaultNone {
		t.Errorf("served request recorded as %+v", r)
	}
}
