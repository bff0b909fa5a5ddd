#!/usr/bin/env bash
# Write a STAND-IN for IMOD's self-extracting installer -- for emflow's container tests only; it
# installs no IMOD. Like IMOD's imod_<version>_RHEL8-64_CUDA12.0.sh it takes
# `-yes -skip -debian -dir DIR`, unpacks into DIR/imod_<version>, links DIR/IMOD to it and writes
# IMOD-linux.sh setting IMOD_DIR and PATH (copied to /etc/profile.d unless -skip). What it
# installs as bin/batchruntomo is emflow's test double (tests/fakes/batchruntomo), which writes
# BRT-shaped outputs and says "TEST DOUBLE, not IMOD" in its log.
#
#   tests/fakes/make-imod-installer-standin.sh OUT.sh [VERSION]   (VERSION default 0.0-standin)
# The same inputs give the same bytes (so the same SHA-256).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: make-imod-installer-standin.sh OUT.sh [VERSION]}"
version="${2:-0.0-standin}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/imod_$version/bin"
install -m 755 "$here/batchruntomo" "$tmp/imod_$version/bin/batchruntomo"
cat >"$tmp/imod_$version/IMOD-linux.sh" <<SH
# IMOD startup file (emflow test stand-in)
export IMOD_DIR=\${IMOD_DIR:-INSTALL_DIR/IMOD}
export PATH=\$IMOD_DIR/bin:\$PATH
SH
echo "emflow IMOD installer stand-in $version: NOT IMOD" >"$tmp/imod_$version/README.standin"

{
    cat <<SH
#!/bin/sh
# STAND-IN for IMOD's installer (emflow container tests); installs a batchruntomo test double.
# Options as IMOD's installer: -yes -skip -debian -dir DIR
set -eu
dir=/usr/local skip=0
while [ \$# -gt 0 ]; do
    case "\$1" in
        -dir) dir="\$2"; shift 2 ;;
        -skip) skip=1; shift ;;
        -yes|-debian) shift ;;
        *) echo "imod stand-in installer: unknown option \$1" >&2; exit 2 ;;
    esac
done
mkdir -p "\$dir"
line=\$(awk '/^__PAYLOAD__\$/ { print NR + 1; exit }' "\$0")
tail -n +"\$line" "\$0" | base64 -d | tar -xzf - -C "\$dir"
sed -i "s|INSTALL_DIR|\$dir|" "\$dir/imod_$version/IMOD-linux.sh"
ln -sfn "imod_$version" "\$dir/IMOD"
[ "\$skip" = 1 ] || cp "\$dir/imod_$version/IMOD-linux.sh" /etc/profile.d/IMOD-linux.sh
echo "Installed the emflow IMOD stand-in $version (a batchruntomo test double, NOT IMOD) in \$dir/imod_$version"
exit 0
__PAYLOAD__
SH
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$tmp" -cf - "imod_$version" \
        | gzip -n | base64
} >"$out"
chmod 755 "$out"
