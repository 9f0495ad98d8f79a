package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tok := NewTokens(strings.Repeat("a", 32), strings.Repeat("r", 32), 15*time.Minute, 7*24*time.Hour)
	tok.now = func() time.Time { return now }
	id := Identity{UserID: "u1", OrgID: "o1", Role: RoleMember, Version: 3, Session: "s1"}
	pair, err := tok.Issue(id)
	if err != nil {
		t.Fatal(err)
	}
	if pair.ExpiresIn != 900 || pair.TokenType != "Bearer" || pair.RefreshID == "" {
		t.Errorf("pair = %+v", pair)
	}
	other := NewTokens(strings.Repeat("b", 32), strings.Repeat("q", 32), time.Minute, time.Hour)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims{Org: "o1", Role: RoleAdmin, Kind: kindAccess,
		RegisteredClaims: jwt.RegisteredClaims{Subject: "u1", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}).SignedString(jwt.UnsafeAllowNoneSignatureType)

	foreign, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{Org: "o1", Role: RoleAdmin, Kind: kindAccess,
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "someone-else", Subject: "u1", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}).SignedString([]byte(strings.Repeat("a", 32)))

	cases := []struct {
		name    string
		verify  func(string) (Identity, error)
		token   string
		at      time.Time
		wantErr bool
	}{
		{"access ok", tok.VerifyAccess, pair.AccessToken, now, false},
		{"access expires after 15m", tok.VerifyAccess, pair.AccessToken, now.Add(16 * time.Minute), true},
		{"refresh ok after 6 days", tok.VerifyRefresh, pair.RefreshToken, now.Add(6 * 24 * time.Hour), false},
		{"refresh expires after 7 days", tok.VerifyRefresh, pair.RefreshToken, now.Add(8 * 24 * time.Hour), true},
		{"refresh is not an access token", tok.VerifyAccess, pair.RefreshToken, now, true},
		{"access is not a refresh token", tok.VerifyRefresh, pair.AccessToken, now, true},
		{"other secret", other.VerifyAccess, pair.AccessToken, now, true},
		{"alg none", tok.VerifyAccess, none, now, true},
		{"garbage", tok.VerifyAccess, "a.b.c", now, true},
		{"other issuer, same secret", tok.VerifyAccess, foreign, now, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.at
			tok.now = func() time.Time { return at }
			other.now = tok.now
			got, err := tc.verify(tc.token)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("err = %v, want ErrInvalidToken", err)
				}
				return
			}
			if err != nil || got.TokenID == "" {
				t.Fatalf("got %+v, %v; want a token id", got, err)
			}
			if got.TokenID = ""; got != id {
				t.Fatalf("got %+v, want %+v", got, id)
			}
		})
	}
}

func TestHasher(t *testing.T) {
	h, err := NewHasher(4)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(hash, "correct horse") || !strings.HasPrefix(hash, "$2a$04$") {
		t.Fatalf("hash = %q", hash)
	}
	for _, tc := range []struct {
		hash, pw string
		want     bool
	}{
		{hash, "correct horse", true},
		{hash, "correct horsE", false},
		{"", "correct horse", false},
		{"not a hash", "x", false},
	} {
		if got := h.Check(tc.hash, tc.pw); got != tc.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.hash, tc.pw, got, tc.want)
		}
	}
	if _, err := NewHasher(99); err == nil {
		t.Error("cost 99 accepted")
	}
}

func TestGenerateSecret(t *testing.T) {
	a, b := GenerateSecret(), GenerateSecret()
	if len(a) < 32 || a == b {
		t.Errorf("secrets %q %q", a, b)
	}
}
