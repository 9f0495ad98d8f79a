package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// session registers an organization on an app and returns an access token.
func session(t *testing.T, appURL, org string) string {
	t.Helper()
	body := fmt.Sprintf(`{"organization":%q,"name":"Ann","email":"ann@%s.example.com","password":"correct-horse-battery"}`, org, org)
	code, resp, err := httpDo(t.Context(), http.MethodPost, appURL+"/api/auth/register", "", []byte(body))
	if err != nil || code/100 != 2 {
		t.Fatalf("register on %s: %d %v %s", appURL, code, err, resp)
	}
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(resp, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("register: no accessToken in %s (%v)", resp, err)
	}
	return tok.AccessToken
}

// TestTopology runs the compose topology without Docker: both apps' metrics
// reach Prometheus, and stopping one app raises an alert at Alertmanager.
func TestTopology(t *testing.T) {
	s := newStack(t, stackOptions{replicas: 2, interval: time.Second, ruleFor: 2 * time.Second, prometheus: true})
	ctx := t.Context()

	for i, app := range s.apps {
		tok := session(t, app.url, fmt.Sprintf("org%d", i))
		code, resp, err := httpDo(ctx, http.MethodPost, app.url+"/api/projects", tok, []byte(`{"name":"Launch"}`))
		if err != nil || code != http.StatusCreated {
			t.Fatalf("create project on %s: %d %v %s", app.name, code, err, resp)
		}
	}

	waitFor(t, "both apps' request metrics in Prometheus", 60*time.Second, func() error {
		v, err := s.query(ctx, `sum by (instance) (http_requests_total{job="app",route="/api/projects"})`)
		if err != nil {
			return err
		}
		if len(v) != 2 {
			return fmt.Errorf("%d app instances with project requests, want 2: %v", len(v), v)
		}
		return nil
	})
	waitFor(t, "both agents' probes in Prometheus", 60*time.Second, func() error {
		v, err := s.query(ctx, `probe_success{job="blackbox"} == 1`)
		if err != nil {
			return err
		}
		if len(v) != 2 {
			return fmt.Errorf("%d agents report the app up, want 2: %v", len(v), v)
		}
		return nil
	})

	stopped := s.apps[1]
	stopped.proc.Stop()
	waitFor(t, "AppDown for the stopped app at Alertmanager", 90*time.Second, func() error {
		alerts, err := s.amAlerts(ctx, "AppDown")
		if err != nil {
			return err
		}
		for _, a := range alerts {
			labels, _ := a["labels"].(map[string]any)
			if inst, _ := labels["instance"].(string); strings.HasSuffix(inst, ":"+stopped.port) {
				return nil
			}
		}
		return fmt.Errorf("no AppDown for port %s among %v", stopped.port, alerts)
	})
	// The replica still running is not reported down.
	alerts, err := s.amAlerts(ctx, "AppDown")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		labels, _ := a["labels"].(map[string]any)
		if inst, _ := labels["instance"].(string); strings.HasSuffix(inst, ":"+s.apps[0].port) {
			t.Errorf("AppDown raised for the running app: %v", a)
		}
	}
}
