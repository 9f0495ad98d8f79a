// Package auth hashes passwords and issues and verifies the app's JWTs: a
// short-lived access token signed with JWT_SECRET and a long-lived refresh
// token signed with JWT_REFRESH_SECRET, so that a leaked access secret cannot
// mint refresh tokens and vice versa.
package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// Roles a user can hold in an organization.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool { return r == RoleAdmin || r == RoleMember }

// Token kinds, carried in the "typ" claim so that one kind is never accepted
// in place of the other even if the secrets were configured equal.
const (
	kindAccess  = "access"
	kindRefresh = "refresh"
)

// issuer is the "iss" of every token, checked on verification so that a
// token minted by another service sharing a secret by mistake is refused.
const issuer = "vigil-app"

// ErrInvalidToken is returned for any token that does not verify: bad
// signature, expired, wrong kind, malformed.
var ErrInvalidToken = errors.New("invalid or expired token")

// Identity is who a verified token speaks for.
type Identity struct {
	UserID string
	OrgID  string
	Role   string
	// Version is the user's token version when the token was issued; the
	// server refuses tokens of an older version (password change, role
	// change, removal, logout everywhere).
	Version int64
	// Session is the refresh-token family the tokens belong to.
	Session string
	// TokenID is the verified token's own id (jti); Issue ignores it.
	TokenID string
}

type claims struct {
	Org     string `json:"org"`
	Role    string `json:"role"`
	Kind    string `json:"typ"`
	Version int64  `json:"ver,omitempty"`
	Session string `json:"sid,omitempty"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies token pairs.
type Tokens struct {
	accessSecret, refreshSecret []byte
	AccessTTL, RefreshTTL       time.Duration
	now                         func() time.Time
}

// NewTokens returns a Tokens signing with the given secrets.
func NewTokens(accessSecret, refreshSecret string, accessTTL, refreshTTL time.Duration) *Tokens {
	return &Tokens{
		accessSecret:  []byte(accessSecret),
		refreshSecret: []byte(refreshSecret),
		AccessTTL:     accessTTL,
		RefreshTTL:    refreshTTL,
		now:           time.Now,
	}
}

// Pair is what the auth endpoints return.
type Pair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"` // seconds until the access token expires
	// RefreshID is the refresh token's id (jti), which the server records
	// as its session's current token.
	RefreshID string `json:"-"`
	// RefreshExpires is when the refresh token expires.
	RefreshExpires time.Time `json:"-"`
}

// Issue signs a new access and refresh token for id.
func (t *Tokens) Issue(id Identity) (Pair, error) {
	access, _, err := t.sign(id, kindAccess, t.AccessTTL, t.accessSecret)
	if err != nil {
		return Pair{}, err
	}
	refresh, jti, err := t.sign(id, kindRefresh, t.RefreshTTL, t.refreshSecret)
	if err != nil {
		return Pair{}, err
	}
	return Pair{
		AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int(t.AccessTTL / time.Second),
		RefreshID: jti, RefreshExpires: t.now().Add(t.RefreshTTL),
	}, nil
}

func (t *Tokens) sign(id Identity, kind string, ttl time.Duration, secret []byte) (string, string, error) {
	now := t.now()
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	jti := base64.RawURLEncoding.EncodeToString(b)
	c := claims{
		Org:     id.OrgID,
		Role:    id.Role,
		Kind:    kind,
		Version: id.Version,
		Session: id.Session,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   id.UserID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        jti,
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", "", fmt.Errorf("signing %s token: %w", kind, err)
	}
	return s, jti, nil
}

// VerifyAccess checks an access token and returns its identity.
func (t *Tokens) VerifyAccess(token string) (Identity, error) {
	return t.verify(token, kindAccess, t.accessSecret)
}

// VerifyRefresh checks a refresh token and returns its identity.
func (t *Tokens) VerifyRefresh(token string) (Identity, error) {
	return t.verify(token, kindRefresh, t.refreshSecret)
}

func (t *Tokens) verify(token, kind string, secret []byte) (Identity, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(issuer),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Kind != kind || c.Subject == "" || c.Org == "" || !ValidRole(c.Role) {
		return Identity{}, fmt.Errorf("%w: not a %s token", ErrInvalidToken, kind)
	}
	return Identity{UserID: c.Subject, OrgID: c.Org, Role: c.Role, Version: c.Version, Session: c.Session, TokenID: c.ID}, nil
}

// GenerateSecret returns a random secret for development runs.
func GenerateSecret() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hasher hashes and checks passwords with bcrypt.
type Hasher struct {
	Cost int
	// dummy is compared against when a login names an unknown user, so that
	// "no such user" and "wrong password" take the same time.
	dummy []byte
}

// NewHasher returns a Hasher of the given bcrypt cost.
func NewHasher(cost int) (*Hasher, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("timing-equaliser"), cost)
	if err != nil {
		return nil, fmt.Errorf("bcrypt cost %d: %w", cost, err)
	}
	return &Hasher{Cost: cost, dummy: dummy}, nil
}

// MaxPasswordLen is bcrypt's input limit.
const MaxPasswordLen = 72

// Hash returns the bcrypt hash of password.
func (h *Hasher) Hash(password string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(password), h.Cost)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return string(b), nil
}

// Check reports whether password matches hash. An empty hash (unknown user)
// still costs one comparison.
func (h *Hasher) Check(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
