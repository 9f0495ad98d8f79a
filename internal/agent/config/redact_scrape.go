package config

import (
	"net/url"

	commoncfg "github.com/prometheus/common/config"
)

// redactedScrape is a copy of s with every secret of its HTTP client
// replaced by Redacted: Prometheus's Secret type hides itself when
// marshalled, but the copy must be safe to show however it is printed.
func redactedScrape(s ScrapeConfig) ScrapeConfig {
	hide := func(v commoncfg.Secret) commoncfg.Secret {
		if v == "" {
			return ""
		}
		return Redacted
	}
	out := s
	c := &out.ScrapeConfig
	if len(c.Params) > 0 {
		c.Params = redactParams(c.Params)
	}
	h := &c.HTTPClientConfig
	h.BearerToken = hide(h.BearerToken)
	if h.BasicAuth != nil {
		b := *h.BasicAuth
		b.Password = hide(b.Password)
		h.BasicAuth = &b
	}
	if h.Authorization != nil {
		a := *h.Authorization
		a.Credentials = hide(a.Credentials)
		h.Authorization = &a
	}
	if h.OAuth2 != nil {
		o := *h.OAuth2
		o.ClientSecret = hide(o.ClientSecret)
		o.ClientCertificateKey = hide(o.ClientCertificateKey)
		o.TLSConfig.Key = hide(o.TLSConfig.Key)
		o.ProxyURL = redactProxy(o.ProxyURL)
		o.ProxyConnectHeader = nil
		h.OAuth2 = &o
	}
	h.TLSConfig.Key = hide(h.TLSConfig.Key)
	h.ProxyURL = redactProxy(h.ProxyURL)
	if len(h.ProxyConnectHeader) > 0 {
		ph := make(commoncfg.ProxyHeader, len(h.ProxyConnectHeader))
		for k, vs := range h.ProxyConnectHeader {
			hidden := make([]commoncfg.Secret, len(vs))
			for i, v := range vs {
				hidden[i] = hide(v)
			}
			ph[k] = hidden
		}
		h.ProxyConnectHeader = ph
	}
	if h.HTTPHeaders != nil {
		hs := commoncfg.Headers{Headers: make(map[string]commoncfg.Header, len(h.HTTPHeaders.Headers))}
		for k, v := range h.HTTPHeaders.Headers {
			secrets := make([]commoncfg.Secret, len(v.Secrets))
			for i, sv := range v.Secrets {
				secrets[i] = hide(sv)
			}
			values := v.Values
			if !HarmlessHeader(k) {
				values = make([]string, len(v.Values))
				for i, vv := range v.Values {
					values[i] = string(hide(commoncfg.Secret(vv)))
				}
			}
			hs.Headers[k] = commoncfg.Header{Values: values, Secrets: secrets, Files: v.Files}
		}
		h.HTTPHeaders = &hs
	}
	return out
}

func redactProxy(u commoncfg.URL) commoncfg.URL {
	if u.URL == nil {
		return u
	}
	r, err := url.Parse(u.Redacted())
	if err != nil {
		return commoncfg.URL{}
	}
	return commoncfg.URL{URL: r}
}

// URISecrets lists the values of a URI's secret-bearing query options
// (a scrape URL's params), for Scrub.
func URISecrets(s string) []string { return uriSecrets(s) }
