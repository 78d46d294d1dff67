package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

const sampleMetrics = `# HELP rest_client_requests_total Number of HTTP requests, partitioned by status code, method, and host.
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="GET"} 10
rest_client_requests_total{code="404",host="127.0.0.1:6443",method="GET"} 2
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="PATCH"} 5
rest_client_requests_total{code="201",host="127.0.0.1:6443",method="POST"} 1
# HELP workqueue_depth Current depth of workqueue
# TYPE workqueue_depth gauge
workqueue_depth{controller="devicelogin",name="devicelogin"} 3
workqueue_depth{controller="clusteroauthprovider",name="clusteroauthprovider"} 1
# HELP other_total Something else.
# TYPE other_total counter
other_total{method="GET"} 99
`

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, sampleMetrics)
	}))
	defer srv.Close()
	m, err := scrape(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	want := requestCounts{"GET": 12, "PATCH": 5, "POST": 1}
	if fmt.Sprint(m.Requests) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", m.Requests, want)
	}
	if m.QueueDepth != 4 {
		t.Errorf("queue depth %v, want 4", m.QueueDepth)
	}
}

func TestScrapeFailsOnHTTPError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := scrape(context.Background(), srv.URL); err == nil {
		t.Errorf("a 404 scraped without error")
	}
}

func TestRequestCounts(t *testing.T) {
	before := requestCounts{"GET": 10, "PATCH": 4}
	after := requestCounts{"GET": 16, "PATCH": 7, "POST": 3, "PUT": 0}
	d := after.sub(before)
	if fmt.Sprint(d) != fmt.Sprint(requestCounts{"GET": 6, "PATCH": 3, "POST": 3}) {
		t.Errorf("sub = %v", d)
	}
	if d.total() != 12 || d.writes() != 6 {
		t.Errorf("total %v writes %v", d.total(), d.writes())
	}
	if got := d.per(3); got != "4.00 (GET 2.00, PATCH 1.00, POST 1.00)" {
		t.Errorf("per = %q", got)
	}
	if got := (requestCounts{}).per(10); got != "0.00" {
		t.Errorf("per of nothing = %q", got)
	}
	if got := d.per(0); got != "n/a" {
		t.Errorf("per 0 = %q", got)
	}
}
