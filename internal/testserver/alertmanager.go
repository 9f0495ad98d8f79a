package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// AlertmanagerServer is a prometheus-alertmanager process (Debian's
// package) owned by one test: alone, with clustering disabled, or one
// member of an AlertmanagerCluster.
type AlertmanagerServer struct {
	URL string // http://127.0.0.1:port
	Dir string // holds alertmanager.yml and the storage (under data/)

	d *daemon
}

// Alertmanager writes cfgYAML as alertmanager.yml into a temporary
// directory, starts prometheus-alertmanager on an ephemeral loopback port
// with its storage there, waits until /-/ready answers 200 and stops it when
// the test ends.
func Alertmanager(t testing.TB, cfgYAML string) *AlertmanagerServer {
	t.Helper()
	// No gossip: a single, isolated instance.
	s := newAlertmanager(t, cfgYAML, []string{"--cluster.listen-address="})
	s.d.start(true)
	s.URL = s.d.url()
	return s
}

// newAlertmanager prepares a server with the given cluster flags; it is
// stopped when the test ends.
func newAlertmanager(t testing.TB, cfgYAML string, clusterArgs []string) *AlertmanagerServer {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"alertmanager.yml": cfgYAML})
	d := &daemon{
		t:    t,
		name: "alertmanager",
		bin:  LookBinary(t, "prometheus-alertmanager", "prometheus-alertmanager"),
		dir:  dir,
		args: func(addr string) []string {
			return append([]string{
				"--config.file=" + filepath.Join(dir, "alertmanager.yml"),
				"--storage.path=" + filepath.Join(dir, "data"),
				"--web.listen-address=" + addr,
				"--log.level=warn",
			}, clusterArgs...)
		},
	}
	t.Cleanup(d.stop)
	return &AlertmanagerServer{Dir: dir, d: d}
}

// Stop stops the server, to test an outage; Start brings it back.
func (s *AlertmanagerServer) Stop() { s.d.stop() }

// Start starts a stopped server again on the same port and storage (its
// silences and notification log survive; alerts are re-sent by clients).
func (s *AlertmanagerServer) Start() { s.d.t.Helper(); s.d.start(false) }

// Alert is an alert as the v2 API posts and lists it.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	// Status is set in listed alerts only.
	Status *AlertStatus `json:"status,omitempty"`
	// Receivers are the receivers' names, in listed alerts only.
	Receivers []string `json:"-"`
}

// AlertStatus is the state of a listed alert: active, suppressed (by a
// silence or an inhibition) or unprocessed.
type AlertStatus struct {
	State       string   `json:"state"`
	InhibitedBy []string `json:"inhibitedBy"`
	SilencedBy  []string `json:"silencedBy"`
}

// PostAlerts posts alerts to /api/v2/alerts.
func (s *AlertmanagerServer) PostAlerts(ctx context.Context, alerts ...Alert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return fmt.Errorf("encoding alerts: %w", err)
	}
	_, err = s.do(ctx, http.MethodPost, "/api/v2/alerts", body)
	return err
}

// Alerts lists the alerts Alertmanager holds (GET /api/v2/alerts), active,
// silenced, inhibited and unprocessed alike.
func (s *AlertmanagerServer) Alerts(ctx context.Context) ([]Alert, error) {
	body, err := s.do(ctx, http.MethodGet, "/api/v2/alerts", nil)
	if err != nil {
		return nil, err
	}
	var raw []struct {
		Alert
		Receivers []struct {
			Name string `json:"name"`
		} `json:"receivers"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decoding alerts from %s: %w", s.URL, err)
	}
	out := make([]Alert, 0, len(raw))
	for _, r := range raw {
		a := r.Alert
		for _, rc := range r.Receivers {
			a.Receivers = append(a.Receivers, rc.Name)
		}
		out = append(out, a)
	}
	return out, nil
}

// do sends one API request with a 10s timeout and returns the body of a 2xx answer.
func (s *AlertmanagerServer) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s %s%s: %w", method, s.URL, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s%s: %w", method, s.URL, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s%s: reading the answer: %w", method, s.URL, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s%s: %s: %s", method, s.URL, path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}
