#!/usr/bin/env bash
# Builds the regsweep container image from the Dockerfile with buildah, offline: no base image is
# pulled. Two bases are made locally FROM scratch out of this machine's own files:
#   runtime: the Node binary, the shared libraries ldd lists (and the loader), /usr/bin/env (for the
#            `#!/usr/bin/env node` of bin/regsweep.js), /etc/passwd and /etc/group, /tmp, CA certificates;
#   build:   the same plus npm (the one running here).
# npm ci in the build stage reads this machine's npm cache (mounted), so it needs no network once
# `npm ci` has run here.
#   scripts/build-image.sh [TAG]     (default localhost/regsweep:<package version>)
# Prints the image's tag on the last line of stdout. Needs root, buildah, node 22 and npm on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

# vfs and chroot: what works in this sandbox (no overlay mounts, no runtime that can set rlimits).
storage=(--storage-driver vfs)
version="$(node -p 'require("./package.json").version')"
tag="${1:-localhost/regsweep:$version}"
runtime_base="localhost/regsweep-base:node$(node -p 'process.versions.node')"
build_base="localhost/regsweep-build-base:node$(node -p 'process.versions.node')"

node_bin="$(readlink -f "$(command -v node)")"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
[ -f "$npm_dir/bin/npm-cli.js" ] || { echo "build-image: npm not found beside $(command -v npm)" >&2; exit 1; }
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] || { echo "build-image: $ca_bundle is missing (apt-get install ca-certificates)" >&2; exit 1; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# The files of the runtime base, laid out under $stage/runtime.
root="$stage/runtime"
mkdir -p "$root/usr/local/bin" "$root/usr/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/root"
chmod 1777 "$root/tmp"
cp "$node_bin" "$root/usr/local/bin/node"
cp "$(readlink -f /usr/bin/env)" "$root/usr/bin/env"
# Each library at the path ldd resolved it to (--parents), the loader included; -L copies the file, not the link.
for bin in "$node_bin" /usr/bin/env; do
  ldd "$bin" | grep -o '/[^ ]*' | while read -r lib; do cp -L --parents "$lib" "$root"; done
done
cp "$ca_bundle" "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nregsweep:x:65532:65532:regsweep:/work:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nregsweep:x:65532:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"

# A base image from a directory tree: one layer, owned by root.
make_base() { # make_base NAME DIR
  local ctr
  tar -C "$2" --owner=0 --group=0 --numeric-owner -cf "$stage/layer.tar" .
  ctr="$(buildah "${storage[@]}" from scratch)"
  buildah "${storage[@]}" add "$ctr" "$stage/layer.tar" / >/dev/null
  buildah "${storage[@]}" config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_EXTRA_CA_CERTS="$ca_bundle" \
    --label "org.opencontainers.image.description=Node.js $(node -p 'process.version') from the build machine, for regsweep" \
    "$ctr"
  buildah "${storage[@]}" commit --quiet --rm "$ctr" "$1" >/dev/null
  rm -f "$stage/layer.tar"
}

make_base "$runtime_base" "$root"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
make_base "$build_base" "$root"

npm_cache="$(npm config get cache)"
mkdir -p "$npm_cache"
buildah "${storage[@]}" bud --isolation chroot --pull-never \
  --build-arg BASE_IMAGE="$runtime_base" \
  --build-arg BUILD_IMAGE="$build_base" \
  --build-arg VERSION="$version" \
  --volume "$npm_cache:/root/.npm" \
  --tag "$tag" . >&2
# The build stage's image and the superseded builds of this tag are not needed any more.
buildah "${storage[@]}" rmi --prune >/dev/null 2>&1 || true
echo "$tag"
