package testidp

import (
	"strings"
	"testing"
)

func TestObservation(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Clock: fc})
	a := login(t, s, "")
	refresh(t, s, a.str("refresh_token"), nil)
	get(t, s.UserinfoURL(), bearer(a.str("access_token")))
	get(t, s.URL()+"/nowhere")

	var got []string
	for _, r := range s.Requests() {
		got = append(got, r.Endpoint+":"+r.GrantType)
		if !r.Time.Equal(fc.Now()) {
			t.Errorf("request time %v is not the fake clock's", r.Time)
		}
	}
	want := []string{"device:", "token:" + DeviceGrantType, "token:refresh_token", "userinfo:", "unknown:"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("requests %v, want %v", got, want)
	}
	if s.Polls() != 1 || s.Count(EndpointToken) != 2 {
		t.Errorf("Polls %d token count %d", s.Polls(), s.Count(EndpointToken))
	}
	if len(s.AccessTokens()) != 2 || len(s.RefreshTokens()) != 2 || len(s.DeviceCodes()) != 1 {
		t.Errorf("issued lists wrong")
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %s", s.URL())
	}
}
