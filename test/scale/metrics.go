package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// requestCounts is the manager's rest_client_requests_total summed by HTTP method: every request
// it made to the API server.
type requestCounts map[string]float64

// writeMethods are the methods that change something in the API server.
var writeMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// total sums every method.
func (c requestCounts) total() float64 {
	var n float64
	for _, v := range c {
		n += v
	}
	return n
}

// writes sums POST, PUT, PATCH and DELETE.
func (c requestCounts) writes() float64 {
	var n float64
	for _, m := range writeMethods {
		n += c[m]
	}
	return n
}

// sub is c minus before, method by method.
func (c requestCounts) sub(before requestCounts) requestCounts {
	out := requestCounts{}
	for m, v := range c {
		if d := v - before[m]; d != 0 {
			out[m] = d
		}
	}
	return out
}

// per formats the counts divided by n: "3.00 (GET 2.00, PATCH 1.00)".
func (c requestCounts) per(n float64) string {
	if n <= 0 {
		return "n/a"
	}
	methods := slices.Sorted(maps.Keys(c))
	parts := make([]string, 0, len(methods))
	for _, m := range methods {
		parts = append(parts, fmt.Sprintf("%s %.2f", m, c[m]/n))
	}
	s := fmt.Sprintf("%.2f", c.total()/n)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// managerMetrics are the figures read from one scrape of the manager's /metrics.
type managerMetrics struct {
	Requests requestCounts
	// QueueDepth is the summed workqueue_depth of every controller.
	QueueDepth float64
}

// scrape reads url (the manager's plain-HTTP metrics endpoint).
func scrape(ctx context.Context, url string) (managerMetrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return managerMetrics{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return managerMetrics{}, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return managerMetrics{}, fmt.Errorf("scraping %s: HTTP %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return managerMetrics{}, fmt.Errorf("parsing %s: %w", url, err)
	}
	m := managerMetrics{Requests: requestCounts{}}
	if f := families["rest_client_requests_total"]; f != nil {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "method" {
					m.Requests[l.GetValue()] += s.GetCounter().GetValue()
				}
			}
		}
	}
	if f := families["workqueue_depth"]; f != nil {
		for _, s := range f.GetMetric() {
			m.QueueDepth += s.GetGauge().GetValue()
		}
	}
	return m, nil
}
