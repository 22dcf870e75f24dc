package opamp // import "github.com/phoenix/platform/opamp-server/opamp"

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/open-telemetry/opamp-go/protobufs"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/redact"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
)

// maxFailedHashes bounds the per-agent memory of configurations that failed.
const maxFailedHashes = 16

// configKey is the single config-map key Phoenix sends: the supervisor merges
// maps key by key but replaces lists, so one complete document is the only
// reliable form.
const configKey = ""

// instanceUID renders an agent's 16-byte instance UID as a UUID string.
func instanceUID(raw []byte) (string, error) {
	u, err := uuid.FromBytes(raw)
	if err != nil {
		return "", fmt.Errorf("instance_uid must be 16 bytes, got %d", len(raw))
	}
	return u.String(), nil
}

// truncatedMarker ends a diagnostic text cut to MaxTextBytes.
const truncatedMarker = " …[truncated]"

// limitMessage holds a message to the limits on what an agent may report
// (see MaxEffectiveConfigBytes and its neighbours) before any of it is
// folded into the agent record. It returns the first limit the message
// breaks, when it breaks one: the caller refuses the whole message. It cuts
// diagnostic texts over MaxTextBytes in place and names the fields it cut.
// Every string that reaches the record is also checked to be one the store
// can hold (UTF-8 without NUL bytes), so a bad one is refused here rather
// than failing the write.
func limitMessage(msg *protobufs.AgentToServer) (v *violation, cut []string) {
	if d := msg.GetAgentDescription(); d != nil {
		for _, list := range []struct {
			name string
			kvs  []*protobufs.KeyValue
		}{{"identifying", d.GetIdentifyingAttributes()}, {"non-identifying", d.GetNonIdentifyingAttributes()}} {
			if v := limitAttributes(list.name, list.kvs); v != nil {
				return v, nil
			}
		}
	}
	if ec := msg.GetEffectiveConfig(); ec != nil {
		files := ec.GetConfigMap().GetConfigMap()
		if len(files) > MaxEffectiveConfigFiles {
			return refuse(servermetrics.ReasonConfigTooLarge, "effective config has %d files; the limit is %d",
				len(files), MaxEffectiveConfigFiles), nil
		}
		size := 0
		for name, f := range files {
			size += len(name) + len(f.GetBody())
		}
		if size > MaxEffectiveConfigBytes {
			return refuse(servermetrics.ReasonConfigTooLarge, "effective config is %d bytes; the limit is %d",
				size, MaxEffectiveConfigBytes), nil
		}
		for name, f := range files {
			if !storable(name) || !storable(string(f.GetBody())) {
				return refuse(servermetrics.ReasonInvalidText, "effective config file %q is not UTF-8 text without NUL bytes", clip(name)), nil
			}
		}
	}
	if rcs := msg.GetRemoteConfigStatus(); rcs != nil {
		if n := len(rcs.GetLastRemoteConfigHash()); n > MaxConfigHashBytes {
			return refuse(servermetrics.ReasonHashTooLong, "remote config hash is %d bytes; the limit is %d", n, MaxConfigHashBytes), nil
		}
		if !storable(rcs.GetErrorMessage()) {
			return refuse(servermetrics.ReasonInvalidText, "remote config error message is not UTF-8 text without NUL bytes"), nil
		}
	}
	if h := msg.GetHealth(); h != nil {
		// Only the top level is stored: the component map is parsed within
		// MaxRequestBytes and then ignored.
		if !storable(h.GetStatus()) || !storable(h.GetLastError()) {
			return refuse(servermetrics.ReasonInvalidText, "health status or last error is not UTF-8 text without NUL bytes"), nil
		}
	}

	// Nothing refused: cut what is too long to keep whole.
	if rcs := msg.GetRemoteConfigStatus(); rcs != nil && len(rcs.GetErrorMessage()) > MaxTextBytes {
		rcs.ErrorMessage = truncate(rcs.GetErrorMessage(), MaxTextBytes)
		cut = append(cut, "remote_config_status.error_message")
	}
	if h := msg.GetHealth(); h != nil {
		if len(h.GetStatus()) > MaxTextBytes {
			h.Status = truncate(h.GetStatus(), MaxTextBytes)
			cut = append(cut, "health.status")
		}
		if len(h.GetLastError()) > MaxTextBytes {
			h.LastError = truncate(h.GetLastError(), MaxTextBytes)
			cut = append(cut, "health.last_error")
		}
	}
	return nil, cut
}

func limitAttributes(list string, kvs []*protobufs.KeyValue) *violation {
	if len(kvs) > MaxAttributes {
		return refuse(servermetrics.ReasonTooManyAttributes, "agent description has %d %s attributes; the limit is %d",
			len(kvs), list, MaxAttributes)
	}
	for _, kv := range kvs {
		k, val := kv.GetKey(), anyValueString(kv.GetValue())
		switch {
		case len(k) > MaxAttributeKeyBytes:
			return refuse(servermetrics.ReasonAttributeTooLong, "attribute key of %d bytes; the limit is %d", len(k), MaxAttributeKeyBytes)
		case len(val) > MaxAttributeValueBytes:
			return refuse(servermetrics.ReasonAttributeTooLong, "attribute %q has a value of %d bytes; the limit is %d",
				k, len(val), MaxAttributeValueBytes)
		case !storable(k) || !storable(val):
			return refuse(servermetrics.ReasonInvalidText, "attribute %q is not UTF-8 text without NUL bytes", clip(k))
		}
	}
	return nil
}

func refuse(reason, format string, args ...any) *violation {
	return &violation{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// storable reports whether the store can hold s: valid UTF-8 without NUL.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// clip shortens a name quoted in an error message.
func clip(s string) string {
	if len(s) > 64 {
		return truncate(s, 64)
	}
	return s
}

// truncate cuts s to at most n bytes, at a rune boundary, marked with
// truncatedMarker.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	end := max(n-len(truncatedMarker), 0)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + truncatedMarker
}

// apply folds one agent message into the agent record. It reports whether the
// agent's remote-config status changed, which the caller counts.
func apply(a *apitypes.Agent, msg *protobufs.AgentToServer, now time.Time) (statusChanged bool) {
	if a.FirstSeen.IsZero() {
		a.FirstSeen = now
	}
	a.LastSeen = now
	a.SequenceNum = msg.GetSequenceNum()
	if msg.GetCapabilities() != 0 {
		a.Capabilities = msg.GetCapabilities()
	}
	if d := msg.GetAgentDescription(); d != nil {
		applyDescription(a, d)
	}
	if h := msg.GetHealth(); h != nil {
		a.Health = &apitypes.Health{Healthy: h.GetHealthy(), Status: h.GetStatus(), LastError: h.GetLastError()}
		if st := h.GetStartTimeUnixNano(); st > 0 {
			a.Health.StartTime = time.Unix(0, int64(st)).UTC()
		}
	}
	if ec := msg.GetEffectiveConfig(); ec != nil {
		// The hash identifies what the collector runs; the text is stored
		// without its secrets (the supervisor writes the own-telemetry
		// token into it, and a configuration may hold others).
		// An unchanged one (every reconnect reports it again) leaves the
		// text out: the store keeps the text of an unchanged hash.
		reported := joinConfigMap(ec.GetConfigMap())
		if hash := store.HashConfig([]byte(reported)); hash != a.EffectiveConfigHash {
			a.EffectiveConfig = redact.Config(reported)
			a.EffectiveConfigHash = hash
		}
	}
	if rcs := msg.GetRemoteConfigStatus(); rcs != nil {
		next := apitypes.RemoteConfigStatus{
			Hash:         hex.EncodeToString(rcs.GetLastRemoteConfigHash()),
			Status:       statusName(rcs.GetStatus()),
			ErrorMessage: rcs.GetErrorMessage(),
			UpdatedAt:    now,
		}
		statusChanged = next.Hash != a.RemoteConfig.Hash || next.Status != a.RemoteConfig.Status
		if statusChanged || a.RemoteConfig.UpdatedAt.IsZero() {
			a.RemoteConfig = next
		}
		rememberOutcome(a, next, statusChanged, now)
	}
	return statusChanged
}

func applyDescription(a *apitypes.Agent, d *protobufs.AgentDescription) {
	ident := keyValues(d.GetIdentifyingAttributes())
	nonIdent := keyValues(d.GetNonIdentifyingAttributes())
	a.Description = apitypes.AgentDescription{
		HostName:       firstOf(nonIdent, ident, "host.name"),
		OS:             firstOf(nonIdent, ident, "os.type"),
		ServiceName:    firstOf(ident, nonIdent, "service.name"),
		ServiceVersion: firstOf(ident, nonIdent, "service.version"),
		Identifying:    ident,
		NonIdentifying: nonIdent,
	}
	// Labels: every non-identifying attribute, plus the host and service
	// names selectors commonly use.
	labels := make(map[string]string, len(nonIdent)+2)
	for k, v := range nonIdent {
		labels[k] = v
	}
	if a.Description.HostName != "" {
		labels["host.name"] = a.Description.HostName
	}
	if a.Description.ServiceName != "" {
		labels["service.name"] = a.Description.ServiceName
	}
	a.Labels = labels
}

func keyValues(kvs []*protobufs.KeyValue) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = anyValueString(kv.GetValue())
	}
	return m
}

func anyValueString(v *protobufs.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *protobufs.AnyValue_StringValue:
		return x.StringValue
	case *protobufs.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *protobufs.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *protobufs.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	default:
		return ""
	}
}

func firstOf(a, b map[string]string, key string) string {
	if v, ok := a[key]; ok {
		return v
	}
	return b[key]
}

// joinConfigMap renders an effective config map as one document; the
// supervisor reports a single entry, several are joined in key order.
func joinConfigMap(cm *protobufs.AgentConfigMap) string {
	files := cm.GetConfigMap()
	if len(files) == 1 {
		for _, f := range files {
			return string(f.GetBody())
		}
	}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteString("\n---\n")
		}
		b.Write(files[k].GetBody())
	}
	return b.String()
}

func statusName(s protobufs.RemoteConfigStatuses) apitypes.ConfigStatus {
	switch s {
	case protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLIED:
		return apitypes.ConfigStatusApplied
	case protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLYING:
		return apitypes.ConfigStatusApplying
	case protobufs.RemoteConfigStatuses_RemoteConfigStatuses_FAILED:
		return apitypes.ConfigStatusFailed
	default:
		return apitypes.ConfigStatusUnset
	}
}

// remoteConfig is the OpAMP form of an assignment.
func remoteConfig(asg *apitypes.Assignment) *protobufs.AgentRemoteConfig {
	hash, _ := hex.DecodeString(asg.ConfigHash)
	return &protobufs.AgentRemoteConfig{
		Config: &protobufs.AgentConfigMap{ConfigMap: map[string]*protobufs.AgentConfigFile{
			configKey: {Body: []byte(asg.Config), ContentType: "text/yaml"},
		}},
		ConfigHash: hash,
	}
}

// messageKinds names what a message carries, for the messages metric.
func messageKinds(msg *protobufs.AgentToServer) []string {
	var kinds []string
	if msg.GetAgentDescription() != nil {
		kinds = append(kinds, "description")
	}
	if msg.GetHealth() != nil {
		kinds = append(kinds, "health")
	}
	if msg.GetEffectiveConfig() != nil {
		kinds = append(kinds, "effective_config")
	}
	if msg.GetRemoteConfigStatus() != nil {
		kinds = append(kinds, "remote_config_status")
	}
	if msg.GetAgentDisconnect() != nil {
		kinds = append(kinds, "disconnect")
	}
	if len(kinds) == 0 {
		kinds = append(kinds, "heartbeat")
	}
	return kinds
}
