#!/usr/bin/env bash
# Install and start what the Compose end-to-end test needs on a Debian 12 machine:
# the Docker engine (docker.io), Compose v2, curl, jq and debootstrap.
# Idempotent: every step is skipped when its tool already answers, so a second
# run costs a few hundred milliseconds. Run as root (or with sudo available).
set -euo pipefail

SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
export DEBIAN_FRONTEND=noninteractive

log() { echo "install-docker: $*" >&2; }

# 1. Debian packages that are missing. apt-get update only when something is.
pkgs=()
command -v curl >/dev/null || pkgs+=(curl)
command -v jq >/dev/null || pkgs+=(jq)
command -v debootstrap >/dev/null || pkgs+=(debootstrap)
# docker.io brings dockerd, containerd and runc; the machine may ship only the CLI.
if ! $SUDO docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null; then
  pkgs+=(docker.io)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
  log "installing ${pkgs[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# 2. Start the engine in the background (no systemd here) and wait for it.
if ! $SUDO docker info >/dev/null 2>&1; then
  if ! pgrep -x dockerd >/dev/null; then
    log "starting dockerd (log: $DOCKERD_LOG)"
    # setsid: the daemon must outlive this script and its shell.
    $SUDO setsid dockerd >>"$DOCKERD_LOG" 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do
    $SUDO docker info >/dev/null 2>&1 && break
    sleep 1
  done
  $SUDO docker info >/dev/null 2>&1 || { log "dockerd did not answer in 60 s; see $DOCKERD_LOG"; tail -20 "$DOCKERD_LOG" >&2 || true; exit 1; }
fi

# 3. Compose v2. Debian 12's docker-compose is v1, so take Debian 13's .deb
# through a throwaway apt configuration (no change to the machine's sources).
if ! docker compose version >/dev/null 2>&1; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  mirror=$("$(dirname "$0")/debian-mirror.sh")
  log "fetching Compose v2 (trixie docker-compose) from the machine's mirror"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$tmp/trixie.list"
  mkdir -p "$tmp/lists/partial"
  aptopts=(-o "Dir::Etc::SourceList=$tmp/trixie.list" -o Dir::Etc::SourceParts=/dev/null
           -o "Dir::State::Lists=$tmp/lists" -o APT::Sandbox::User=root)
  $SUDO apt-get "${aptopts[@]}" update -qq
  (cd "$tmp" && $SUDO apt-get "${aptopts[@]}" download docker-compose -qq)
  $SUDO dpkg -i "$tmp"/docker-compose_*.deb >/dev/null
  docker compose version >/dev/null 2>&1 || { log "docker compose still missing after dpkg -i"; exit 1; }
fi

log "ready: $(docker version --format 'engine {{.Server.Version}}'), $(docker compose version --short | sed 's/^/compose /')"
