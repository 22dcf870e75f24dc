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
#   --enroll-token-file F  enroll this host as an agent with the enrollment token
#                          in F: runs `phoenix agent enroll`, which writes the
#                          agent's own identity to /var/lib/phoenix/agent (needs
#                          --api and a running server; F is not copied anywhere)
#   --api URL              the server's REST API, where the host enrolls, e.g.
#                          http://phoenix.internal:8080 (not the OpAMP URL)
#   -h, --help             this help
#
# Safe to run again: units and binaries are replaced, configuration files
# that exist are kept (--server and --public-url change just their setting in
# them), and an agent identity the server still accepts is kept. Users are
# created only when running as root. Nothing is started: the closing message
# says how.
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
enroll_file=""
api_url=""

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
    --enroll-token-file) need_arg "$@"; enroll_file="$2"; shift ;;
    --api) need_arg "$@"; api_url="$2"; shift ;;
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
if [ -n "$api_url" ]; then
  has agent || die "--api configures the agent, which --only $only leaves out"
  [[ "$api_url" =~ ^https?://[^[:space:]]+$ ]] ||
    die "--api: \"$api_url\" is not an http:// or https:// URL (the REST API, e.g. http://phoenix.internal:8080)"
fi
if [ -n "$enroll_file" ]; then
  has agent || die "--enroll-token-file configures the agent, which --only $only leaves out"
  [ -r "$enroll_file" ] || die "--enroll-token-file: cannot read $enroll_file"
  [[ "$(tr -d '\r\n' <"$enroll_file")" =~ ^[[:graph:]]+$ ]] ||
    die "--enroll-token-file: $enroll_file must hold one token without spaces"
  [ -n "$api_url" ] ||
    die "--enroll-token-file needs --api URL: the server's REST API (e.g. http://phoenix.internal:8080), where the host enrolls"
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
# The agent's identity, as `phoenix agent enroll` writes it and
# supervisor.yaml reads it (phoenix-agent.service's second StateDirectory).
identity=/var/lib/phoenix/agent
agent_user=phoenix-agent

# The phoenix CLI that enrolls: the one installed below, or with
# --no-binaries the one already installed (or on PATH).
phoenix_cli=""
if [ -n "$enroll_file" ]; then
  if $binaries || [ -x "$root$bindir/phoenix" ]; then
    phoenix_cli="$root$bindir/phoenix"
  elif command -v phoenix >/dev/null; then
    phoenix_cli="$(command -v phoenix)"
  else
    die "--enroll-token-file runs phoenix agent enroll, but --no-binaries and no $bindir/phoenix nor phoenix on PATH"
  fi
fi

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

if $binaries; then
  # The agent's host needs phoenix too: `phoenix agent enroll` and
  # `phoenix agent rotate` manage its identity.
  want="phoenix"
  if has agent; then want="$want opampsupervisor phoenix-collector"; fi
  for bin in $want; do
    [ -x "$bin_dir/$bin" ] ||
      die "$bin_dir/$bin not found: run \`make build\` first, or pass --bin-dir DIR or --no-binaries"
  done
  for bin in $want; do install_file "$bin_dir/$bin" "$bindir/$bin" 0755; done
fi

# Configuration holds no secrets (the server's live in the 0600 server.env,
# the agent's identity in /var/lib/phoenix/agent), so it is world-readable and
# the services need no group to read it.
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
  if [ -n "$server_url" ]; then
    set_server_endpoint "$root$etc/supervisor.yaml" "$server_url"
    note "set server.endpoint in $etc/supervisor.yaml to $server_url"
  fi
  # Left by an installation from before per-agent identities.
  if ! grep -qF "\${file:$identity/token}" "$root$etc/supervisor.yaml"; then
    note "warning: $etc/supervisor.yaml does not read the agent's identity (\${file:$identity/token}): it predates enrollment; compare it with $here/supervisor.yaml"
  fi
  if [ -e "$root$etc/agent.env" ]; then
    note "warning: $etc/agent.env is no longer read (it held the retired shared agent token): remove it"
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

# user_ids USER: "uid:gid" of a user of the target system, or nothing.
user_ids() {
  [ -r "$root/etc/passwd" ] || return 0
  awk -F: -v u="$1" '$1 == u { print $3 ":" $4; exit }' "$root/etc/passwd"
}

enrolled=false
if [ -n "$enroll_file" ]; then
  # /var/lib/phoenix stays traversable for both services; the identity is
  # the agent's alone.
  [ -d "$root/var/lib/phoenix" ] || install -d -m 0755 "$root/var/lib/phoenix"
  [ -d "$root$identity" ] || install -d -m 0700 "$root$identity"
  # Keeps an identity the server still accepts, replaces one it refuses; the
  # enrollment token is read from its file and stored nowhere. It says on
  # stderr what it did; stdout is the instance UID alone.
  "$phoenix_cli" agent enroll --server "$api_url" --enroll-token-file "$enroll_file" --dir "$root$identity" >/dev/null ||
    die "enrolling with $api_url failed (above); everything else is installed. Once the server answers, run:
  phoenix agent enroll --server $api_url --enroll-token-file FILE --dir $identity"
  ids=""
  if is_root; then ids="$(user_ids "$agent_user")"; fi
  if [ -n "$ids" ]; then
    chown -R "$ids" "$root$identity"
    note "$identity belongs to $agent_user"
  else
    # The user does not exist yet, or we may not give files away: systemd
    # hands the StateDirectory to the user when it starts the service.
    note "$identity is not $agent_user's yet: systemd gives it to $agent_user when phoenix-agent starts"
  fi
  enrolled=true
elif has agent && [ -s "$root$identity/token" ]; then
  enrolled=true
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
if has agent && ! $enrolled; then
  cat <<EOF
  # enroll this host as an agent (once; its identity goes to $identity) with
  # an enrollment token: the server's /var/lib/phoenix/server/enroll.token, or
  # a token with the enroll role in its tokens file. Not stored on this host.
  phoenix agent enroll --server ${api_url:-http://SERVER:8080} --enroll-token-file FILE
  chown -R $agent_user:$agent_user $identity
EOF
fi
has agent && cat <<EOF
  systemctl enable --now phoenix-agent.service
EOF
exit 0
