package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownPipeline is returned for a pipeline name the catalog does not have.
var ErrUnknownPipeline = errors.New("unknown pipeline")

// ParamError is one refused parameter value.
type ParamError struct {
	// Arm is the variant ("baseline", "candidate" or a candidate's name)
	// for a paired configuration's per-arm parameters; empty otherwise.
	Arm     string `json:"arm,omitempty"`
	Param   string `json:"param"`
	Message string `json:"message"`
}

func (e ParamError) Error() string {
	msg := fmt.Sprintf("parameter %q: %s", e.Param, e.Message)
	if e.Arm != "" {
		return e.Arm + ": " + msg
	}
	return msg
}

// InvalidParamsError lists every refused parameter of one render. The REST
// API returns Problems as the error's details.
type InvalidParamsError struct {
	Problems []ParamError
}

func (e *InvalidParamsError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// AsInvalidParams returns the InvalidParamsError in err's chain, if any.
func AsInvalidParams(err error) (*InvalidParamsError, bool) {
	var ipe *InvalidParamsError
	ok := errors.As(err, &ipe)
	return ipe, ok
}
