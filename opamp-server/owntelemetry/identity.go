package owntelemetry

import (
	"errors"
	"fmt"
	"net/http"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/servermetrics"
)

// authenticate checks r's credential: an agent's own, whose instance UID it
// returns ("" with auth disabled). Otherwise it answers, counts and returns
// false.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	if h.Auth == nil {
		return "", true
	}
	p, err := h.Auth.Authenticate(r)
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		h.Logger.Error("checking an agent credential failed", "error", err)
		http.Error(w, "credentials cannot be checked now", http.StatusServiceUnavailable)
		return "", false
	case err != nil:
		reason := servermetrics.AuthInvalidToken
		if errors.Is(err, auth.ErrNoToken) {
			reason = servermetrics.AuthNoToken
		}
		h.Metrics.RefuseAgent(h.Logger, servermetrics.SourceOwnTelemetry, reason, remoteHost(r.RemoteAddr), err.Error())
		w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return "", false
	case !p.Can(auth.PermAgent) || p.AgentUID == "":
		h.Metrics.RefuseAgent(h.Logger, servermetrics.SourceOwnTelemetry, servermetrics.AuthNotAnAgent,
			remoteHost(r.RemoteAddr), p.Name+"'s token is not an agent credential")
		http.Error(w, "an agent credential is required", http.StatusForbidden)
		return "", false
	}
	return p.AgentUID, true
}

// foreignInstance returns the first service.instance.id in md other than
// the sender's own: a collector reports only for itself, so an export
// naming another agent is refused whole.
func foreignInstance(md pmetric.Metrics, own string) string {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		v, ok := rms.At(i).Resource().Attributes().Get("service.instance.id")
		if ok && v.AsString() != own {
			return v.AsString()
		}
	}
	return ""
}

// refuseForeign answers an export that speaks for another agent.
func (h *Handler) refuseForeign(w http.ResponseWriter, own, other string) {
	if len(other) > 64 {
		other = other[:64]
	}
	detail := fmt.Sprintf("credential of agent %s used for service.instance.id %q", own, other)
	h.Metrics.RefuseAgent(h.Logger, servermetrics.SourceOwnTelemetry, servermetrics.AuthWrongAgent, own, detail)
	http.Error(w, detail, http.StatusForbidden)
}
