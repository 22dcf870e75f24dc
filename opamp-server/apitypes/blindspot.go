package apitypes

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// BlindSpotPeakMetric is cost_meter's gauge of blind-spot examples. Own
// telemetry keeps only the variant attribute of a data point, so each of
// this metric's examples is stored as its own sample, its attributes folded
// into the sample name:
//
//	otelcol_processor_cost_meter_blind_spot_peak/<resource>/<host>/<name>
//
// resource is cpu or memory; host and name are the host.name and
// process.executable.name attributes, percent-escaped: '%', '/' and the
// ASCII control characters are written %XX (upper-case hex), so '/' only
// ever separates the parts and the name parses back exactly. Each escaped
// part holds at most MaxBlindSpotPartBytes bytes; a longer one is cut at a
// character boundary and ends with "…". The whole name stays far below the
// store's 256-byte key limit.
const BlindSpotPeakMetric = "otelcol_processor_cost_meter_blind_spot_peak"

// MaxBlindSpotPartBytes bounds the escaped host and process name of a
// blind-spot example's sample name.
const MaxBlindSpotPartBytes = 80

// BlindSpotPrefix starts every blind-spot example's sample name.
const BlindSpotPrefix = BlindSpotPeakMetric + "/"

const truncationMark = "…"

// BlindSpotSampleName folds an example's attributes into its sample name.
// truncated reports that host or name was cut to MaxBlindSpotPartBytes. An
// unknown resource, an empty name or text that is not UTF-8 is an error.
func BlindSpotSampleName(resource, host, name string) (sample string, truncated bool, err error) {
	if resource != ResourceCPU && resource != ResourceMemory {
		return "", false, fmt.Errorf("blind-spot example: resource %.32q is not %q or %q", resource, ResourceCPU, ResourceMemory)
	}
	if name == "" {
		return "", false, errors.New("blind-spot example: process.executable.name is empty")
	}
	if !utf8.ValidString(host) || !utf8.ValidString(name) {
		return "", false, errors.New("blind-spot example: host.name or process.executable.name is not valid UTF-8")
	}
	h, cutH := escapePart(host)
	n, cutN := escapePart(name)
	return BlindSpotPrefix + resource + "/" + h + "/" + n, cutH || cutN, nil
}

// ParseBlindSpotSampleName reads an example's attributes back from its
// sample name. ok is false for any other sample; err reports a name that
// has the prefix but is malformed.
func ParseBlindSpotSampleName(sample string) (resource, host, name string, ok bool, err error) {
	rest, found := strings.CutPrefix(sample, BlindSpotPrefix)
	if !found {
		return "", "", "", false, nil
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return "", "", "", true, fmt.Errorf("blind-spot sample %.300q: want <resource>/<host>/<name> after the prefix", sample)
	}
	resource = parts[0]
	if resource != ResourceCPU && resource != ResourceMemory {
		return "", "", "", true, fmt.Errorf("blind-spot sample %.300q: resource %.32q is not %q or %q", sample, resource, ResourceCPU, ResourceMemory)
	}
	if host, err = unescapePart(parts[1]); err == nil {
		name, err = unescapePart(parts[2])
	}
	if err == nil && name == "" {
		err = errors.New("empty process name")
	}
	if err != nil {
		return "", "", "", true, fmt.Errorf("blind-spot sample %.300q: %w", sample, err)
	}
	return resource, host, name, true, nil
}

func needsEscape(b byte) bool { return b == '%' || b == '/' || b < 0x20 || b == 0x7f }

// escapePart escapes s and cuts it to MaxBlindSpotPartBytes.
func escapePart(s string) (string, bool) {
	var b strings.Builder
	for i, r := range s {
		var enc string
		if r < utf8.RuneSelf && needsEscape(byte(r)) {
			enc = fmt.Sprintf("%%%02X", r)
		} else {
			enc = s[i : i+utf8.RuneLen(r)]
		}
		if b.Len()+len(enc) > MaxBlindSpotPartBytes-len(truncationMark) && escapedLen(s[i:])+b.Len() > MaxBlindSpotPartBytes {
			b.WriteString(truncationMark)
			return b.String(), true
		}
		b.WriteString(enc)
	}
	return b.String(), false
}

// escapedLen is the length of s once escaped.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n += 2
		}
	}
	return n
}

func unescapePart(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", fmt.Errorf("bad escape at byte %d", i)
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	return b.String(), nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}
