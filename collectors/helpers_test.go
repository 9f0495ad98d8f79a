package collectors

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// probeMetrics wraps a Result's families as a collector of constant
// metrics, so a pedantic registry and testutil can gather and lint them.
type probeMetrics []*dto.MetricFamily

func (m probeMetrics) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(m, ch) }

func (m probeMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, mf := range m {
		for _, x := range mf.GetMetric() {
			var names, values []string
			for _, lp := range x.GetLabel() {
				names = append(names, lp.GetName())
				values = append(values, lp.GetValue())
			}
			desc := prometheus.NewDesc(mf.GetName(), mf.GetHelp(), names, nil)
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, x.GetCounter().GetValue(), values...)
			case dto.MetricType_GAUGE:
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, x.GetGauge().GetValue(), values...)
			case dto.MetricType_SUMMARY:
				q := map[float64]float64{}
				for _, v := range x.GetSummary().GetQuantile() {
					q[v.GetQuantile()] = v.GetValue()
				}
				ch <- prometheus.MustNewConstSummary(desc, x.GetSummary().GetSampleCount(), x.GetSummary().GetSampleSum(), q, values...)
			case dto.MetricType_HISTOGRAM:
				b := map[float64]uint64{}
				for _, v := range x.GetHistogram().GetBucket() {
					b[v.GetUpperBound()] = v.GetCumulativeCount()
				}
				ch <- prometheus.MustNewConstHistogram(desc, x.GetHistogram().GetSampleCount(), x.GetHistogram().GetSampleSum(), b, values...)
			default:
				ch <- prometheus.MustNewConstMetric(desc, prometheus.UntypedValue, x.GetUntyped().GetValue(), values...)
			}
		}
	}
}

// families indexes a Result's families by name.
func families(res Result) map[string]*dto.MetricFamily {
	out := make(map[string]*dto.MetricFamily, len(res.Families))
	for _, mf := range res.Families {
		out[mf.GetName()] = mf
	}
	return out
}

// gatherProbe gathers a Result through a pedantic registry (duplicate or
// inconsistent series fail) and lints it. node_exporter's meminfo names
// (node_memory_MemTotal_bytes) are camelCase by contract, so only that
// lint finding is tolerated, and only for them.
func gatherProbe(t *testing.T, res Result) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(probeMetrics(res.Families)); err != nil {
		t.Fatalf("registering probe metrics: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering probe metrics: %v", err)
	}
	problems, err := testutil.CollectAndLint(probeMetrics(res.Families))
	if err != nil {
		t.Fatalf("linting probe metrics: %v", err)
	}
	for _, p := range problems {
		if (strings.HasPrefix(p.Metric, "node_memory_") || strings.HasPrefix(p.Metric, "node_netstat_")) && strings.Contains(p.Text, "camelCase") {
			continue
		}
		// node_exporter's names, which its dashboards read: kept as they are.
		if strings.HasPrefix(p.Metric, "node_entropy_") && strings.Contains(p.Text, `"bits"`) {
			continue
		}
		if redisExporterNames[p.Metric] {
			continue
		}
		if perconaMongoName(p.Metric) && mongoNamingProblem(p.Text) {
			continue
		}
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
		for _, m := range mf.GetMetric() {
			// The agent adds the target's identity where series leave it.
			l := seriesLabels(m)
			for _, id := range []string{"target", "kind", "job", "instance"} {
				if _, ok := l[id]; ok {
					t.Errorf("%s%v carries %s: the collector must leave the identity to the agent", mf.GetName(), l, id)
				}
			}
		}
	}
	return out
}

// sampleValue returns the value of the series of family name whose labels
// include want.
func sampleValue(mfs map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if have[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// mustValue is sampleValue failing the test when the series is missing.
func mustValue(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	v, ok := sampleValue(mfs, name, want...)
	if !ok {
		t.Fatalf("series %s%v missing; have families %v", name, want, familyNames(mfs))
	}
	return v
}

func familyNames(mfs map[string]*dto.MetricFamily) []string {
	names := make([]string, 0, len(mfs))
	for n := range mfs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func seriesLabels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, lp := range m.GetLabel() {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}

// testPKI is a CA and a server certificate it signed, with known expiries.
type testPKI struct {
	caFile, certFile, keyFile     string // PEM files: CA; a client certificate and key
	serverCertFile, serverKeyFile string // PEM files of the server certificate, for servers configured by file
	caPool                        *x509.CertPool
	server                        tls.Certificate // leaf + CA, as servers send
	caNotAfter, leafNotAfter      time.Time
}

func newTestPKI(t *testing.T, caNotAfter, leafNotAfter time.Time) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigil test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              caNotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, notAfter time.Time, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "localhost"},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     notAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
		return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, certPEM, keyPEM
	}
	p := &testPKI{caPool: x509.NewCertPool(), caNotAfter: caNotAfter, leafNotAfter: leafNotAfter}
	p.caPool.AddCert(ca)
	var serverPEM, serverKey []byte
	p.server, serverPEM, serverKey = issue(2, leafNotAfter, x509.ExtKeyUsageServerAuth)
	_, clientPEM, clientKey := issue(3, leafNotAfter, x509.ExtKeyUsageClientAuth)
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p.caFile = write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	p.certFile = write("client.pem", clientPEM)
	p.keyFile = write("client-key.pem", clientKey)
	p.serverCertFile = write("server.pem", serverPEM)
	p.serverKeyFile = write("server-key.pem", serverKey)
	return p
}
