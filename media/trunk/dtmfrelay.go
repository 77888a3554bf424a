package trunk

import "strings"

// parseDTMFRelay reads "Signal=5\r\nDuration=160" bodies.
func parseDTMFRelay(body string) (rune, bool) {
	for _, line := range strings.Split(body, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "signal") {
			continue
		}
		v = strings.ToUpper(strings.TrimSpace(v))
		if len(v) == 1 && strings.ContainsRune("0123456789*#ABCD", rune(v[0])) {
			return rune(v[0]), true
		}
	}
	return 0, false
}
