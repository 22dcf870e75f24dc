package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxNumberDigits bounds the digits on either side of the decimal point of a
// number in a JSON document, far inside PostgreSQL numeric's range, so a
// number like 1e999999999 is rejected rather than expanded.
const maxNumberDigits = 1000

// CanonicalJSON returns doc in the form both implementations keep JSON
// documents, so a document reads back byte-for-byte the same from either:
// compact, object keys sorted bytewise (duplicates: the last wins), no HTML
// escaping, and numbers in plain decimal notation with the scale PostgreSQL's
// numeric keeps (1e2 → 100, 1.50 → 1.50, 1.0e-1 → 0.10). An empty document
// or JSON null yields nil. Malformed JSON, strings with NUL characters (jsonb
// rejects \u0000) and numbers with more than 1000 digits on either side of
// the point are ErrInvalid. field names the document in errors.
func CanonicalJSON(field string, doc []byte) ([]byte, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, field, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: data after the JSON value", ErrInvalid, field)
	}
	if v == nil {
		return nil, nil
	}
	v, err := canonicalValue(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, field, err)
	}
	return marshalCanonical(v)
}

// marshalCanonical encodes v compactly without HTML escaping; encoding/json
// already sorts map keys.
func marshalCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// canonicalValue rewrites numbers and rejects NUL characters in a decoded
// document, in place.
func canonicalValue(v any) (any, error) {
	switch v := v.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return nil, errors.New("string contains a NUL character")
		}
	case json.Number:
		s, err := decimalText(string(v))
		return json.Number(s), err
	case []any:
		for i, e := range v {
			c, err := canonicalValue(e)
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
	case map[string]any:
		for k, e := range v {
			if strings.IndexByte(k, 0) >= 0 {
				return nil, errors.New("object key contains a NUL character")
			}
			c, err := canonicalValue(e)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
	}
	return v, nil
}

// decimalText rewrites a JSON number literal the way PostgreSQL's numeric
// prints it: plain notation, with scale max(0, fraction digits − exponent)
// and no negative zero.
func decimalText(num string) (string, error) {
	mantissa, expText, hasExp := strings.Cut(strings.ToLower(num), "e")
	exp := 0
	if hasExp {
		e, err := strconv.Atoi(expText)
		if err != nil || e > maxNumberDigits || e < -maxNumberDigits {
			return "", fmt.Errorf("number %s out of range", num)
		}
		exp = e
	}
	neg := strings.HasPrefix(mantissa, "-")
	mantissa = strings.TrimPrefix(mantissa, "-")
	intPart, fracPart, _ := strings.Cut(mantissa, ".")
	digits := intPart + fracPart
	// value = digits × 10^shift
	shift := exp - len(fracPart)
	var out string
	if shift >= 0 {
		if len(digits)+shift > maxNumberDigits {
			return "", fmt.Errorf("number %s out of range", num)
		}
		out = trimLeadingZeros(digits + strings.Repeat("0", shift))
	} else {
		scale := -shift
		if scale > maxNumberDigits || len(intPart) > maxNumberDigits {
			return "", fmt.Errorf("number %s out of range", num)
		}
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		out = trimLeadingZeros(digits[:len(digits)-scale]) + "." + digits[len(digits)-scale:]
	}
	if neg && strings.Trim(digits, "0") != "" {
		out = "-" + out
	}
	return out, nil
}

func trimLeadingZeros(s string) string {
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}
