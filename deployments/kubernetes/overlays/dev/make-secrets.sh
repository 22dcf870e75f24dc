#!/usr/bin/env bash
# Writes the development overlay's secrets into secrets/ (git-ignored), for
# the secretGenerator in kustomization.yaml:
#
#   secrets/admin.token   an admin API token, for the phoenix CLI
#   secrets/enroll.token  the enrollment token each node's init container
#                         exchanges for an agent identity of its own
#   secrets/tokens.yaml   the server's tokens file: both tokens' SHA-256 digests
#   secrets/postgres.env  libpq settings for the server and the dev PostgreSQL
#
# Existing files are kept, so running it again changes nothing; --force
# replaces them all (then re-apply the overlay and restart the pods).
#
# Usage: make-secrets.sh [--force] [DIR]   (DIR defaults to ./secrets here)
set -euo pipefail

# The header comment above is the help text.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

force=false
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=true ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "make-secrets.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      [ -z "$dir" ] || { echo "make-secrets.sh: one directory only" >&2; exit 2; }
      dir="$1"
      ;;
  esac
  shift
done
[ -n "$dir" ] || dir="$(cd "$(dirname "$0")" && pwd)/secrets"

for tool in od sha256sum; do
  command -v "$tool" >/dev/null || { echo "make-secrets.sh: $tool is required" >&2; exit 1; }
done

# 32 random bytes as 64 hex characters: the format `phoenix server` generates.
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
digest() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

mkdir -p "$dir"
umask 077

if $force || [ ! -s "$dir/tokens.yaml" ] || [ ! -s "$dir/admin.token" ] || [ ! -s "$dir/enroll.token" ]; then
  admin="$(random_hex 32)"
  enroll="$(random_hex 32)"
  # No trailing newline: Secret values are used as they are.
  printf '%s' "$admin" >"$dir/admin.token"
  printf '%s' "$enroll" >"$dir/enroll.token"
  cat >"$dir/tokens.yaml" <<YAML
tokens:
  - name: admin
    token_sha256: $(digest "$admin")
    roles: [admin]
  - name: hosts
    token_sha256: $(digest "$enroll")
    roles: [enroll]
YAML
  # The shared agent token of earlier versions, which servers now refuse.
  rm -f "$dir/agent.token"
  echo "wrote $dir/admin.token, $dir/enroll.token and $dir/tokens.yaml"
else
  echo "kept the tokens in $dir"
fi

if $force || [ ! -s "$dir/postgres.env" ]; then
  cat >"$dir/postgres.env" <<ENV
PGHOST=phoenix-postgres
PGPORT=5432
PGDATABASE=phoenix
PGUSER=phoenix
PGPASSWORD=$(random_hex 24)
PGSSLMODE=disable
ENV
  echo "wrote $dir/postgres.env"
else
  echo "kept $dir/postgres.env"
fi
