#!/usr/bin/env bash
# Build emflow's container images; print the built image's reference as the last line.
#
#   containers/build.sh [--engine podman|docker] [--tag TAG] [--base IMAGE | --debian-base]
#       the emflow image (containers/emflow/Dockerfile) from this checkout; TAG default
#       localhost/emflow:<version>. --base: any Debian bookworm image (default
#       python:3.11-slim-bookworm, pulled from a registry). --debian-base: no registry needed: a
#       bookworm root filesystem made with mmdebstrap from the host's Debian apt sources,
#       imported as localhost/emflow-base:bookworm (reused when present; --rebuild-base redoes it).
#   containers/build.sh [--engine E] [--tag TAG] --imod-installer FILE --imod-sha256 HEX
#                       [--imod-version V] --from EMFLOW_IMAGE
#       the IMOD image (containers/imod/Dockerfile) FROM an emflow image, with the IMOD installer
#       you downloaded (refused unless its SHA-256 is HEX); TAG default localhost/emflow-imod:<version>.
#
# TLS: the host's CA bundle ($SSL_CERT_FILE or /etc/ssl/certs/ca-certificates.crt; --ca-bundle
# FILE, or --ca-bundle none) is a build secret, mounted only into the pip RUN step and handed to
# pip as --cert; it never becomes part of the image. With podman, when CONTAINERS_CONF is unset
# and runc is installed, containers/engine/containers.conf (runc, rlimits these machines need)
# is used.
# Labels: org.opencontainers.image.version (pyproject.toml) and .revision (git HEAD; "-dirty"
# when the checkout has uncommitted changes), also given as --label: podman 4.3's build cache
# reuses a LABEL layer whose build-arg value changed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
engine=podman tag="" base="" debian_base=0 rebuild_base=0
ca_bundle="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
imod_installer="" imod_sha256="" imod_version="5.1.2" from=""
die() { echo "build.sh: $*" >&2; exit 2; }
while (($#)); do
    case "$1" in
        --engine) engine="${2:?}"; shift 2 ;;
        --tag) tag="${2:?}"; shift 2 ;;
        --base) base="${2:?}"; shift 2 ;;
        --debian-base) debian_base=1; shift ;;
        --rebuild-base) debian_base=1 rebuild_base=1; shift ;;
        --ca-bundle) ca_bundle="${2:?}"; shift 2 ;;
        --imod-installer) imod_installer="${2:?}"; shift 2 ;;
        --imod-sha256) imod_sha256="${2:?}"; shift 2 ;;
        --imod-version) imod_version="${2:?}"; shift 2 ;;
        --from) from="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[[ $engine == podman || $engine == docker ]] || die "--engine must be podman or docker, not $engine"
[[ -n $base && $debian_base == 1 ]] && die "--base and --debian-base exclude each other"
if [[ -n $imod_installer ]]; then
    [[ -n $from ]] || die "--imod-installer needs --from EMFLOW_IMAGE (an image this script built)"
    [[ -n $imod_sha256 ]] || die "--imod-installer needs --imod-sha256 HEX (the checksum of the installer you trust)"
    [[ -f $imod_installer ]] || die "IMOD installer $imod_installer not found"
fi
command -v "$engine" >/dev/null || die "$engine is not installed"
if [[ $engine == podman && -z ${CONTAINERS_CONF:-} ]] && command -v runc >/dev/null; then
    export CONTAINERS_CONF="$repo/containers/engine/containers.conf"
fi

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml" | head -1)"
revision="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
[[ $revision != unknown && -n "$(git -C "$repo" status --porcelain 2>/dev/null)" ]] && revision="$revision-dirty"

build_opts=()
if [[ $ca_bundle != none ]]; then
    [[ -f $ca_bundle ]] || die "CA bundle $ca_bundle not found (--ca-bundle FILE, or --ca-bundle none)"
    # A build secret: mounted only into the RUN steps that ask for it, never stored in a layer;
    # at /run/host-ca-bundle.crt, not over /etc/ssl/certs/ca-certificates.crt, which Debian's
    # ca-certificates package (installed by the build) rewrites.
    build_opts+=(--secret "id=ca_bundle,src=$(readlink -f "$ca_bundle")" --build-arg CA_BUNDLE=/run/host-ca-bundle.crt)
fi
if [[ $engine == podman ]]; then
    build_opts+=(--format docker)  # Docker's image format keeps SHELL (pipefail in RUN steps)
else
    export DOCKER_BUILDKIT=1  # RUN --mount=type=secret
fi

debian_base_image() {  # make (or reuse) localhost/emflow-base:bookworm; print its reference
    local ref=localhost/emflow-base:bookworm
    if [[ $rebuild_base == 0 ]] && "$engine" image inspect "$ref" >/dev/null 2>&1; then
        echo "build.sh: reusing $ref (--rebuild-base to make it again)" >&2
        echo "$ref"; return
    fi
    command -v mmdebstrap >/dev/null || die "--debian-base needs mmdebstrap (apt-get install mmdebstrap)"
    local tmp sources=()
    tmp="$(mktemp -d)"
    # The host's Debian package sources (bookworm), not third-party ones.
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -s $f ]] && grep -v '^\s*#' "$f" | grep -q '/debian' && grep -q bookworm "$f" && sources+=("$f")
    done
    ((${#sources[@]})) || die "no Debian bookworm apt source found in /etc/apt/sources.list*"
    echo "build.sh: mmdebstrap bookworm from ${sources[*]}" >&2
    mmdebstrap --quiet --variant=minbase --format=tar bookworm "$tmp/rootfs.tar" "${sources[@]}" >&2
    "$engine" import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
        --message "Debian bookworm (mmdebstrap minbase) for emflow" "$tmp/rootfs.tar" "$ref" >&2
    rm -rf "$tmp"
    echo "$ref"
}

if [[ -n $imod_installer ]]; then
    tag="${tag:-localhost/emflow-imod:$version-imod$imod_version}"
    context="$(mktemp -d)"
    trap 'rm -rf "$context"' EXIT
    cp "$imod_installer" "$context/$(basename "$imod_installer")"
    "$engine" build "${build_opts[@]}" -f "$repo/containers/imod/Dockerfile" \
        --build-arg "EMFLOW_IMAGE=$from" \
        --build-arg "IMOD_INSTALLER=$(basename "$imod_installer")" \
        --build-arg "IMOD_SHA256=$imod_sha256" \
        --build-arg "IMOD_VERSION=$imod_version" \
        -t "$tag" "$context" >&2
else
    [[ $debian_base == 1 ]] && base="$(debian_base_image)"
    tag="${tag:-localhost/emflow:$version}"
    "$engine" build "${build_opts[@]}" -f "$repo/containers/emflow/Dockerfile" \
        ${base:+--build-arg "BASE_IMAGE=$base"} \
        --build-arg "EMFLOW_VERSION=$version" \
        --build-arg "GIT_REVISION=$revision" \
        --label "org.opencontainers.image.version=$version" \
        --label "org.opencontainers.image.revision=$revision" \
        -t "$tag" "$repo" >&2
fi
# podman names a tag without a registry host localhost/TAG
first="${tag%%/*}"
[[ $engine == podman && ( $tag != */* || ( $first != *.* && $first != *:* && $first != localhost ) ) ]] && tag="localhost/$tag"
echo "$tag"
