#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine with Node and npm:
# the npm dependencies, redis-server + ZooKeeper (Debian packages) for the distributed
# adapters' tests, and openssl + mosquitto-clients for the TLS tests (openssl makes a throwaway
# CA at run time; mosquitto_sub/mosquitto_pub are a second MQTT client), and chromium for the admin
# console's browser test (test/admin-console.test.ts drives /usr/bin/chromium with playwright-core). The test harness starts
# its own servers on free ports in a temp dir; the system services are never used.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -f /usr/share/zookeeper/bin/zkServer.sh ] || need+=(zookeeper)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
  # Debian starts the packaged services; the tests run their own instances instead.
  ($SUDO systemctl stop redis-server zookeeper 2>/dev/null || $SUDO service redis-server stop 2>/dev/null || true) >/dev/null 2>&1
fi

PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
