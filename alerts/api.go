package alerts

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"
)

// The types below mirror Prometheus's web/api/v1 JSON, so Grafana, amtool
// and scripts written for Prometheus read the agent's alerts unchanged.

type apiResponse struct {
	Status string `json:"status"`
	Data   any    `json:"data,omitempty"`
	Error  string `json:"error,omitempty"`
	Type   string `json:"errorType,omitempty"`
}

type apiAlert struct {
	Labels          map[string]string `json:"labels"`
	Annotations     map[string]string `json:"annotations"`
	State           string            `json:"state"`
	ActiveAt        *time.Time        `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time        `json:"keepFiringSince,omitempty"`
	Value           string            `json:"value"`
}

type apiRuleGroup struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Rules          []any     `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

type apiAlertingRule struct {
	State          string            `json:"state"`
	Name           string            `json:"name"`
	Query          string            `json:"query"`
	Duration       float64           `json:"duration"`
	KeepFiringFor  float64           `json:"keepFiringFor"`
	Labels         map[string]string `json:"labels"`
	Annotations    map[string]string `json:"annotations"`
	Alerts         []apiAlert        `json:"alerts"`
	Health         string            `json:"health"`
	LastError      string            `json:"lastError,omitempty"`
	EvaluationTime float64           `json:"evaluationTime"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	Type           string            `json:"type"`
}

type apiRecordingRule struct {
	Name           string            `json:"name"`
	Query          string            `json:"query"`
	Labels         map[string]string `json:"labels,omitempty"`
	Health         string            `json:"health"`
	LastError      string            `json:"lastError,omitempty"`
	EvaluationTime float64           `json:"evaluationTime"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	Type           string            `json:"type"`
}

// Register mounts GET /api/v1/alerts and GET /api/v1/rules.
func (e *Engine) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/alerts", e.serveAlerts)
	mux.HandleFunc("GET /api/v1/rules", e.serveRules)
}

func (e *Engine) ruleManager() *promrules.Manager {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.manager
}

func (e *Engine) serveAlerts(w http.ResponseWriter, _ *http.Request) {
	alerts := []apiAlert{}
	if m := e.ruleManager(); m != nil {
		for _, r := range m.AlertingRules() {
			alerts = append(alerts, toAPIAlerts(r.ActiveAlerts())...)
		}
	}
	writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: map[string]any{"alerts": alerts}})
}

func (e *Engine) serveRules(w http.ResponseWriter, r *http.Request) {
	typ := r.URL.Query().Get("type")
	if typ != "" && typ != "alert" && typ != "record" {
		writeJSON(w, http.StatusBadRequest, apiResponse{Status: "error", Type: "bad_data", Error: `type must be "alert" or "record"`})
		return
	}
	groups := []apiRuleGroup{}
	m := e.ruleManager()
	if m == nil {
		writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: map[string]any{"groups": groups}})
		return
	}
	for _, g := range m.RuleGroups() {
		ag := apiRuleGroup{
			Name:           g.Name(),
			File:           g.File(),
			Rules:          []any{},
			Interval:       g.Interval().Seconds(),
			Limit:          g.Limit(),
			EvaluationTime: g.GetEvaluationTime().Seconds(),
			LastEvaluation: g.GetLastEvaluation(),
		}
		for _, rule := range g.Rules() {
			lastErr := ""
			if err := rule.LastError(); err != nil {
				lastErr = err.Error()
			}
			switch rule := rule.(type) {
			case *promrules.AlertingRule:
				if typ == "record" {
					continue
				}
				ag.Rules = append(ag.Rules, apiAlertingRule{
					State:          rule.State().String(),
					Name:           rule.Name(),
					Query:          rule.Query().String(),
					Duration:       rule.HoldDuration().Seconds(),
					KeepFiringFor:  rule.KeepFiringFor().Seconds(),
					Labels:         rule.Labels().Map(),
					Annotations:    rule.Annotations().Map(),
					Alerts:         toAPIAlerts(rule.ActiveAlerts()),
					Health:         string(rule.Health()),
					LastError:      lastErr,
					EvaluationTime: rule.GetEvaluationDuration().Seconds(),
					LastEvaluation: rule.GetEvaluationTimestamp(),
					Type:           "alerting",
				})
			case *promrules.RecordingRule:
				if typ == "alert" {
					continue
				}
				ag.Rules = append(ag.Rules, apiRecordingRule{
					Name:           rule.Name(),
					Query:          rule.Query().String(),
					Labels:         rule.Labels().Map(),
					Health:         string(rule.Health()),
					LastError:      lastErr,
					EvaluationTime: rule.GetEvaluationDuration().Seconds(),
					LastEvaluation: rule.GetEvaluationTimestamp(),
					Type:           "recording",
				})
			}
		}
		if typ != "" && len(ag.Rules) == 0 {
			continue
		}
		groups = append(groups, ag)
	}
	writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: map[string]any{"groups": groups}})
}

func toAPIAlerts(as []*promrules.Alert) []apiAlert {
	out := make([]apiAlert, 0, len(as))
	for _, a := range as {
		aa := apiAlert{
			Labels:      labelsMap(a.Labels),
			Annotations: labelsMap(a.Annotations),
			State:       a.State.String(),
			ActiveAt:    &a.ActiveAt,
			Value:       strconv.FormatFloat(a.Value, 'e', -1, 64),
		}
		if !a.KeepFiringSince.IsZero() {
			aa.KeepFiringSince = &a.KeepFiringSince
		}
		out = append(out, aa)
	}
	return out
}

func labelsMap(ls labels.Labels) map[string]string {
	m := ls.Map()
	if m == nil {
		m = map[string]string{}
	}
	return m
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
