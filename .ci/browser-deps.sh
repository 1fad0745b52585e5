#!/bin/sh
# Installs Debian's chromium (and a font, so screenshots have text) for the browser tests, which
# drive it with playwright-core from npm; no browser is ever downloaded by npm.
exec sh "$(dirname "$0")/apt-install.sh" chromium fonts-dejavu-core
