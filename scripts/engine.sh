#!/usr/bin/env bash
# Makes sure a Docker Engine answers. warmpool talks to DOCKER_HOST when it is set, else to
# /var/run/docker.sock. Where nothing answers on a Debian machine run as root, this installs
# Debian's docker.io and starts dockerd without a bridge or firewall rules: pooled containers get
# no network, so the engine needs none either.
set -euo pipefail

log_dir=${WARMPOOL_ENGINE_LOG_DIR:-/var/log/warmpool}
engine_log="$log_dir/dockerd.log"
# Names the dockerd this script started, so that tests which restart the engine touch only ours.
pid_file=${WARMPOOL_ENGINE_PID_FILE:-/run/warmpool-dockerd.pid}
wait_seconds=${WARMPOOL_ENGINE_WAIT_SECONDS:-60}

engine_answers() {
  command -v docker >/dev/null 2>&1 && timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

say() { printf 'warmpool engine: %s\n' "$*" >&2; }

if engine_answers; then
  say "Docker Engine $(docker version --format '{{.Server.Version}}') answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}"
  exit 0
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  say "DOCKER_HOST=$DOCKER_HOST is set but no engine answers there; start it, or unset DOCKER_HOST"
  exit 1
fi

if [ ! -f /etc/debian_version ] || [ "$(id -u)" -ne 0 ]; then
  say "no Docker Engine answers at /var/run/docker.sock."
  say "Install and start Docker Engine (https://docs.docker.com/engine/install/), or run this as root"
  say "on Debian, where it installs the docker.io package and starts dockerd itself."
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "installing Debian's docker.io package"
  export DEBIAN_FRONTEND=noninteractive
  apt_log=$(mktemp)
  if ! { apt-get update -q && apt-get install -y -q docker.io; } >"$apt_log" 2>&1; then
    say "apt-get failed installing docker.io; its output follows"
    cat "$apt_log" >&2
    exit 1
  fi
  rm -f "$apt_log"
fi

mkdir -p "$log_dir"
say "starting dockerd in the background; its log is $engine_log"
nohup dockerd --bridge=none --iptables=false --ip6tables=false >>"$engine_log" 2>&1 </dev/null &
echo $! >"$pid_file"
disown || true

for _ in $(seq 1 "$wait_seconds"); do
  if engine_answers; then
    say "Docker Engine $(docker version --format '{{.Server.Version}}') is up"
    exit 0
  fi
  sleep 1
done

say "dockerd did not answer within ${wait_seconds} s; the end of its log follows"
tail -n 30 "$engine_log" >&2 || true
exit 1
