package api

// WithoutUserCheck turns off the per-request user check: the baseline of
// the benchmark that measures its cost.
func WithoutUserCheck(d *Deps) { d.skipUserCheck = true }
