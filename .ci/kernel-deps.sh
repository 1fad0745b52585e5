#!/bin/sh
# Installs the real Jupyter clients the kernel tests drive (Debian packages, system python3).
# Idempotent and non-interactive; needs root (or sudo).
set -eu
PKGS="python3-jupyter-kernel-test python3-jupyter-server jupyter-client python3-nbclient jupyter-nbconvert"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && { echo "kernel-deps: all installed"; exit 0; }
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
