#!/usr/bin/env python3
"""Writes the peers' configuration files for bench/probes/run.sh into a directory.

  configs.py blackbox DIR BLACKBOX_PORT HTTP_URL N_HTTP N_ICMP ICMP_COPIES
      DIR/blackbox.yml: modules http_2xx (prober http, timeout 5s) and icmp (prober icmp,
      timeout 5s, IPv4).
      DIR/prometheus.yml: scrape_interval 10s, scrape_timeout 5s; job blackbox_http with
      N_HTTP targets HTTP_URL?p=N, and ICMP_COPIES jobs blackbox_icmp_K, each with the same
      N_ICMP targets 127.0.1.1, 127.0.1.2, ... (blackbox sends one echo request per probe: K
      jobs give each address K echo requests per interval, the work of one K-ping probe). The
      standard blackbox relabeling: __param_target from the address, instance = the target,
      __address__ = the blackbox exporter.
  configs.py snmp DIR SNMP_EXPORTER_PORT SNMP_TARGET N COMMUNITY
      DIR/snmp.yml: module if_mib, as snmp_exporter's generator makes it from its example
      generator.yml (walk interfaces and ifXTable, get sysUpTime, ifAlias/ifDescr/ifName
      lookups), written out with numeric OIDs because Debian cannot ship IF-MIB; v2c.
      DIR/prometheus.yml: scrape_interval 60s, scrape_timeout 10s, N targets that are all
      SNMP_TARGET, told apart by a label "copy" (Prometheus keeps one scrape loop per distinct
      label set), relabeled to snmp_exporter with module=if_mib.
"""
import ipaddress
import json
import os
import re
import sys


def dump(path, obj):
    # JSON is YAML: no YAML library needed, and no quoting surprises. Only integer map keys
    # (snmp_exporter's enum_values) must lose their quotes to be read as integers.
    text = json.dumps(obj, indent=1)
    text = re.sub(r'"(\d+)": ', r"\1: ", text)
    with open(path, "w") as f:
        f.write(text)


def relabel(exporter):
    return [
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": ["__param_target"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": exporter},
    ]


def blackbox(d, port, url, n_http, n_icmp, copies):
    dump(os.path.join(d, "blackbox.yml"), {"modules": {
        "http_2xx": {"prober": "http", "timeout": "5s",
                     "http": {"preferred_ip_protocol": "ip4", "ip_protocol_fallback": False}},
        "icmp": {"prober": "icmp", "timeout": "5s",
                 "icmp": {"preferred_ip_protocol": "ip4", "ip_protocol_fallback": False}},
    }})
    exporter = f"127.0.0.1:{port}"
    sep = "&" if "?" in url else "?"
    base = ipaddress.IPv4Address("127.0.1.1")
    jobs = [{
        "job_name": "blackbox_http", "metrics_path": "/probe", "params": {"module": ["http_2xx"]},
        "static_configs": [{"targets": [f"{url}{sep}p={i}" for i in range(n_http)]}],
        "relabel_configs": relabel(exporter),
    }] if n_http else []
    for k in range(1, copies + 1) if n_icmp else []:
        jobs.append({
            "job_name": f"blackbox_icmp_{k}", "metrics_path": "/probe",
            "params": {"module": ["icmp"]},
            "static_configs": [{"targets": [str(base + i) for i in range(n_icmp)]}],
            "relabel_configs": relabel(exporter),
        })
    dump(os.path.join(d, "prometheus.yml"), {
        "global": {"scrape_interval": "10s", "scrape_timeout": "5s", "evaluation_interval": "1m"},
        "scrape_configs": jobs,
    })


IF_LOOKUPS = [
    {"labels": ["ifIndex"], "labelname": "ifAlias", "oid": "1.3.6.1.2.1.31.1.1.1.18",
     "type": "DisplayString"},
    {"labels": ["ifIndex"], "labelname": "ifDescr", "oid": "1.3.6.1.2.1.2.2.1.2",
     "type": "DisplayString"},
    {"labels": ["ifIndex"], "labelname": "ifName", "oid": "1.3.6.1.2.1.31.1.1.1.1",
     "type": "DisplayString"},
]
# (name, oid, type) of every column of ifTable and ifXTable that the generator keeps for if_mib
# (ifAlias, ifDescr and ifName are lookups only; ifType is EnumAsInfo)
IF_COLUMNS = [
    ("ifIndex", "1.3.6.1.2.1.2.2.1.1", "gauge"),
    ("ifType", "1.3.6.1.2.1.2.2.1.3", "EnumAsInfo"),
    ("ifMtu", "1.3.6.1.2.1.2.2.1.4", "gauge"),
    ("ifSpeed", "1.3.6.1.2.1.2.2.1.5", "gauge"),
    ("ifPhysAddress", "1.3.6.1.2.1.2.2.1.6", "PhysAddress48"),
    ("ifAdminStatus", "1.3.6.1.2.1.2.2.1.7", "gauge"),
    ("ifOperStatus", "1.3.6.1.2.1.2.2.1.8", "gauge"),
    ("ifLastChange", "1.3.6.1.2.1.2.2.1.9", "gauge"),
    ("ifInOctets", "1.3.6.1.2.1.2.2.1.10", "counter"),
    ("ifInUcastPkts", "1.3.6.1.2.1.2.2.1.11", "counter"),
    ("ifInNUcastPkts", "1.3.6.1.2.1.2.2.1.12", "counter"),
    ("ifInDiscards", "1.3.6.1.2.1.2.2.1.13", "counter"),
    ("ifInErrors", "1.3.6.1.2.1.2.2.1.14", "counter"),
    ("ifInUnknownProtos", "1.3.6.1.2.1.2.2.1.15", "counter"),
    ("ifOutOctets", "1.3.6.1.2.1.2.2.1.16", "counter"),
    ("ifOutUcastPkts", "1.3.6.1.2.1.2.2.1.17", "counter"),
    ("ifOutNUcastPkts", "1.3.6.1.2.1.2.2.1.18", "counter"),
    ("ifOutDiscards", "1.3.6.1.2.1.2.2.1.19", "counter"),
    ("ifOutErrors", "1.3.6.1.2.1.2.2.1.20", "counter"),
    ("ifOutQLen", "1.3.6.1.2.1.2.2.1.21", "gauge"),
    ("ifSpecific", "1.3.6.1.2.1.2.2.1.22", "OctetString"),
    ("ifInMulticastPkts", "1.3.6.1.2.1.31.1.1.1.2", "counter"),
    ("ifInBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.3", "counter"),
    ("ifOutMulticastPkts", "1.3.6.1.2.1.31.1.1.1.4", "counter"),
    ("ifOutBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.5", "counter"),
    ("ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6", "counter"),
    ("ifHCInUcastPkts", "1.3.6.1.2.1.31.1.1.1.7", "counter"),
    ("ifHCInMulticastPkts", "1.3.6.1.2.1.31.1.1.1.8", "counter"),
    ("ifHCInBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.9", "counter"),
    ("ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10", "counter"),
    ("ifHCOutUcastPkts", "1.3.6.1.2.1.31.1.1.1.11", "counter"),
    ("ifHCOutMulticastPkts", "1.3.6.1.2.1.31.1.1.1.12", "counter"),
    ("ifHCOutBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.13", "counter"),
    ("ifLinkUpDownTrapEnable", "1.3.6.1.2.1.31.1.1.1.14", "gauge"),
    ("ifHighSpeed", "1.3.6.1.2.1.31.1.1.1.15", "gauge"),
    ("ifPromiscuousMode", "1.3.6.1.2.1.31.1.1.1.16", "gauge"),
    ("ifConnectorPresent", "1.3.6.1.2.1.31.1.1.1.17", "gauge"),
    ("ifCounterDiscontinuityTime", "1.3.6.1.2.1.31.1.1.1.19", "gauge"),
]


def snmp(d, port, target, n, community):
    metrics = [
        {"name": "sysUpTime", "oid": "1.3.6.1.2.1.1.3", "type": "gauge"},
        {"name": "ifNumber", "oid": "1.3.6.1.2.1.2.1", "type": "gauge"},
    ]
    for name, oid, typ in IF_COLUMNS:
        m = {"name": name, "oid": oid, "type": typ,
             "indexes": [{"labelname": "ifIndex", "type": "gauge"}], "lookups": IF_LOOKUPS}
        if typ == "EnumAsInfo":
            # the generator writes the IANAifType names; two are enough for the interfaces
            # on a Linux host (the cost is a map lookup either way)
            m["enum_values"] = {"6": "ethernetCsmacd", "24": "softwareLoopback"}
        metrics.append(m)
    dump(os.path.join(d, "snmp.yml"), {"if_mib": {
        "walk": ["1.3.6.1.2.1.2", "1.3.6.1.2.1.31.1.1"],
        "get": ["1.3.6.1.2.1.1.3.0"],
        "metrics": metrics,
        "version": 2,
        "max_repetitions": 25,
        "retries": 3,
        "timeout": "5s",
        "auth": {"community": community},
    }})
    dump(os.path.join(d, "prometheus.yml"), {
        "global": {"scrape_interval": "60s", "scrape_timeout": "10s", "evaluation_interval": "1m"},
        "scrape_configs": [{
            "job_name": "snmp", "metrics_path": "/snmp", "params": {"module": ["if_mib"]},
            "static_configs": [{"targets": [target], "labels": {"copy": str(i)}}
                               for i in range(n)],
            "relabel_configs": relabel(f"127.0.0.1:{port}"),
        }],
    })


if __name__ == "__main__":
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "blackbox":
        d, port, url, nh, ni, k = args
        blackbox(d, int(port), url, int(nh), int(ni), int(k))
    elif kind == "snmp":
        d, port, target, n, community = args
        snmp(d, int(port), target, int(n), community)
    else:
        sys.exit("usage: configs.py blackbox|snmp DIR ...")
