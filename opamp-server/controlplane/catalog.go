package controlplane // import "github.com/phoenix/platform/opamp-server/controlplane"

import (
	"fmt"

	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

func newCatalog() (*catalog.Catalog, error) {
	c, err := catalog.Load(distribution.ValidateYAML)
	if err != nil {
		return nil, fmt.Errorf("loading the pipelines catalog: %w", err)
	}
	return c, nil
}
