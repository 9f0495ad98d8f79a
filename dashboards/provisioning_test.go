package dashboards

import (
	"encoding/json"
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestProvisioning checks deploy/grafana/provisioning against the
// dashboards: the provisioned Prometheus has the uid the $datasource
// variable defaults to, and the file provider reads where compose mounts
// dashboards/json.
func TestProvisioning(t *testing.T) {
	read := func(path string, v any) {
		t.Helper()
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, URL string
		} `yaml:"datasources"`
	}
	read("../deploy/grafana/provisioning/datasources/datasources.yml", &ds)
	byType := map[string]string{}
	uids := map[string]string{}
	for _, d := range ds.Datasources {
		byType[d.Type] = d.URL
		uids[d.Type] = d.UID
	}
	for typ, url := range map[string]string{"prometheus": "http://prometheus:9090", "alertmanager": "http://alertmanager:9093"} {
		if byType[typ] != url {
			t.Errorf("datasource of type %s: url %q, want %q", typ, byType[typ], url)
		}
	}

	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string
			Options struct{ Path string }
		} `yaml:"providers"`
	}
	read("../deploy/grafana/provisioning/dashboards/dashboards.yml", &prov)
	if ds.APIVersion != 1 || prov.APIVersion != 1 {
		t.Errorf("apiVersion %d / %d, want 1", ds.APIVersion, prov.APIVersion)
	}
	if len(prov.Providers) != 1 || prov.Providers[0].Type != "file" || prov.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("dashboard providers %+v: want one file provider reading /var/lib/grafana/dashboards", prov.Providers)
	}

	for _, e := range mustIndex(t) {
		raw, err := Files.ReadFile("json/" + e.File)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Templating struct {
				List []json.RawMessage `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", e.File, err)
		}
		found := false
		for _, rawVar := range d.Templating.List {
			var v struct {
				Type    string `json:"type"`
				Query   string `json:"query"`
				Current struct {
					Value any `json:"value"`
				} `json:"current"`
			}
			if err := json.Unmarshal(rawVar, &v); err != nil || v.Type != "datasource" {
				continue
			}
			found = true
			if v.Query != "prometheus" || v.Current.Value != uids["prometheus"] {
				t.Errorf("%s: $datasource of type %q defaults to %v, the provisioned Prometheus has uid %q",
					e.UID, v.Query, v.Current.Value, uids["prometheus"])
			}
		}
		if !found {
			t.Errorf("%s has no datasource variable", e.UID)
		}
	}
}

func mustIndex(t *testing.T) []Entry {
	t.Helper()
	idx, err := Index()
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
