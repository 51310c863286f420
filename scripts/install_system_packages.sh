#!/usr/bin/env bash
# Debian packages the test suite needs: chromium (browser tests), espeak-ng + sox (test speech),
# libportaudio2 (sounddevice), libsndfile1. Installs only what is missing; needs root (or sudo).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
ldconfig -p 2>/dev/null | grep -q libportaudio.so || need+=(libportaudio2)
ldconfig -p 2>/dev/null | grep -q libsndfile.so || need+=(libsndfile1)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing system packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
