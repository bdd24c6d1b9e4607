#!/usr/bin/env bash
# Build local stand-ins for the official base images (rust, debian, postgres)
# from Debian packages, for machines that reach Debian's archive but no
# container registry. Each image is a debootstrap rootfs made into one layer
# with `docker import`; images that already exist are skipped.
#
# stdout: `export` lines pointing docker-compose.yml at the images, so
#   eval "$(scripts/local-base-images.sh)"
# works; everything else goes to stderr. The same lines are also written to
# $CDN_BASE_CACHE/images.env. Rootfs dirs live in $CDN_BASE_CACHE, never in
# the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${CDN_BASE_CACHE:-/var/cache/cdn-local-base}
SUITE=bookworm
log() { echo "local-base-images: $*" >&2; }

# The Rust image carries the toolchain this repository builds with on the host
# (the official rust image cannot be pulled, and Debian's rustc is too old).
sysroot=$(cd "$here/.." && rustc --print sysroot)
rust_ver=$("$sysroot/bin/rustc" --version | awk '{print $2}')   # e.g. 1.95.0
RUST_IMAGE=cdn-local/rust:${rust_ver%.*}
DEBIAN_IMAGE=cdn-local/debian:$SUITE-slim
POSTGRES_IMAGE=cdn-local/postgres:15      # bookworm's postgresql is 15

exists() { docker image inspect "$1" >/dev/null 2>&1; }

# One minbase rootfs per suite, kept as a tarball: each image starts from a
# fresh copy of it, so debootstrap (the slow part) runs once per machine.
base_tar() {
  local tar=$CACHE/$SUITE-minbase.tar
  if [ ! -s "$tar" ]; then
    local dir=$CACHE/$SUITE-minbase
    rm -rf "$dir"; mkdir -p "$CACHE"
    log "debootstrap $SUITE (minbase)"
    debootstrap --variant=minbase "$SUITE" "$dir" "$("$here/debian-mirror.sh")" >"$CACHE/debootstrap.log" 2>&1 ||
      { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    tar -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$dir"
  fi
  echo "$tar"
}

# new_rootfs NAME PKG...: fresh rootfs in $CACHE/NAME with PKGs installed,
# services kept from starting inside the chroot.
new_rootfs() {
  local dir=$CACHE/$1; shift
  rm -rf "$dir"; mkdir -p "$dir"
  tar -C "$dir" -xf "$(base_tar)"
  printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"; chmod +x "$dir/usr/sbin/policy-rc.d"
  [ $# -eq 0 ] || install_pkgs "$dir" "$@"
}
install_pkgs() {
  local dir=$1; shift
  log "installing $* into $(basename "$dir")"
  { chroot "$dir" apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -q --no-install-recommends "$@"
  } >"$CACHE/apt-$(basename "$dir").log" 2>&1 ||
    { tail -30 "$CACHE/apt-$(basename "$dir").log" >&2; exit 1; }
}

# import NAME DIR CHANGE...: strip caches and docs, make DIR an image, drop DIR.
import() {
  local name=$1 dir=$2; shift 2
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* \
    "$dir"/usr/share/info/* "$dir"/usr/share/locale/* \
    "$dir"/usr/sbin/policy-rc.d "$dir"/var/log/*.log "$dir"/var/cache/debconf/*-old
  local changes=()
  for c in "$@"; do changes+=(-c "$c"); done
  tar -C "$dir" -c . | docker import "${changes[@]}" - "$name" >/dev/null
  rm -rf "$dir"
  log "built $name ($(docker image inspect -f '{{.Size}}' "$name" | numfmt --to=iec))"
}

if exists "$DEBIAN_IMAGE"; then log "$DEBIAN_IMAGE exists"; else
  new_rootfs debian ca-certificates
  import "$DEBIAN_IMAGE" "$CACHE/debian" 'CMD ["bash"]'
fi

if exists "$RUST_IMAGE"; then log "$RUST_IMAGE exists"; else
  new_rootfs rust gcc libc6-dev pkg-config ca-certificates
  dir=$CACHE/rust
  tc=$dir/usr/local/rustup/toolchains/$(basename "$(readlink -f "$sysroot")")
  mkdir -p "$tc" "$dir/usr/local/cargo/bin"
  log "copying toolchain $rust_ver"
  tar -C "$sysroot" --exclude=./share/doc -c . | tar -C "$tc" -x
  for b in "$tc"/bin/*; do ln -s "${b#"$dir"}" "$dir/usr/local/cargo/bin/"; done
  # The host's bundle: it also trusts the TLS-intercepting proxy that the
  # package registries may be reached through here.
  cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  import "$RUST_IMAGE" "$dir" \
    'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV CARGO_HOME=/usr/local/cargo' 'ENV RUSTUP_HOME=/usr/local/rustup' 'CMD ["bash"]'
fi

if exists "$POSTGRES_IMAGE"; then log "$POSTGRES_IMAGE exists"; else
  dir=$CACHE/postgres
  new_rootfs postgres
  # The entrypoint makes the cluster in PGDATA; the package must not make one.
  mkdir -p "$dir/etc/postgresql-common"
  echo 'create_main_cluster = false' > "$dir/etc/postgresql-common/createcluster.conf"
  install_pkgs "$dir" postgresql
  install -m 755 "$here/postgres-entrypoint.sh" "$dir/usr/local/bin/docker-entrypoint.sh"
  pgbin=$(ls -d "$dir"/usr/lib/postgresql/*/bin | sort -V | tail -1)
  install -d -o "$(chroot "$dir" id -u postgres)" -g "$(chroot "$dir" id -g postgres)" -m 700 "$dir/var/lib/postgresql/data"
  import "$POSTGRES_IMAGE" "$dir" \
    "ENV PATH=${pgbin#"$dir"}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    'ENV PGDATA=/var/lib/postgresql/data' 'VOLUME /var/lib/postgresql/data' 'EXPOSE 5432' \
    'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["postgres"]'
fi

env=$(printf 'export RUST_IMAGE=%s\nexport DEBIAN_IMAGE=%s\nexport POSTGRES_IMAGE=%s\n' \
  "$RUST_IMAGE" "$DEBIAN_IMAGE" "$POSTGRES_IMAGE")
mkdir -p "$CACHE"; echo "$env" > "$CACHE/images.env"
echo "$env"
