package pgstore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMigrationFiles(t *testing.T) {
	migrations, err := loadMigrations()
	require.NoError(t, err)
	require.NotEmpty(t, migrations)
	for i, m := range migrations {
		assert.Equal(t, i+1, m.version, m.name)
		assert.True(t, strings.HasSuffix(m.name, ".sql"), m.name)
		assert.NotEmpty(t, strings.TrimSpace(m.sql), m.name)
	}
}
