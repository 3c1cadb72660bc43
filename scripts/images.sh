#!/usr/bin/env bash
# Builds the demo and test images locally, each skipped when already present. No registry is
# needed: both are imported from a root filesystem made on this machine.
#   warmpool-test/busybox  Debian's static busybox on an empty root (sh, tar and friends, ~2 MB)
#   warmpool-test/python   a Debian bookworm minbase root with python3
set -euo pipefail

say() { printf 'warmpool images: %s\n' "$*" >&2; }

# The sandbox account named in the images' /etc/passwd; warmpool runs code under these numbers
# whether or not an image names them, so any image works, but named ones read better in `id`.
sandbox_uid=${WARMPOOL_SANDBOX_UID:-40000}
sandbox_gid=${WARMPOOL_SANDBOX_GID:-40000}

# Scratch space, removed however the script ends.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_apt_package() {
  local binary=$1 package=$2
  command -v "$binary" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ] || [ ! -f /etc/debian_version ]; then
    say "$binary is missing; install the $package package"
    exit 1
  fi
  say "installing Debian's $package package"
  local apt_log
  apt_log=$(mktemp)
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package"; } >"$apt_log" 2>&1; then
    say "apt-get failed installing $package; its output follows"
    cat "$apt_log" >&2
    exit 1
  fi
  rm -f "$apt_log"
}

add_sandbox_account() {
  local root=$1
  mkdir -p "$root/etc" "$root/tmp" "$root/sandbox" "$root/home/sandbox"
  echo "sandbox:x:$sandbox_uid:$sandbox_gid:warmpool sandbox:/home/sandbox:/bin/sh" >>"$root/etc/passwd"
  echo "sandbox:x:$sandbox_gid:" >>"$root/etc/group"
}

build_busybox() {
  local name=warmpool-test/busybox
  if image_present "$name"; then say "$name is present"; return 0; fi
  ensure_apt_package busybox busybox-static
  local busybox_binary
  busybox_binary=$(command -v busybox)
  if ! file -L "$busybox_binary" 2>/dev/null | grep -q 'statically linked'; then
    # Debian's busybox package is dynamically linked; only busybox-static runs on an empty root.
    ensure_apt_package file file
    if ! file -L "$busybox_binary" | grep -q 'statically linked'; then
      say "$busybox_binary is not statically linked; install Debian's busybox-static package"
      exit 1
    fi
  fi

  say "building $name"
  local root="$work/busybox-root"
  mkdir -p "$root/bin" "$root/usr/bin" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
  cp "$busybox_binary" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  ln -s ../../bin/busybox "$root/usr/bin/env"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  add_sandbox_account "$root"

  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/bin:/usr/bin' \
    --change 'LABEL org.opencontainers.image.title=warmpool-test/busybox' \
    - "$name" >/dev/null
  say "$name built ($(docker image inspect --format '{{.Size}}' "$name") bytes)"
}

build_python() {
  local name=warmpool-test/python
  if image_present "$name"; then say "$name is present"; return 0; fi
  ensure_apt_package debootstrap debootstrap

  # Use the machine's own Debian mirror, so a machine that reaches only its mirror still works.
  local mirror
  mirror=$({ grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true; } \
    | head -n 1 | tr -d ' ')
  mirror=${WARMPOOL_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}

  say "building $name with debootstrap from $mirror (about a minute)"
  local root="$work/python-root" log="$work/debootstrap.log"
  if ! debootstrap --variant=minbase --include=python3 bookworm "$root" "$mirror" >"$log" 2>&1; then
    say "debootstrap failed; the end of its output follows"
    tail -n 30 "$log" >&2
    exit 1
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  add_sandbox_account "$root"

  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'LABEL org.opencontainers.image.title=warmpool-test/python' \
    - "$name" >/dev/null
  say "$name built ($(docker image inspect --format '{{.Size}}' "$name") bytes)"
}

build_busybox
build_python
