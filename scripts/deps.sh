#!/usr/bin/env bash
# Installs the Debian packages Dialtone needs to build, run and test. Idempotent.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config git ca-certificates lld
  libboost-dev libboost-program-options-dev libboost-filesystem-dev
  libpoco-dev libpq-dev rapidjson-dev libspdlog-dev libfmt-dev liblua5.4-dev lua5.4
  libgtest-dev libgmock-dev googletest libssl-dev openssl
  postgresql postgresql-contrib
  libsofia-sip-ua-dev sip-tester dnsmasq-base
  libldap2-dev slapd ldap-utils
  tftp-hpa curl wrk
  clang
  libkainjow-mustache-dev
  libyaml-cpp-dev
  python3-websockets
  baresip-core
  libspandsp-dev libsndfile1-dev libsrtp2-dev libopus-dev
  libtiff-dev libtiff-tools
  libpri-dev dahdi-source
  tzdata
  asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav asterisk-moh-opsound-wav
  kamailio kamailio-presence-modules  # bench/ only: the comparisons beside Kamailio
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
