package opamp // import "github.com/phoenix/platform/opamp-server/opamp"

// Limits on what an agent sends over OpAMP. The "Limits on agent input"
// section of the security documentation lists them; each is enforced
// before anything of the message is stored. A message over a limit is
// refused whole: the transport limits answer 413 (or 415) or close the
// WebSocket with 1009, the others answer an OpAMP ServerErrorResponse
// (BadRequest) and store nothing. Only the diagnostic texts (MaxTextBytes)
// are cut instead, because refusing them would lose the status they explain.
// Every violation is counted in phoenix_agent_input_rejected_total and
// logged at most once a minute per reason and agent.
const (
	// MaxRequestBytes bounds what an agent sends in one message as it
	// travels: a plain-HTTP body before decompression, and a WebSocket
	// message (never compressed: the server does not negotiate
	// permessage-deflate, and must not, since gorilla's read limit counts
	// compressed bytes).
	MaxRequestBytes = 4 << 20
	// MaxMessageBytes bounds a plain-HTTP body after gzip decompression:
	// reading stops, and the request is refused, as soon as this much has
	// been inflated, so a gzip bomb of any size costs at most this.
	MaxMessageBytes = 16 << 20
	// MaxEffectiveConfigBytes bounds an effective configuration: the names
	// and bodies of its files together.
	MaxEffectiveConfigBytes = 1 << 20
	// MaxEffectiveConfigFiles bounds the files of an effective
	// configuration (the supervisor reports one).
	MaxEffectiveConfigFiles = 16
	// MaxAttributes bounds each attribute list of an agent description
	// (identifying and non-identifying); the non-identifying ones become
	// the agent's labels.
	MaxAttributes = 128
	// MaxAttributeKeyBytes and MaxAttributeValueBytes bound one attribute,
	// and so one label.
	MaxAttributeKeyBytes   = 256
	MaxAttributeValueBytes = 4 << 10
	// MaxConfigHashBytes bounds a reported remote-config hash: Phoenix sends
	// SHA-256 (32 bytes).
	MaxConfigHashBytes = 64
	// MaxTextBytes bounds a diagnostic text: a remote-config error message,
	// a health status or last error. A longer one is cut to this length,
	// marked with truncatedMarker, and counted (text_truncated).
	MaxTextBytes = 16 << 10
)

// violation is a message over a limit: its reason (servermetrics.Reason*)
// and what to tell the agent. (A body over one is a bodylimit.Violation.)
type violation struct {
	reason string
	detail string
}

func (v *violation) Error() string { return v.detail }
