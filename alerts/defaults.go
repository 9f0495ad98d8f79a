package alerts

import (
	"io/fs"

	"github.com/vigil-sh/vigil/rules"
)

// defaultRules returns the embedded default rule files (files/*.yml).
func defaultRules() fs.FS { return rules.Files }
