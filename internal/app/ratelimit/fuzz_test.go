package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// FuzzClientKey: whatever a client puts in X-Forwarded-For, the key is the
// peer's unless the peer is a trusted proxy, and is always an address or a
// /64 prefix (never the client's free text).
func FuzzClientKey(f *testing.F) {
	f.Add("192.0.2.7:5123", "203.0.113.9", true)
	f.Add("[2001:db8::1]:443", "2001:db8::2, 10.0.0.1", true)
	f.Add("10.1.2.3:80", "not-an-ip, 1.1.1.1", false)
	f.Add("10.1.2.3:80", ",,,", true)
	f.Add("[::ffff:10.0.0.1]:1", "::ffff:192.0.2.1", true)
	f.Add("10.1.2.3:80", "fe80::1%eth0", true)
	f.Fuzz(func(t *testing.T, remote, xff string, trust bool) {
		peer := peerAddr(remote)
		if !peer.IsValid() {
			return // the server always gives an IP:port; unix sockets use the address as is
		}
		var opts []Option
		if trust {
			opts = append(opts, TrustProxy(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::ffff:10.0.0.0/104")))
		}
		mw := Middleware(nil, nil, nil, http.NotFoundHandler(), opts...).(*middleware)
		r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		key := string(mw.appendClientKey(nil, r))
		peerKey := string(appendKey(nil, peer))
		if !trust || !mw.isTrusted(peer) {
			if key != peerKey {
				t.Fatalf("untrusted peer %q with X-Forwarded-For %q keyed %q, want %q", remote, xff, key, peerKey)
			}
			return
		}
		if _, err := netip.ParseAddr(key); err == nil {
			return
		}
		if p, err := netip.ParsePrefix(key); err == nil && p.Bits() == 64 {
			return
		}
		t.Fatalf("key %q from %q / %q is neither an address nor a /64", key, remote, xff)
	})
}
