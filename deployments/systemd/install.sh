#!/usr/bin/env bash
# Installs Phoenix as systemd services: phoenix-server.service (the control
# plane) and phoenix-agent.service (the OpAMP supervisor running
# phoenix-collector), their system users, binaries and configuration.
#
# Usage: install.sh [options]
#
#   --root DIR             install under DIR instead of / (default: $DESTDIR, or /)
#   --only server|agent    install one side only (default: both)
#   --bin-dir DIR          where phoenix, phoenix-collector and opampsupervisor are
#                          (default: the repository's bin/, from `make build`)
#   --no-binaries          leave /usr/local/bin alone (binaries installed otherwise)
#   --no-users             do not create the system users now (systemd-sysusers
#                          creates them at the next boot from /etc/sysusers.d)
#   --server URL           the agent's OpAMP endpoint, e.g. ws://phoenix.internal:4320/v1/opamp
#   --public-url URL       the server's public_url, e.g. http://phoenix.internal:8080
#   --agent-token-file F   put the agent token in F into /etc/phoenix/agent.env
#   -h, --help             this help
#
# Safe to run again: units and binaries are replaced, configuration files and
# environment files that exist are kept (--server, --public-url and
# --agent-token-file change just their setting in them). Users are created
# only when running as root. Nothing is started: the closing message says how.
set -euo pipefail
# Directories and files get the modes given here, whatever the caller's umask.
umask 022

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prog="install.sh"

die() { echo "$prog: $*" >&2; exit 1; }
note() { echo "$prog: $*"; }
# The header comment above is the help text.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

root="${DESTDIR:-/}"
only=""
bin_dir="$here/../../bin"
binaries=true
users=true
server_url=""
public_url=""
token_file=""

need_arg() {
  if [ $# -lt 2 ] || [ -z "$2" ] || [[ "$2" == --* ]]; then die "$1 needs a value"; fi
}
while [ $# -gt 0 ]; do
  case "$1" in
    --root) need_arg "$@"; root="$2"; shift ;;
    --only) need_arg "$@"; only="$2"; shift ;;
    --bin-dir) need_arg "$@"; bin_dir="$2"; shift ;;
    --no-binaries) binaries=false ;;
    --no-users) users=false ;;
    --server) need_arg "$@"; server_url="$2"; shift ;;
    --public-url) need_arg "$@"; public_url="$2"; shift ;;
    --agent-token-file) need_arg "$@"; token_file="$2"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$prog: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

case "$only" in
  "") components="server agent" ;;
  server | agent) components="$only" ;;
  *) die "--only: \"$only\" is not server or agent" ;;
esac
has() { case " $components " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if [ -n "$server_url" ]; then
  has agent || die "--server configures the agent, which --only $only leaves out"
  [[ "$server_url" =~ ^(ws|wss|http|https)://[^[:space:]]+$ ]] ||
    die "--server: \"$server_url\" is not a ws://, wss://, http:// or https:// URL"
fi
if [ -n "$public_url" ]; then
  has server || die "--public-url configures the server, which --only $only leaves out"
  [[ "$public_url" =~ ^https?://[^[:space:]]+$ ]] ||
    die "--public-url: \"$public_url\" is not an http:// or https:// URL"
fi
token=""
if [ -n "$token_file" ]; then
  has agent || die "--agent-token-file configures the agent, which --only $only leaves out"
  [ -r "$token_file" ] || die "--agent-token-file: cannot read $token_file"
  token="$(tr -d '\r\n' <"$token_file")"
  [[ "$token" =~ ^[[:graph:]]+$ ]] || die "--agent-token-file: $token_file must hold one token without spaces"
fi

# "" is the real root from here on, so that "$root/etc/…" is a plain path.
while [[ "$root" == */ ]]; do root="${root%/}"; done
is_root() { [ "$(id -u)" -eq 0 ]; }
if [ -z "$root" ] && ! is_root; then
  die "installing into / needs root (or pass --root DIR)"
fi
mkdir -p "${root:-/}" || die "cannot create $root"

# Paths on the target system; $root is prefixed where files are written.
etc=/etc/phoenix
units=/etc/systemd/system
sysusers=/etc/sysusers.d
bindir=/usr/local/bin

# install_file SRC DEST MODE: always replaced (units, binaries).
install_file() {
  install -D -m "$3" "$1" "$root$2"
  note "installed $2"
}

# install_config SRC DEST MODE: kept when present, so local edits survive.
install_config() {
  if [ -e "$root$2" ]; then
    note "kept $2 (the shipped version is $1)"
  else
    install -D -m "$3" "$1" "$root$2"
    note "installed $2"
  fi
}

# set_top_level FILE KEY VALUE: sets a top-level YAML key (replacing the key,
# or its commented-out example, in place; appending it otherwise).
set_top_level() {
  local file="$1" key="$2" value="$3" tmp
  tmp="$(mktemp "$file.XXXXXX")"
  # Values go through ENVIRON: awk -v would interpret backslashes in them.
  KEY="$key" VALUE="$value" awk '
    BEGIN { key = ENVIRON["KEY"]; value = ENVIRON["VALUE"] }
    !done && ($0 ~ "^" key ":" || $0 ~ "^# ?" key ":") { print key ": " value; done = 1; next }
    { print }
    END { if (!done) print key ": " value }
  ' "$file" >"$tmp"
  chmod --reference="$file" "$tmp"
  mv "$tmp" "$file"
}

# set_server_endpoint FILE URL: sets server.endpoint in a supervisor config.
set_server_endpoint() {
  local file="$1" url="$2" tmp
  grep -q '^server:' "$file" || die "$file has no top-level server: section to set --server in"
  tmp="$(mktemp "$file.XXXXXX")"
  URL="$url" awk '
    BEGIN { url = ENVIRON["URL"] }
    /^[^[:space:]#]/ { in_server = ($0 ~ /^server:/) }
    in_server && !done && /^[[:space:]]+endpoint:/ {
      match($0, /^[[:space:]]+/); print substr($0, 1, RLENGTH) "endpoint: " url; done = 1; next
    }
    { print }
    END { if (!done) exit 3 }
  ' "$file" >"$tmp" || { rm -f "$tmp"; die "$file has no server.endpoint to set --server in"; }
  chmod --reference="$file" "$tmp"
  mv "$tmp" "$file"
}

# set_env FILE NAME VALUE: sets NAME=VALUE in an environment file.
set_env() {
  local file="$1" name="$2" value="$3" tmp
  tmp="$(mktemp "$file.XXXXXX")"
  NAME="$name" VALUE="$value" awk '
    BEGIN { name = ENVIRON["NAME"]; value = ENVIRON["VALUE"] }
    !done && $0 ~ "^#? ?" name "=" { print name "=" value; done = 1; next }
    { print }
    END { if (!done) print name "=" value }
  ' "$file" >"$tmp"
  chmod 0600 "$tmp"
  mv "$tmp" "$file"
}

if $binaries; then
  want=""
  if has server; then want="phoenix"; fi
  if has agent; then want="$want opampsupervisor phoenix-collector"; fi
  for bin in $want; do
    [ -x "$bin_dir/$bin" ] ||
      die "$bin_dir/$bin not found: run \`make build\` first, or pass --bin-dir DIR or --no-binaries"
  done
  for bin in $want; do install_file "$bin_dir/$bin" "$bindir/$bin" 0755; done
fi

# Configuration holds no secrets (they live in the 0600 environment files),
# so it is world-readable and the services need no group to read it.
install -d -m 0755 "$root$etc"
for c in $components; do
  install_file "$here/phoenix-$c.service" "$units/phoenix-$c.service" 0644
  install_file "$here/phoenix-$c.sysusers" "$sysusers/phoenix-$c.conf" 0644
done
if has server; then
  install_config "$here/server.yaml" "$etc/server.yaml" 0644
  install_config "$here/server.env" "$etc/server.env" 0600
  if [ -n "$public_url" ]; then
    set_top_level "$root$etc/server.yaml" public_url "$public_url"
    note "set public_url in $etc/server.yaml to $public_url"
  fi
fi
if has agent; then
  install_config "$here/supervisor.yaml" "$etc/supervisor.yaml" 0644
  install_config "$here/collector.yaml" "$etc/collector.yaml" 0644
  install_config "$here/agent.env" "$etc/agent.env" 0600
  if [ -n "$server_url" ]; then
    set_server_endpoint "$root$etc/supervisor.yaml" "$server_url"
    note "set server.endpoint in $etc/supervisor.yaml to $server_url"
  fi
  if [ -n "$token" ]; then
    set_env "$root$etc/agent.env" PHOENIX_AGENT_TOKEN "$token"
    note "set PHOENIX_AGENT_TOKEN in $etc/agent.env"
  fi
fi

if ! $users; then
  note "not creating users (--no-users): systemd-sysusers creates them from $sysusers at the next boot"
elif ! is_root; then
  note "not root: not creating users; systemd-sysusers creates them from $sysusers at the next boot"
else
  confs=()
  for c in $components; do confs+=("$root$sysusers/phoenix-$c.conf"); done
  if command -v systemd-sysusers >/dev/null; then
    # Idempotent, and writes the target's /etc/passwd under --root.
    systemd-sysusers --root="${root:-/}" "${confs[@]}"
  elif [ -z "$root" ] && command -v useradd >/dev/null; then
    for c in $components; do
      user=phoenix
      [ "$c" = agent ] && user=phoenix-agent
      id -u "$user" >/dev/null 2>&1 ||
        useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin "$user"
    done
  else
    die "systemd-sysusers is needed to create users${root:+ under $root} (or pass --no-users)"
  fi
  note "system users are in place"
fi

if has agent && ! grep -q '^PHOENIX_AGENT_TOKEN=[^[:space:]]' "$root$etc/agent.env"; then
  note "warning: $etc/agent.env has no PHOENIX_AGENT_TOKEN yet; the server will refuse the agent"
fi

cat <<EOF

Installed${root:+ under $root}. Next, on the target system:
  systemctl daemon-reload
EOF
has server && cat <<EOF
  systemctl enable --now phoenix-server.service
  # the admin token for the phoenix CLI, once started:
  #   PHOENIX_TOKEN_FILE=/var/lib/phoenix/server/admin.token phoenix agent list
EOF
has agent && cat <<EOF
  # the agent token (e.g. /var/lib/phoenix/server/agent.token on the server) in $etc/agent.env, then
  systemctl enable --now phoenix-agent.service
EOF
exit 0
