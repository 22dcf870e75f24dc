// Package deployments checks the files in deployments/ statically, as the
// programs that consume them would read them: every Kubernetes manifest is
// decoded strictly into the API types and every kustomization rendered with
// kustomize's own library (krusty); the systemd units are installed into a
// temporary root with install.sh and verified; the Dockerfiles are parsed
// and held to the Makefile's build commands; every configuration file is
// validated by the code that loads it (the supervisor's config package, the
// collector's validation, server.Config). Cross-file facts (ports, paths,
// Secret names, image names, the settings Phoenix relies on) are asserted
// where two files must agree.
//
// The collector and supervisor configurations are validated with the built
// binaries in bin/ (`make build`), as the other end-to-end tests are.
package deployments_test
