package dashboards

// The live test is an external test package (it drives the agent, which
// serves this package's dashboards); these are the helpers it shares with
// the internal tests.
type (
	Committed      = committed
	CommittedPanel = committedPanel
)

var (
	LoadCommitted = loadCommitted
	PanelsOf      = panelsOf
	Expand        = expand
)
