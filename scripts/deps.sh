#!/usr/bin/env bash
# Installs what dashdot needs to build and test on Debian 12, only when something is missing.
# Usage: scripts/deps.sh [build|test|bench]   (test includes build; bench includes test)
set -euo pipefail
what=${1:-build}

pkgs=(gcc clang make meson ninja-build pkg-config python3 curl ca-certificates
      libmicrohttpd-dev libjansson-dev libprotobuf-c-dev protobuf-c-compiler libsnappy-dev
      libcurl4-gnutls-dev libuv1-dev libzstd-dev libinih-dev libcmocka-dev libpcre2-dev
      libssh2-1-dev zlib1g-dev libxxhash-dev libsqlite3-dev libsodium-dev libvirt-dev
      libc-ares-dev libgnutls28-dev libsnmp-dev)
if [[ $what == test || $what == bench ]]; then
    pkgs+=(chromium libclang-rt-14-dev procps iproute2 faketime time)
    # Real peers of the probe tests (started by the tests themselves, on 127.0.0.1 only).
    pkgs+=(snmpd snmp munin-node monitoring-plugins-basic prometheus-node-exporter dnsmasq-base
           openssl iputils-ping)
    # Real senders of the sensor tests: rsyslog forwarding, Alertmanager's webhook.
    pkgs+=(rsyslog prometheus-alertmanager bsdutils)
fi
if [[ $what == bench ]]; then
    pkgs+=(prometheus-node-exporter netdata time prometheus victoria-metrics
           prometheus-blackbox-exporter prometheus-snmp-exporter fping)
fi
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "deps: need root to install Debian packages (run as root or install: ${missing[*]})" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Daemons that come with test peers (snmpd, munin-node, node-exporter) must not start
    # listening on install: the tests start their own on 127.0.0.1.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    apt-get update -qq
    rc=0
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    ((own_policy)) && rm -f "$policy"
    ((rc == 0)) || exit $rc
fi
