package promapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// Query results are encoded by hand, as Prometheus's jsoniter codec
// (web/api/v1/json_codec.go) does, rather than through promql's
// MarshalJSON methods: those marshal every point through reflection (a
// dashboard's range query has thousands), and format values differently
// (0.000000001 where Prometheus writes 1e-09).

// MarshalJSON writes {"resultType":...,"result":...[,"stats":...]}.
func (d queryData) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 1024)
	b = append(b, `{"resultType":`...)
	b = strconv.AppendQuote(b, string(d.ResultType)) // a fixed ASCII word
	b = append(b, `,"result":`...)
	var err error
	if b, err = appendValue(b, d.Result); err != nil {
		return nil, err
	}
	if d.Stats != nil {
		s, err := json.Marshal(d.Stats)
		if err != nil {
			return nil, fmt.Errorf("encoding query stats: %w", err)
		}
		b = append(b, `,"stats":`...)
		b = append(b, s...)
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case promql.Matrix:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabels(b, s.Metric)
			if len(s.Floats) > 0 {
				b = append(b, `,"values":[`...)
				for j, p := range s.Floats {
					if j > 0 {
						b = append(b, ',')
					}
					b = appendPoint(b, p.T, p.F)
				}
				b = append(b, ']')
			}
			if len(s.Histograms) > 0 {
				h, err := json.Marshal(s.Histograms)
				if err != nil {
					return nil, fmt.Errorf("encoding histograms: %w", err)
				}
				b = append(b, `,"histograms":`...)
				b = append(b, h...)
			}
			b = append(b, '}')
		}
		return append(b, ']'), nil
	case promql.Vector:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabels(b, s.Metric)
			if s.H != nil {
				h, err := json.Marshal(promql.HPoint{T: s.T, H: s.H})
				if err != nil {
					return nil, fmt.Errorf("encoding a histogram: %w", err)
				}
				b = append(b, `,"histogram":`...)
				b = append(b, h...)
			} else {
				b = append(b, `,"value":`...)
				b = appendPoint(b, s.T, s.F)
			}
			b = append(b, '}')
		}
		return append(b, ']'), nil
	default: // Scalar and String: their own MarshalJSON, as Prometheus uses

		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encoding a %T result: %w", v, err)
		}
		return append(b, j...), nil
	}
}

// appendPoint writes [1435781451.781,"1.234"].
func appendPoint(b []byte, t int64, f float64) []byte {
	b = append(b, '[')
	b = appendTimestamp(b, t)
	b = append(b, ',', '"')
	b = appendFloat(b, f)
	return append(b, '"', ']')
}

// appendTimestamp writes milliseconds as seconds with up to three decimals,
// as Prometheus's jsonutil.MarshalTimestamp.
func appendTimestamp(b []byte, t int64) []byte {
	if t < 0 {
		b = append(b, '-')
		t = -t
	}
	b = strconv.AppendInt(b, t/1000, 10)
	if frac := t % 1000; frac != 0 {
		b = append(b, '.')
		if frac < 100 {
			b = append(b, '0')
		}
		if frac < 10 {
			b = append(b, '0')
		}
		b = strconv.AppendInt(b, frac, 10)
	}
	return b
}

// appendFloat formats as Prometheus's jsonutil.MarshalFloat: exponent
// notation only for very small or large magnitudes; NaN, +Inf, -Inf.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}

func appendLabels(b []byte, ls labels.Labels) []byte {
	b = append(b, '{')
	first := true
	ls.Range(func(l labels.Label) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, l.Name)
		b = append(b, ':')
		b = appendString(b, l.Value)
	})
	return append(b, '}')
}

// appendString writes s as a JSON string; plain ASCII, the usual case,
// directly.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // a string always encodes
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
