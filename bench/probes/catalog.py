#!/usr/bin/env python3
"""Creates the probes of bench/probes/run.sh through dashdot's catalog API, in one process
with a keep-alive connection: one device, the endpoints, the probes and one schedule per probe
naming the given agents.

  catalog.py SERVER_URL ADMIN_TOKEN_FILE AGENTS KIND COUNT [options]

AGENTS: the agents' names, comma separated: the vantage points of every schedule.

KIND icmp: COUNT probes against 127.0.1.1, 127.0.1.2, ... (distinct loopback addresses, one
           endpoint each), settings {"count": PINGS}.
KIND http: COUNT probes of --url with "?p=N" appended (one endpoint), default settings.
KIND snmp: COUNT probes of the SNMP agent --address:--port (one endpoint), v2c, --community,
           IF-MIB interfaces.
Options: --interval 10s --timeout 5s --pings 3 --url U --address A --port P --community C
         --device NAME
Prints the number of schedules created. Exits 1 with the API's answer on the first error.
"""
import argparse
import http.client
import ipaddress
import json
import sys
import time
import urllib.parse


class Api:
    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.token = token
        self.conn = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        hdr = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.request(method, path, body=data, headers=hdr)
                r = self.conn.getresponse()
                text = r.read()
                if r.status >= 300:
                    sys.exit(f"catalog.py: {method} {path} -> HTTP {r.status}: {text[:500]!r}")
                return json.loads(text) if text else None
            except (http.client.HTTPException, ConnectionError, OSError):
                # the server closed a kept-alive connection: reconnect and retry
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def create(self, model, body):
        return self.call("POST", f"/api/v1/{model}", body)["data"]["id"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("token_file")
    ap.add_argument("agents")
    ap.add_argument("kind", choices=["icmp", "http", "snmp"])
    ap.add_argument("count", type=int)
    ap.add_argument("--interval", default="10s")
    ap.add_argument("--timeout", default="5s")
    ap.add_argument("--pings", type=int, default=3)
    ap.add_argument("--url")
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--community", default="public")
    ap.add_argument("--device", default="bench-targets")
    a = ap.parse_args()

    api = Api(a.server, open(a.token_file).read().strip())
    agent_ids = []
    for name in a.agents.split(","):
        found = api.call("GET", "/api/v1/agent?name=" + urllib.parse.quote(name))["data"]
        if not found:
            sys.exit(f"catalog.py: no agent named {name}")
        agent_ids.append(found[0]["id"])
    devs = api.call("GET", "/api/v1/device?name=" + urllib.parse.quote(a.device))["data"]
    dev = devs[0]["id"] if devs else api.create("device", {"name": a.device, "kind": "server"})

    sched = {"agents": agent_ids, "interval": a.interval, "timeout": a.timeout}
    base = ipaddress.IPv4Address("127.0.1.1")
    shared_ep = None
    if a.kind == "http":
        u = urllib.parse.urlsplit(a.url)
        shared_ep = api.create("endpoint", {"device": dev, "name": "http target",
                                            "address": u.hostname, "port": u.port,
                                            "protocol": "http"})
    elif a.kind == "snmp":
        shared_ep = api.create("endpoint", {"device": dev, "name": "snmp agent",
                                            "address": a.address, "port": a.port,
                                            "protocol": "snmp"})
    sep = "&" if a.url and "?" in a.url else "?"
    for i in range(a.count):
        if a.kind == "icmp":
            addr = str(base + i)
            ep = api.create("endpoint", {"device": dev, "name": f"lo {addr}", "address": addr,
                                         "protocol": "icmp"})
            probe = {"name": f"icmp {i}", "endpoint": ep, "type": "icmp",
                     "settings": {"count": a.pings}}
        elif a.kind == "http":
            probe = {"name": f"http {i}", "endpoint": shared_ep, "type": "http",
                     "settings": {"url": f"{a.url}{sep}p={i}"}}
        else:
            probe = {"name": f"snmp {i}", "endpoint": shared_ep, "type": "snmp",
                     "settings": {"version": "2c", "community": a.community,
                                  "interfaces": True}}
        pid = api.create("probe", probe)
        api.create("telemetry", dict(sched, probe=pid))
    print(a.count)


if __name__ == "__main__":
    main()
