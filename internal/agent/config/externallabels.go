package config

// externalLabels validates global.external_labels. Unlike target labels,
// names starting with "__" are allowed, as Prometheus allows them: the HA
// pattern of Mimir and Cortex puts the replica in __replica__, which the
// receiver strips after deduplicating (docs/ha.md). __name__ would rename
// every series and stays refused.
func (v *validator) externalLabels(path string, m map[string]string) {
	for _, k := range sortedKeys(m) {
		if !labelNameRE.MatchString(k) || k == "__name__" {
			v.at(joinPath(path, k), "invalid label name %s", quote(k))
		}
	}
}
