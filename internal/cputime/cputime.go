// Package cputime reads CPU time consumed, for benchmarks on a shared
// machine: there wall time is mostly the neighbours' noise, while the CPU a
// piece of work costs — in this process or in the Redis it talks to — is not.
package cputime

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Process is the user and system CPU time this process has used.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Redis is the CPU time the server behind client has used (INFO cpu), or 0
// when it cannot be read.
func Redis(ctx context.Context, client *redis.Client) time.Duration {
	if client == nil {
		return 0
	}
	info, err := client.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * 1e9)
}
