#!/bin/sh
# Installs the real Jupyter clients the kernel tests drive (Debian packages, system python3).
exec sh "$(dirname "$0")/apt-install.sh" python3-jupyter-kernel-test python3-jupyter-server jupyter-client python3-nbclient jupyter-nbconvert
