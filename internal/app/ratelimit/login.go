package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
)

// LoginPolicy is when failed logins start to cost time. After Threshold
// failures of one account (or ClientThreshold failures from one client,
// whatever the accounts) the next attempt waits BaseDelay, and every further
// failure doubles the wait, up to MaxDelay. Failures are forgotten Forget
// after the last one; a successful login forgets the account's (never the
// client's: one valid account must not buy a guesser a fresh budget).
type LoginPolicy struct {
	Threshold       int
	ClientThreshold int
	BaseDelay       time.Duration
	MaxDelay        time.Duration
	Forget          time.Duration
}

// DefaultLoginPolicy: 5 failures per account, 20 per client, then 1 s
// doubling to 15 min, forgotten after an hour without failures.
func DefaultLoginPolicy() LoginPolicy {
	return LoginPolicy{Threshold: 5, ClientThreshold: 20, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, Forget: time.Hour}
}

func (p LoginPolicy) normalized() LoginPolicy {
	d := DefaultLoginPolicy()
	if p.Threshold <= 0 {
		p.Threshold = d.Threshold
	}
	if p.ClientThreshold <= 0 {
		p.ClientThreshold = d.ClientThreshold
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = max(d.MaxDelay, p.BaseDelay)
	}
	if p.Forget < p.MaxDelay {
		p.Forget = max(d.Forget, p.MaxDelay)
	}
	return p
}

// delay is the lockout after the n-th consecutive failure against a
// threshold: none before it, BaseDelay at it, doubling after.
func (p LoginPolicy) delay(n, threshold int) time.Duration {
	if n < threshold {
		return 0
	}
	f := math.Pow(2, float64(min(n-threshold, 40)))
	return time.Duration(min(float64(p.BaseDelay)*f, float64(p.MaxDelay)))
}

// LoginThrottle slows password guessing against one account and from one
// client. With a Redis client the failure counts are shared by every
// replica; when Redis fails (or without one) each process counts on its own,
// as the request limiter does.
type LoginThrottle struct {
	clientKeyer
	policy  LoginPolicy
	client  *redis.Client
	local   *localLogins
	metrics *httpmetrics.Metrics
	log     *slog.Logger

	degraded   atomic.Bool
	retryRedis atomic.Int64 // unix nanoseconds before which Redis is skipped
}

// NewLoginThrottle returns a throttle counting in client's Redis, or in
// process when client is nil. opts are the request limiter's (TrustProxy,
// LogTo), so both agree on who the client is. m may be nil.
func NewLoginThrottle(client *redis.Client, p LoginPolicy, m *httpmetrics.Metrics, opts ...Option) *LoginThrottle {
	mw := applyOptions(opts)
	p = p.normalized()
	return &LoginThrottle{
		clientKeyer: mw.clientKeyer,
		policy:      p,
		client:      client,
		local:       &localLogins{policy: p, entries: map[string]*loginEntry{}, maxKeys: DefaultMaxKeys},
		metrics:     m,
		log:         mw.log,
	}
}

// Throttled is the answer of Check for a refused attempt.
type Throttled struct {
	RetryAfter time.Duration
	Scope      string // httpmetrics.LoginScopeAccount or LoginScopeClient
}

func (t *Throttled) Error() string {
	return fmt.Sprintf("too many failed logins (%s): retry in %s", t.Scope, t.RetryAfter)
}

// Check returns a *Throttled error when the account or the client must wait
// before trying again, nil when the attempt may proceed. It never fails
// otherwise: a broken Redis falls back to counting in process.
func (t *LoginThrottle) Check(ctx context.Context, r *http.Request, account string) error {
	acct, cl := t.keys(r, account)
	wait, scope := t.waits(ctx, acct, cl)
	if wait <= 0 {
		return nil
	}
	if t.metrics != nil {
		t.metrics.LoginThrottled.WithLabelValues(scope).Inc()
	}
	return &Throttled{RetryAfter: wait, Scope: scope}
}

// Failed records a failed attempt at account from r's client.
func (t *LoginThrottle) Failed(ctx context.Context, r *http.Request, account string) {
	acct, cl := t.keys(r, account)
	if t.useRedis() {
		rctx, cancel := t.redisCtx(ctx)
		err := loginFailScript.Run(rctx, t.client, []string{
			"login:fails:" + acct, "login:lock:" + acct, "login:fails:" + cl, "login:lock:" + cl,
		}, t.policy.Threshold, t.policy.ClientThreshold, t.policy.BaseDelay.Milliseconds(),
			t.policy.MaxDelay.Milliseconds(), t.policy.Forget.Milliseconds()).Err()
		cancel()
		if t.redisResult(ctx, err) {
			return
		}
	}
	t.local.failed(time.Now(), acct, cl)
}

// Succeeded forgets the account's failures.
func (t *LoginThrottle) Succeeded(ctx context.Context, r *http.Request, account string) {
	acct, _ := t.keys(r, account)
	if t.useRedis() {
		rctx, cancel := t.redisCtx(ctx)
		err := t.client.Del(rctx, "login:fails:"+acct, "login:lock:"+acct).Err()
		cancel()
		if t.redisResult(ctx, err) {
			return
		}
	}
	t.local.succeeded(acct)
}

// keys: the account is hashed so that addresses are not stored in Redis in
// clear; case-folded because emails are.
func (t *LoginThrottle) keys(r *http.Request, account string) (acct, client string) {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(account))))
	return "acct:" + hex.EncodeToString(sum[:16]), "client:" + string(t.appendClientKey(nil, r))
}

func (t *LoginThrottle) waits(ctx context.Context, acct, cl string) (time.Duration, string) {
	if t.useRedis() {
		rctx, cancel := t.redisCtx(ctx)
		res, err := loginWaitScript.Run(rctx, t.client, []string{"login:lock:" + acct, "login:lock:" + cl}).Int64Slice()
		cancel()
		if err == nil && len(res) != 2 {
			err = fmt.Errorf("login throttle: script returned %v", res)
		}
		if t.redisResult(ctx, err) {
			return pick(time.Duration(res[0])*time.Millisecond, time.Duration(res[1])*time.Millisecond)
		}
	}
	a, c := t.local.waits(time.Now(), acct, cl)
	return pick(a, c)
}

func pick(acct, client time.Duration) (time.Duration, string) {
	if acct >= client {
		return acct, httpmetrics.LoginScopeAccount
	}
	return client, httpmetrics.LoginScopeClient
}

func (t *LoginThrottle) useRedis() bool {
	return t.client != nil && time.Now().UnixNano() >= t.retryRedis.Load()
}

// redisCtx bounds one round trip; not by the request's cancellation: a
// client hanging up is no outage.
func (t *LoginThrottle) redisCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), OpTimeout)
}

// redisResult notes a Redis outage or recovery (logged once each) and
// reports whether Redis answered.
func (t *LoginThrottle) redisResult(ctx context.Context, err error) bool {
	if err != nil {
		t.retryRedis.Store(time.Now().Add(retryRedisAfter).UnixNano())
		if !t.degraded.Swap(true) {
			t.log.WarnContext(ctx, "login throttle: Redis unavailable, counting failed logins per process until it is back",
				slog.String("addr", t.client.Options().Addr), slog.Any("err", err))
		}
		return false
	}
	if t.degraded.Swap(false) {
		t.log.InfoContext(ctx, "login throttle: Redis is back", slog.String("addr", t.client.Options().Addr))
	}
	return true
}

// loginWaitScript returns the milliseconds left on both locks (negative
// when unlocked).
var loginWaitScript = redis.NewScript(`return {redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2])}`)

// loginFailScript counts one failure against the account (KEYS 1, 2) and
// the client (KEYS 3, 4): INCR the count, which expires ARGV[5] ms after
// the last failure, and past the threshold (ARGV[1] for the account,
// ARGV[2] for the client) set the lock key for ARGV[3] ms doubled per
// further failure, at most ARGV[4] ms.
var loginFailScript = redis.NewScript(`
local function fail(count, lock, threshold)
  local n = redis.call('INCR', count)
  redis.call('PEXPIRE', count, ARGV[5])
  if n < threshold then return 0 end
  local d = math.min(tonumber(ARGV[3]) * 2 ^ math.min(n - threshold, 40), tonumber(ARGV[4]))
  d = math.floor(d)
  redis.call('SET', lock, '1', 'PX', d)
  return d
end
return {fail(KEYS[1], KEYS[2], tonumber(ARGV[1])), fail(KEYS[3], KEYS[4], tonumber(ARGV[2]))}
`)

// localLogins is the in-process count, with the script's semantics.
type localLogins struct {
	policy LoginPolicy

	mu        sync.Mutex
	entries   map[string]*loginEntry
	maxKeys   int
	nextSweep time.Time
}

type loginEntry struct {
	fails       int
	forgetAt    time.Time
	lockedUntil time.Time
}

func (l *localLogins) waits(now time.Time, acct, cl string) (time.Duration, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wait(now, acct), l.wait(now, cl)
}

func (l *localLogins) wait(now time.Time, key string) time.Duration {
	e := l.entries[key]
	if e == nil || !now.Before(e.lockedUntil) {
		return 0
	}
	return e.lockedUntil.Sub(now)
}

func (l *localLogins) failed(now time.Time, acct, cl string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !now.Before(l.nextSweep) {
		for k, e := range l.entries {
			if !now.Before(e.forgetAt) {
				delete(l.entries, k)
			}
		}
		l.nextSweep = now.Add(time.Minute)
	}
	l.fail(now, acct, l.policy.Threshold)
	l.fail(now, cl, l.policy.ClientThreshold)
}

func (l *localLogins) fail(now time.Time, key string, threshold int) {
	e := l.entries[key]
	if e == nil || !now.Before(e.forgetAt) {
		if e == nil {
			for k := range l.entries { // random order: no key is favoured
				if len(l.entries) < l.maxKeys {
					break
				}
				delete(l.entries, k)
			}
			e = &loginEntry{}
			l.entries[key] = e
		}
		*e = loginEntry{}
	}
	e.fails++
	e.forgetAt = now.Add(l.policy.Forget)
	if d := l.policy.delay(e.fails, threshold); d > 0 {
		e.lockedUntil = now.Add(d)
	}
}

func (l *localLogins) succeeded(acct string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, acct)
}
