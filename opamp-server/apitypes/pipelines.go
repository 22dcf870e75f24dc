package apitypes

// Pipeline is one catalog entry: its metadata and the parameters it takes.
type Pipeline struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Title   string `json:"title"`
	// Description says what the pipeline keeps and drops.
	Description string `json:"description"`
	Recommended bool   `json:"recommended"`
	// Processors are the IDs of the pipeline's own processors, in order,
	// between the shared ones.
	Processors []string `json:"processors"`
	// Params are the shared parameters followed by those of the pipeline's
	// processors, each with its default.
	Params []PipelineParam `json:"parameters"`
}

// ParamType is the type of a parameter's value.
type ParamType string

// Parameter types; docs/pipelines.md lists the forms each accepts.
const (
	ParamString   ParamType = "string"
	ParamInt      ParamType = "int"
	ParamBool     ParamType = "bool"
	ParamDuration ParamType = "duration"
	ParamEnum     ParamType = "enum"
	ParamList     ParamType = "list"
	ParamMap      ParamType = "map"
	ParamRules    ParamType = "rules"
)

// ParamScope says where a parameter's value comes from when two pipelines
// are composed into one paired configuration.
type ParamScope string

// Parameter scopes.
const (
	// ScopeCollector parameters configure the collector as a whole: one
	// value shared by both arms.
	ScopeCollector ParamScope = "collector"
	// ScopeVariant parameters configure one pipeline's Phoenix processors:
	// each arm has its own.
	ScopeVariant ParamScope = "variant"
)

// PipelineParam describes one parameter of a pipeline.
type PipelineParam struct {
	Name        string    `json:"name"`
	Type        ParamType `json:"type"`
	Description string    `json:"description"`
	// Default is the value used when the parameter is not given, in its
	// canonical form. Absent for required parameters.
	Default any `json:"default,omitempty"`
	// Required parameters have no default and must be given.
	Required bool `json:"required,omitempty"`
	// RequiredWhen makes a parameter with a default required to be given a
	// non-empty value when another (enum) parameter has one of the listed
	// values, e.g. {"destination": ["otlp_grpc", "otlp_http"]}.
	RequiredWhen map[string][]string `json:"required_when,omitempty"`
	// Min and Max bound int values, and duration values (as duration strings).
	Min any `json:"min,omitempty"`
	Max any `json:"max,omitempty"`
	// Enum lists the allowed values of an enum, or of each list element.
	Enum []string `json:"enum,omitempty"`
	// Pattern is a regular expression the whole value must match: a string,
	// each list element, each map value.
	Pattern string `json:"pattern,omitempty"`
	// KeyPattern is a regular expression each map key must match.
	KeyPattern string `json:"key_pattern,omitempty"`
	// MinItems is the least number of list elements.
	MinItems int `json:"min_items,omitempty"`
	// Sensitive values (tokens) are not echoed by user interfaces.
	Sensitive bool `json:"sensitive,omitempty"`
	// AgentSettable parameters may be set by an agent's own
	// phoenix.param.NAME label: facts of its host, never a destination or
	// a credential.
	AgentSettable bool `json:"agent_settable,omitempty"`
	// EnvVar parameters name environment variables of the collector (the
	// string, or each map value), which it reads on its host and sends
	// where the configuration sends data. Without the host-access
	// permission a caller may name only variables the catalog's pipelines
	// reference or the server's agent_env_allowlist allows.
	EnvVar bool       `json:"env_var,omitempty"`
	Scope  ParamScope `json:"scope"`
}

// RenderRequest is the body of a pipeline render.
type RenderRequest struct {
	Parameters map[string]any `json:"parameters,omitempty"`
}

// Rendered is a validated configuration.
type Rendered struct {
	Pipeline string `json:"pipeline"`
	Version  string `json:"version"`
	// Params are every parameter's value in canonical form, defaults included.
	Params map[string]any `json:"parameters"`
	Config string         `json:"config"`
	Hash   string         `json:"config_hash"`
}

// ValidateRequest is the body of a configuration validation.
type ValidateRequest struct {
	Config string `json:"config"`
}

// Validated reports a valid configuration; an invalid one is an error.
// Validation resolves none of the configuration's references
// (${env:NAME}, ${file:PATH}, …): the collector resolves them on each agent's
// host.
type Validated struct {
	Valid      bool   `json:"valid"`
	ConfigHash string `json:"config_hash"`
	// HostAccess lists what in the configuration reaches into the hosts it
	// would run on beyond the catalog's own pipelines: ${file:...} and
	// ${http(s):...} references, ${env:NAME} for a NAME no catalog
	// pipeline references and the server's agent_env_allowlist does not
	// allow, components and settings that read or write the
	// host's files (the file exporter, the file_storage extension, log
	// files). Each names its path and what it does (docs/security.md).
	HostAccess []Problem `json:"host_access,omitempty"`
	// RequiresAdmin is set when HostAccess is not empty: assigning the
	// configuration verbatim needs the admin role.
	RequiresAdmin bool `json:"requires_admin,omitempty"`
}

// CriticalRule marks a process as critical when every matcher it sets
// matches: regular expressions matched against the whole attribute value. A
// rule needs a name and at least one matcher.
type CriticalRule struct {
	Name           string `json:"name" yaml:"name"`
	ExecutableName string `json:"executable_name,omitempty" yaml:"executable_name,omitempty"`
	ExecutablePath string `json:"executable_path,omitempty" yaml:"executable_path,omitempty"`
	CommandLine    string `json:"command_line,omitempty" yaml:"command_line,omitempty"`
	Owner          string `json:"owner,omitempty" yaml:"owner,omitempty"`
}
