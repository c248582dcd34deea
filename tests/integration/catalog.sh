#!/usr/bin/env bash
# The catalog REST API over HTTP with the admin token, driven by /api/v1/schema so that a new
# model is covered without touching this file: create, get, list with a filter, update with
# If-Match, stale update, delete and get-after-delete for every model; one bad object per
# validation rule found in the schema (422 with errors.<field>); malformed requests; on_delete
# restrict / cascade / set_null; list paging, sorting, search and tag filters; the audit log;
# passwords never shown; token secrets shown once and usable as bearer tokens.
source "$(dirname "$0")/lib.sh"
it_init
port=$(free_port)
url=http://127.0.0.1:$port
start_server srv "$port" "$IT_DIR/data" || exit 1

# The checks are in Python (the objects are built from the schema JSON); it prints one
# "ok"/"not ok" line per check like `check` does and exits with the number of failures.
python3 - "$url" "$IT_DIR/data/admin.token" <<'PY'
import json, re, sys, urllib.error, urllib.parse, urllib.request
from datetime import datetime, timedelta, timezone

URL = sys.argv[1] + "/api/v1"
TOKEN = open(sys.argv[2]).read().strip()
fails = 0


def on_error(etype, value, tb):
    """An exception in the test itself is one more failure (and the remaining checks are
    skipped)."""
    import os, traceback
    print("  not ok - the test stopped on an unexpected %s: %s" % (etype.__name__, value))
    traceback.print_exception(etype, value, tb, file=sys.stdout)
    sys.stdout.flush()
    os._exit(min(fails + 1, 100))


sys.excepthook = on_error


def check(name, ok, why=""):
    global fails
    print(("  ok - " if ok else "  not ok - ") + name)
    if not ok:
        fails += 1
        if why:
            print("    " + str(why)[:400])
    return ok


class Resp:
    def __init__(self, status, headers, text):
        self.status, self.headers, self.text = status, headers, text
        try:
            self.json = json.loads(text) if text else {}
        except ValueError:
            self.json = {}
        if not isinstance(self.json, dict):
            self.json = {}

    @property
    def data(self):
        return self.json.get("data")

    def errors(self):
        return self.json.get("errors") or {}

    def __str__(self):
        return "HTTP %d: %s" % (self.status, self.text[:300])


def req(method, path, body=None, raw=None, headers=None, token=TOKEN):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    r = urllib.request.Request(URL + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=30) as f:
            return Resp(f.status, f.headers, f.read().decode())
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read().decode())


def qs(**kw):
    return "?" + urllib.parse.urlencode(kw)


def parse_duration(s):
    units = {"y": 31536000000, "w": 604800000, "d": 86400000, "h": 3600000, "m": 60000,
             "s": 1000, "ms": 1}
    parts = re.findall(r"(\d+)(ms|y|w|d|h|m|s)", s)
    if "".join(a + b for a, b in parts) != s:
        return None
    return sum(int(a) * units[b] for a, b in parts)


def fmt_duration(ms):
    out = ""
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out += "%d%s" % (ms // size, unit)
            ms %= size
    return out or "0s"


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


# ------------------------------------------------------------------ the schema
r = req("GET", "/schema")
check("GET /api/v1/schema: 200 with models", r.status == 200 and r.data and r.data.get("models"), r)
if not (r.data and r.data.get("models")):
    sys.exit(fails)
MODELS = r.data["models"]
BYNAME = {m["name"]: m for m in MODELS}
check("schema lists every documented model",
      {"device", "endpoint", "agent", "probe", "sensor", "telemetry", "collector", "user", "group",
       "token", "dashboard", "rule", "ticket", "silence"} <= set(BYNAME), sorted(BYNAME))
check("schema: models come in dependency order (references point backwards or to themselves)",
      all(f.get("ref") in [p["name"] for p in MODELS[: i + 1]]
          for i, m in enumerate(MODELS) for f in m["fields"] if f.get("ref")))

# ------------------------------------------------------------------ building valid objects
SEQ = [0]
# Times in objects (token expiry, silences...) lie a year ahead of today, on a whole day, so no
# object is born expired whatever the date the suite runs at.
BASE_TIME = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) \
    + timedelta(days=365)
REGEX_SAMPLES = ["/metrics", "/usr/lib/nagios/plugins/check_ok", "1.3.6.1.2.1",
                 "smtp://mail.example.com:25", "a", "abc", "0", "x1", "204",
                 "X-Test: yes", "status=ok", "NOERROR"]
LIVE = {}  # model -> ids created for references


def nxt():
    SEQ[0] += 1
    return SEQ[0]


def string_value(f, n):
    rule = f.get("rule")
    if rule == "hostname":
        v = "host-%d.example.com" % n
    elif rule == "address":
        v = "10.0.%d.%d" % (n // 250, n % 250 + 1)
    elif rule == "url":
        v = "http://svc-%d.example.com:8080/health" % n
    elif rule == "email":
        v = "someone%d@example.com" % n
    elif rule == "ident":
        v = "ident-%d" % n
    elif rule == "is_regex":
        v = "^ok.*%d" % n
    elif rule == "hostport":
        v = "127.0.0.1:%d" % (20000 + n)
    elif rule == "cidr":
        v = "10.%d.0.0/16" % (n % 250)
    elif rule == "regex":
        v = next((c for c in REGEX_SAMPLES if re.fullmatch(f["pattern"], c)), None)
        if v is None:
            raise RuntimeError("no sample value matches pattern %r of field %s: add one to "
                             "REGEX_SAMPLES" % (f["pattern"], f["name"]))
        return v
    else:
        v = "%s-%d" % (f["name"], n)
    lo, hi = int(f.get("min", 0)), int(f.get("max", 200))
    if f["type"] == "password":
        v = "pw-%d-correct-horse-battery" % n
    if len(v) < lo:
        v += "x" * (lo - len(v))
    return v[:hi]


def field_value(f, n, model):
    """A valid value for field f, or None to leave it out."""
    t = f["type"]
    if f.get("readonly"):
        return None
    if t in ("string", "text", "password"):
        return string_value(f, n)
    if t in ("int", "number"):
        v = f.get("min", 1)
        v = max(v, 1) if f.get("max", 2) >= 1 else v
        return int(v) if t == "int" else float(v) + 0.5
    if t == "bool":
        return not f.get("default", False)
    if t == "enum":
        return f["values"][0]
    if t in ("ref", "refs"):
        if f["ref"] == model or not LIVE.get(f["ref"]):
            return None  # no self references in generated objects
        return LIVE[f["ref"]][0] if t == "ref" else [LIVE[f["ref"]][0]]
    if t == "tags":
        return [string_value(f, n), string_value(f, n + 100000)] if f.get("rule") != "regex" \
            else [string_value(f, n)]
    if t == "object":
        return {"key": "value-%d" % n}
    if t == "time":
        return None  # filled in field order below, so later times are later
    if t == "duration":
        if "default" in f:
            return f["default"]
        lo, hi = f.get("min", 0), f.get("max", 10 ** 12)
        return fmt_duration(int(min(max(60000, lo), hi)))
    raise RuntimeError("field %s has a type this test does not know: %s" % (f["name"], t))


def settings_value(case_fields, n):
    return {sf["name"]: field_value(sf, n, None) for sf in case_fields
            if field_value(sf, n, None) is not None}


def build(m, variant=None, n=None):
    """A valid object of model m; variant picks the case of its settings (default: the value
    of the `by` field, the enum's first value)."""
    n = n or nxt()
    o = {}
    hours = 0
    for f in m["fields"]:
        if f["type"] == "object" and f.get("variants"):
            continue
        if f["type"] == "time" and not f.get("readonly"):
            hours += 1
            o[f["name"]] = (BASE_TIME + timedelta(hours=hours + n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            continue
        v = field_value(f, n, m["name"])
        if v is not None:
            o[f["name"]] = v
    for f in m["fields"]:
        if f.get("variants"):
            by = f["variants"]["by"]
            if variant:
                o[by] = variant
            o[f["name"]] = settings_value(f["variants"]["cases"][o[by]], n)
    return o


def same_value(f, sent, got):
    t = f["type"]
    if t == "refs":
        return sorted(set(sent)) == got
    if t == "time":
        return got is not None and abs(parse_time(sent) - parse_time(got)) < 0.001
    if t == "duration":
        return got is not None and parse_duration(sent) == parse_duration(got)
    if t == "number":
        return abs(sent - got) < 1e-9
    if t == "object" and f.get("variants"):
        return all(got.get(k) == v for k, v in sent.items())
    return sent == got


# ------------------------------------------------------------------ CRUD for every model
created = []  # (model, id, object) in creation order
for m in MODELS:
    name = m["name"]
    body = build(m)
    r = req("POST", "/" + name, body)
    ok = check("%s: create: 201 with ETag \"1\"" % name,
               r.status == 201 and r.headers.get("ETag") == '"1"' and r.data and
               r.data.get("version") == 1, r)
    if not ok:
        continue
    obj = r.data
    LIVE.setdefault(name, []).append(obj["id"])
    created.append((m, obj["id"], obj))
    bad = [f["name"] for f in m["fields"] if f["name"] in body and f["type"] != "password" and
           not same_value(f, body[f["name"]], obj.get(f["name"]))]
    check("%s: create answers the sent values" % name, not bad,
          "differ: %s" % ", ".join("%s sent %r got %r" % (k, body[k], obj.get(k)) for k in bad))
    check("%s: create answers id, created_at, updated_at" % name,
          isinstance(obj.get("id"), int) and obj.get("created_at") and obj.get("updated_at"), obj)
    r = req("GET", "/%s/%d" % (name, obj["id"]))
    shown = {k: v for k, v in obj.items() if k != "secret"}  # token: the secret only once
    check("%s: get: 200, ETag \"1\", the same object" % name,
          r.status == 200 and r.headers.get("ETag") == '"1"' and r.data == shown, r)
    sf = next((f for f in m["fields"] if f["type"] == "string" and f["name"] in body), None)
    if check("%s: has a string field to filter on" % name, sf is not None):
        r = req("GET", "/%s%s" % (name, qs(**{sf["name"]: body[sf["name"]]})))
        check("%s: list ?%s=<value>: only that object, total 1" % (name, sf["name"]),
              r.status == 200 and r.json.get("total") == 1 and
              [o["id"] for o in r.data] == [obj["id"]], r)
    r = req("GET", "/" + name)
    check("%s: list without filters: total counts every object" % name,
          r.status == 200 and r.json.get("total") == len(r.data) >= 1 and
          obj["id"] in [o["id"] for o in r.data], r)
    # A change that stays valid: a free-text field, else a boolean.
    cf = next((f for f in m["fields"] if f["type"] in ("string", "text") and not f.get("rule")
               and not f.get("readonly") and f.get("max", 200) >= 30), None)
    if cf:
        change = {cf["name"]: "changed-%d" % nxt()}
    else:
        cf = next((f for f in m["fields"] if f["type"] == "bool" and not f.get("readonly")), None)
        change = {cf["name"]: not obj[cf["name"]]} if cf else {}
    if not check("%s: has a field to change" % name, bool(change)):
        continue
    r = req("PATCH", "/%s/%d" % (name, obj["id"]), change, headers={"If-Match": '"1"'})
    ok = check("%s: PATCH with If-Match \"1\": 200, version 2, ETag \"2\", field changed" % name,
               r.status == 200 and r.headers.get("ETag") == '"2"' and r.data and
               r.data.get("version") == 2 and r.data.get(cf["name"]) == change[cf["name"]], r)
    if ok:
        created[-1] = (m, obj["id"], r.data)
    r = req("PATCH", "/%s/%d" % (name, obj["id"]), change, headers={"If-Match": '"1"'})
    check("%s: PATCH with a stale If-Match: 409 conflict naming both versions" % name,
          r.status == 409 and r.json.get("errorType") == "conflict" and
          "changed by someone else" in r.json.get("error", "") and
          "version 2" in r.json.get("error", "") and "sent 1" in r.json.get("error", ""), r)
    r = req("GET", "/%s/%d" % (name, obj["id"]))
    check("%s: the refused update changed nothing (version 2)" % name,
          r.status == 200 and r.data.get("version") == 2, r)

# ------------------------------------------------------------------ defaults, from the schema
# A field with a default may be left out, required or not (top-level and in settings): the
# object gets the default.
def variant_cases(m):
    """The settings cases of m ([None] without variants)."""
    vf = next((f for f in m["fields"] if f.get("variants")), None)
    return list(vf["variants"]["cases"]) if vf else [None]


for m in MODELS:
    if m["name"] not in LIVE:
        continue
    for case in variant_cases(m):
        body = build(m, variant=case)
        want = {}
        for f in m["fields"]:
            if "default" in f and not f.get("readonly") and f["name"] in body:
                want[f["name"]] = f["default"]
                del body[f["name"]]
            for sf in (f.get("variants") or {}).get("cases", {}).get(case, []):
                if "default" in sf:
                    want["%s.%s" % (f["name"], sf["name"])] = sf["default"]
                    body[f["name"]].pop(sf["name"], None)
        if not want:
            continue
        r = req("POST", "/" + m["name"], body)
        got = {}
        if r.status == 201:
            for k in want:
                top, _, sub = k.partition(".")
                got[k] = r.data.get(top, {}).get(sub) if sub else r.data.get(top)
            req("DELETE", "/%s/%d" % (m["name"], r.data["id"]))
        bad = [k for k in want if not (got.get(k) == want[k] or (
            isinstance(want[k], str) and parse_duration(want[k]) is not None and
            isinstance(got.get(k), str) and parse_duration(got[k]) == parse_duration(want[k])))]
        check("%s%s: omitted fields get their defaults (%s)" %
              (m["name"], " type " + case if case else "", ", ".join(sorted(want))),
              r.status == 201 and not bad, r if r.status != 201 else
              "; ".join("%s: want %r got %r" % (k, want[k], got.get(k)) for k in bad))

# ------------------------------------------------------------------ validation, from the schema


def expect_422(label, model, body, key, want=None):
    r = req("POST", "/" + model, body)
    errs = r.errors()
    msg = errs.get(key)
    ok = check("%s: 422 with errors[%r]%s" % (label, key, " (%s)" % want if want else ""),
               r.status == 422 and r.json.get("errorType") == "validation" and
               isinstance(msg, str) and len(msg) >= 5 and (not want or want in msg) and
               re.search(r"\d+ fields? (is|are) invalid", r.json.get("error", "")), r)
    if r.status == 201:  # keep the catalog as the rest of the test expects it
        req("DELETE", "/%s/%d" % (model, r.data["id"]))
    return ok


def too_small(f):
    t, lo = f["type"], f.get("min")
    if lo is None:
        return None
    if t in ("int", "number"):
        return int(lo) - 1 if t == "int" else lo - 0.5
    if t in ("string", "text", "password") and lo >= 2:
        return "x" * (int(lo) - 1)
    if t == "duration" and lo >= 2:
        return fmt_duration(int(lo) - 1)
    return None


def too_big(f):
    t, hi = f["type"], f.get("max")
    if hi is None:
        return None
    if t in ("int", "number"):
        return int(hi) + 1
    if t in ("string", "text", "password"):
        return "x" * (int(hi) + 1)
    if t == "duration":
        return fmt_duration(int(hi) + 1000)
    return None


BAD_RULE = {"hostname": "not a host!", "address": "no such address!", "url": "ftp://example.com/x",
            "email": "not-an-email", "ident": "-not an ident", "is_regex": "(unclosed",
            "hostport": "no-port-here", "cidr": "10.0.0.0/99", "regex": "!! matches nothing !!"}
WANT_RULE = {"hostname": "host name", "address": "address", "url": "URL", "email": "e-mail",
             "ident": "letters", "is_regex": "regular expression", "hostport": "HOST:PORT",
             "cidr": "CIDR", "regex": "must match"}


def bad_values(f):
    """(rule kind, bad value or the marker OMIT, expected message part) for every rule of f."""
    out = []
    if f.get("required"):
        out.append(("required", None if "default" in f else "OMIT", "required"))
    if too_small(f) is not None:
        out.append(("min", too_small(f), "at least"))
    if too_big(f) is not None:
        out.append(("max", too_big(f), "at most"))
    if f["type"] == "enum":
        out.append(("enum", "no-such-value", "must be one of"))
    if f.get("rule"):
        v = BAD_RULE.get(f["rule"])
        if f["rule"] == "regex":
            v = next((c for c in (v, "x y", "\u00e9") if not re.fullmatch(f["pattern"], c)), None)
        if v is not None:
            out.append(("rule " + f["rule"], [v] if f["type"] == "tags" else v,
                        WANT_RULE[f["rule"]]))
    if f["type"] in ("ref", "refs") and f.get("ref") in LIVE:
        out.append(("ref to a missing %s" % f["ref"], 987654 if f["type"] == "ref" else [987654],
                    "%s 987654 does not exist" % f["ref"]))
    return out


WRONG_TYPE = {"string": 12345, "text": 12345, "password": 1234567890123, "int": "12",
              "number": "1.5", "bool": "yes", "enum": 1, "ref": "1", "refs": 1, "tags": "a",
              "object": [1], "time": 12345, "duration": 30}
done, done_nested, done_types = set(), set(), set()
for m in MODELS:
    if m["name"] not in LIVE:
        continue  # its create failed above; reported there
    for f in m["fields"]:
        if f.get("readonly"):
            continue
        for kind, v, want in bad_values(f):
            if kind in done:
                continue
            done.add(kind)
            body = build(m)
            if v == "OMIT":
                body.pop(f["name"], None)
            else:
                body[f["name"]] = v
            expect_422("invalid %s (%s.%s)" % (kind, m["name"], f["name"]), m["name"], body,
                       f["name"], want)
        if f["type"] not in done_types and f["type"] in WRONG_TYPE:
            done_types.add(f["type"])
            body = build(m)
            body[f["name"]] = WRONG_TYPE[f["type"]]
            expect_422("wrong JSON type for a %s field (%s.%s = %s)" %
                       (f["type"], m["name"], f["name"], json.dumps(WRONG_TYPE[f["type"]])),
                       m["name"], body, f["name"])
        # Settings of each variant: their rules, an unknown key, a missing required setting.
        for case, sfields in (f.get("variants") or {}).get("cases", {}).items():
            for sf in sfields:
                for kind, v, want in bad_values(sf):
                    if kind == "required":
                        kind = "missing required setting"
                    if kind in done_nested:
                        continue
                    done_nested.add(kind)
                    body = build(m, variant=case)
                    if v == "OMIT" or kind == "missing required setting":
                        body[f["name"]].pop(sf["name"], None)
                    else:
                        body[f["name"]][sf["name"]] = v
                    expect_422("settings: %s (%s type %s, %s)" % (kind, m["name"], case,
                                                                   sf["name"]),
                               m["name"], body, "%s.%s" % (f["name"], sf["name"]), want)
            if "unknown setting" not in done_nested:
                done_nested.add("unknown setting")
                body = build(m, variant=case)
                body[f["name"]]["no_such_setting"] = 1
                expect_422("settings: unknown key (%s type %s)" % (m["name"], case), m["name"],
                           body, "%s.no_such_setting" % f["name"], "unknown setting")
used_rules = {f["rule"] for m in MODELS for top in m["fields"]
              for f in [top] + [sf for c in (top.get("variants") or {}).get("cases", {}).values()
                                for sf in c] if f.get("rule")}
check("every rule in the schema was tried with a bad value",
      used_rules <= {k[5:] for k in done | done_nested if k.startswith("rule ")},
      "untried: %s" % sorted(used_rules - {k[5:] for k in done | done_nested}))
for rule in sorted(set(BAD_RULE) - used_rules):
    print("  # rule %s: no field in the schema uses it" % rule)
# Dotted-decimal names that are no IPv4 address are no host names either (RFC 1123 2.1).
for rule in ("address", "hostname"):
    m, f = next(((m, f) for m in MODELS for f in m["fields"] if f.get("rule") == rule and
                 m["name"] in LIVE), (None, None))
    if m:
        body = build(m)
        body[f["name"]] = "999.999.999.999"
        expect_422("rule %s rejects 999.999.999.999 (%s.%s)" % (rule, m["name"], f["name"]),
                   m["name"], body, f["name"], WANT_RULE[rule])
first = MODELS[0]["name"]
body = build(MODELS[0])
body["no_such_field"] = 1
expect_422("unknown field (%s)" % first, first, body, "no_such_field", "unknown field")

# ------------------------------------------------------------------ malformed requests
r = req("POST", "/device", raw=b'{"name": "x",')
check("malformed JSON body: 400 bad_data with the position",
      r.status == 400 and r.json.get("errorType") == "bad_data" and "not valid JSON" in
      r.json.get("error", "") and "column" in r.json.get("error", ""), r)
r = req("POST", "/device", raw=b'["name"]')
check("body not an object: 400", r.status == 400 and "JSON object" in r.json.get("error", ""), r)
r = req("PATCH", "/device/%d" % LIVE["device"][0], raw=b'"x"')
check("PATCH body not an object: 400", r.status == 400, r)
r = req("GET", "/no_such_model")
check("unknown model: 404", r.status == 404 and r.json.get("errorType") == "not_found", r)
r = req("POST", "/no_such_model", {"name": "x"})
check("POST to an unknown model: 404", r.status == 404, r)
r = req("GET", "/device/abc")
check("non-numeric id: 404 naming it", r.status == 404 and "abc" in r.json.get("error", ""), r)
r = req("GET", "/device/987654")
check("missing id: 404 \"device 987654 does not exist\"",
      r.status == 404 and r.json.get("error") == "device 987654 does not exist", r)
r = req("PATCH", "/device/987654", {"notes": "x"})
check("PATCH of a missing id: 404", r.status == 404, r)
r = req("DELETE", "/device/987654")
check("DELETE of a missing id: 404", r.status == 404, r)
r = req("PATCH", "/device/%d" % LIVE["device"][0], {"notes": "x"}, headers={"If-Match": "bogus"})
check("malformed If-Match: 400", r.status == 400, r)
dev = build(BYNAME["device"])
r = req("POST", "/device", dev)
dup = r.data["id"] if r.status == 201 else None
r = req("POST", "/device", dev)
check("duplicate unique name: 422 errors.name \"already used\"",
      r.status == 422 and "already used" in r.errors().get("name", ""), r)
r = req("PATCH", "/device/%d" % dup, {"notes": "by body version", "version": 7})
check("update with a stale \"version\" in the body: 409", r.status == 409, r)
r = req("PATCH", "/device/%d" % dup, {"notes": "last writer wins"})
check("update without If-Match or version applies (version 2)",
      r.status == 200 and r.data.get("version") == 2, r)
r = req("PUT", "/device/%d" % dup, {"notes": "put"}, headers={"If-Match": '"2"'})
check("PUT works like PATCH (version 3)", r.status == 200 and r.data.get("version") == 3, r)

# ------------------------------------------------------------------ on_delete, from the schema
# For every reference: an object of the referenced model, an object pointing at it, then the
# delete of the referenced one: restrict refuses (409 "still referenced"), cascade deletes the
# referencing object (ref) or drops the link (refs), set_null empties the field.
for m in MODELS:
    for f in m["fields"]:
        if f["type"] not in ("ref", "refs") or f.get("readonly") or m["name"] not in LIVE:
            continue
        t, od = f["ref"], f.get("on_delete")
        label = "on_delete %s: %s.%s -> %s" % (od, m["name"], f["name"], t)
        r = req("POST", "/" + t, build(BYNAME[t]))
        tid = r.data["id"] if r.status == 201 else None
        body = build(m)
        body[f["name"]] = tid if f["type"] == "ref" else [tid]
        r2 = req("POST", "/" + m["name"], body) if tid else r
        if not check("%s: both objects created" % label, r.status == 201 and r2.status == 201,
                     "%s / %s" % (r, r2)):
            continue
        mid = r2.data["id"]
        r = req("DELETE", "/%s/%d" % (t, tid))
        after = req("GET", "/%s/%d" % (m["name"], mid))
        if od == "restrict":
            check("%s: deleting the %s: 409 \"still referenced\" naming %s" % (label, t, m["name"]),
                  r.status == 409 and r.json.get("errorType") == "conflict" and
                  "still referenced" in r.json.get("error", "") and
                  m["name"] in r.json.get("error", ""), r)
            check("%s: the %s is still there" % (label, t),
                  req("GET", "/%s/%d" % (t, tid)).status == 200)
            req("DELETE", "/%s/%d" % (m["name"], mid))
            r = req("DELETE", "/%s/%d" % (t, tid))
            check("%s: once the %s is gone the %s can be deleted" % (label, m["name"], t),
                  r.status == 200, r)
        elif od == "cascade" and f["type"] == "ref":
            check("%s: deleting the %s: 200" % (label, t), r.status == 200, r)
            check("%s: the %s went with it (404)" % (label, m["name"]), after.status == 404, after)
        elif od in ("cascade", "set_null") and f["type"] == "refs":
            check("%s: deleting the %s: 200" % (label, t), r.status == 200, r)
            check("%s: the %s stays, without the link" % (label, m["name"]),
                  after.status == 200 and tid not in after.data.get(f["name"], [tid]), after)
        elif od == "set_null":
            check("%s: deleting the %s: 200" % (label, t), r.status == 200, r)
            check("%s: the %s stays with %s null" % (label, m["name"], f["name"]),
                  after.status == 200 and after.data.get(f["name"], 0) is None, after)
        else:
            check("%s: a known on_delete" % label, False, od)
        req("DELETE", "/%s/%d" % (m["name"], mid))
        req("DELETE", "/%s/%d" % (t, tid))

# ------------------------------------------------------------------ list parameters
names = ["pg-%02d" % i for i in range(1, 8)]
ids = {}
for i, nm in enumerate(names):
    body = build(BYNAME["device"])
    body.update(name=nm, tags=["pgtest", "odd" if i % 2 == 0 else "even"],
                location="Rack-Q%d" % i)
    r = req("POST", "/device", body)
    ids[nm] = r.data["id"] if r.status == 201 else None
check("7 devices for the list checks created", all(ids.values()), ids)
r = req("GET", "/device" + qs(tags="pgtest", limit=3, offset=0, sort="name"))
check("paging: limit=3 gives 3 rows, total 7, limit and offset echoed",
      r.status == 200 and [o["name"] for o in r.data] == names[:3] and r.json["total"] == 7 and
      r.json["limit"] == 3 and r.json["offset"] == 0, r)
r = req("GET", "/device" + qs(tags="pgtest", limit=3, offset=3, sort="name"))
check("paging: offset=3 gives the next 3", r.status == 200 and
      [o["name"] for o in r.data] == names[3:6] and r.json["total"] == 7, r)
r = req("GET", "/device" + qs(tags="pgtest", limit=3, offset=6, sort="name"))
check("paging: the last page has 1 row", r.status == 200 and
      [o["name"] for o in r.data] == names[6:] and r.json["total"] == 7, r)
r = req("GET", "/device" + qs(tags="pgtest", offset=100))
check("paging: an offset past the end: empty, total 7",
      r.status == 200 and r.data == [] and r.json["total"] == 7, r)
r = req("GET", "/device" + qs(tags="pgtest", sort="-name"))
check("sort=-name: descending", r.status == 200 and
      [o["name"] for o in r.data] == sorted(names, reverse=True), r)
r = req("GET", "/device" + qs(tags="pgtest", sort="name"))
check("sort=name: ascending", r.status == 200 and [o["name"] for o in r.data] == names, r)
r = req("GET", "/device" + qs(q="rack-q4"))
check("q= searches string fields case-insensitively", r.status == 200 and
      [o["name"] for o in r.data] == ["pg-05"] and r.json["total"] == 1, r)
r = req("GET", "/device" + qs(q="nothing-has-this-text"))
check("q= with no match: empty", r.status == 200 and r.data == [] and r.json["total"] == 0, r)
r = req("GET", "/device" + qs(tags="even"))
check("tags filter (contains)", r.status == 200 and
      sorted(o["name"] for o in r.data) == names[1::2], r)
r = req("GET", "/device" + qs(tags="pgtest", name="pg-0*"))
check("glob filter name=pg-0*", r.status == 200 and r.json["total"] == 7, r)
r = req("GET", "/device" + qs(sort="no_such_field"))
check("invalid sort field: 400 naming it", r.status == 400 and
      "no_such_field" in r.json.get("error", ""), r)
r = req("GET", "/device" + qs(limit=5000))
check("limit=5000: 400", r.status == 400 and r.json.get("errorType") == "bad_data", r)
r = req("GET", "/device" + qs(limit=1000))
check("limit=1000: allowed", r.status == 200 and r.json.get("limit") == 1000, r)
r = req("GET", "/device" + qs(limit="x"))
check("limit=x: 400", r.status == 400, r)
r = req("GET", "/device" + qs(no_such_field="1"))
check("filter on an unknown field: 400", r.status == 400, r)
for i in ids.values():
    if i:
        req("DELETE", "/device/%d" % i)

# ------------------------------------------------------------------ audit log
r = req("GET", "/audit" + qs(limit=1))
check("audit: GET /api/v1/audit: 200", r.status == 200 and r.data, r)
last_audit = r.data[0]["id"] if r.data else 0
body = build(BYNAME["device"])
body["location"] = "rack 1"
r = req("POST", "/device", body)
aid = r.data["id"] if r.status == 201 else 0
req("PATCH", "/device/%d" % aid, {"location": "rack 2"})
req("DELETE", "/device/%d" % aid)
r = req("GET", "/audit" + qs(model="device", object=aid))
# Only this object's entries (an earlier device may have had the same id: see below).
rows = [e for e in r.data or [] if e.get("id", 0) > last_audit]
acts = {e.get("action"): e for e in rows}
check("audit: create, update and delete of the device, newest first",
      r.status == 200 and [e.get("action") for e in rows] == ["delete", "update", "create"], r)
check("audit: every entry by actor \"admin.token\" with model, object and time",
      rows and all(e.get("actor") == "admin.token" and e.get("model") == "device" and
                   e.get("object") == aid and e.get("ts") for e in rows), rows)
check("audit: create records the new values ([null, value])",
      acts.get("create", {}).get("changes", {}).get("name") == [None, body["name"]] and
      acts["create"]["changes"].get("location") == [None, "rack 1"], acts.get("create"))
check("audit: update records before and after of the changed field only",
      acts.get("update", {}).get("changes") == {"location": ["rack 1", "rack 2"]},
      acts.get("update"))
check("audit: delete records the old values ([value, null])",
      acts.get("delete", {}).get("changes", {}).get("location") == ["rack 2", None] and
      acts["delete"]["changes"].get("name") == [body["name"], None], acts.get("delete"))
r = req("POST", "/device", build(BYNAME["device"]))
check("ids are not reused: a device created after deleting the newest one gets a new id "
      "(else the audit log of object=ID mixes two objects)",
      r.status == 201 and r.data["id"] > aid, "deleted id %d, new id %s" % (aid, r.data and
                                                                           r.data.get("id")))
if r.status == 201:
    req("DELETE", "/device/%d" % r.data["id"])
r = req("GET", "/audit" + qs(actor="admin.token", limit=2))
check("audit: actor filter and limit", r.status == 200 and len(r.data) == 2 and
      r.json["total"] >= 3 and all(e["actor"] == "admin.token" for e in r.data), r)
r = req("GET", "/audit" + qs(object="x"))
check("audit: bad object id: 400", r.status == 400, r)

# ------------------------------------------------------------------ passwords are never shown
seen = []
pw = "Secret-Pass-%d-xyz" % nxt()
ubody = build(BYNAME["user"])
ubody.update(password=pw, disabled=False)
r = req("POST", "/user", ubody)
seen.append(r)
uid = r.data["id"] if r.status == 201 else 0
check("user with a password created", r.status == 201, r)
pw2 = "Other-Pass-%d-xyz" % nxt()
seen.append(req("PATCH", "/user/%d" % uid, {"password": pw2}))
seen.append(req("GET", "/user/%d" % uid))
seen.append(req("GET", "/user"))
seen.append(req("GET", "/audit" + qs(model="user", object=uid)))
check("password: not a field of user answers",
      all("password" not in (o or {}) for o in [seen[0].data, seen[1].data, seen[2].data]) and
      all("password" not in o for o in seen[3].data or []), seen[2])
check("password: neither the password nor its hash appears in any answer",
      not any(p in s.text for s in seen for p in (pw, pw2, "$argon2")),
      [s.text[:200] for s in seen])
au = {e["action"]: e["changes"] for e in seen[4].data or []}
check("password: the audit log shows \"***\"",
      au.get("create", {}).get("password") == [None, "***"] and
      au.get("update", {}).get("password") == ["***", "***"], au)
r = req("GET", "/user" + qs(password=pw))
check("password: cannot filter by it (400)", r.status == 400, r)
r = req("GET", "/user" + qs(sort="password"))
check("password: cannot sort by it (400)", r.status == 400, r)
r = req("GET", "/user" + qs(q="argon2"))
check("password: q= does not search the hashes", r.status == 200 and r.json["total"] == 0, r)
login = urllib.request.Request(URL + "/auth/login", method="POST",
                               data=json.dumps({"username": ubody["name"],
                                                "password": pw2}).encode())
try:
    with urllib.request.urlopen(login, timeout=30) as f:
        st = f.status
except urllib.error.HTTPError as e:
    st = e.code
check("password: the changed password logs in", st == 200, st)
req("DELETE", "/user/%d" % uid)

# ------------------------------------------------------------------ token secrets
r = req("POST", "/token", {"name": "ci-viewer", "role": "viewer"})
secret = (r.data or {}).get("secret", "")
tid = (r.data or {}).get("id", 0)
check("token create: data.secret starts with ddt_",
      r.status == 201 and secret.startswith("ddt_") and len(secret) > 20, r)
check("token create: prefix is the secret's start",
      r.data and r.data.get("prefix") == secret[:8], r)
r = req("GET", "/auth/me", token=secret)
check("the secret works as a bearer token (role viewer)",
      r.status == 200 and r.data.get("role") == "viewer", r)
r = req("GET", "/device", token=secret)
check("the secret reads devices", r.status == 200, r)
r = req("GET", "/token/%d" % tid)
check("a later GET of the token has no secret (and no hash)",
      r.status == 200 and "secret" not in r.data and "hash" not in r.data and
      secret not in r.text, r)
r = req("GET", "/token")
check("the token list has no secrets", r.status == 200 and secret not in r.text and
      all("secret" not in o and "hash" not in o for o in r.data), r)
r = req("GET", "/token" + qs(hash="0" * 64))
check("tokens cannot be filtered by their hash (400)", r.status == 400, r)
r = req("GET", "/audit" + qs(model="token", object=tid))
check("the audit log has no token secret", r.status == 200 and secret not in r.text and
      secret[4:] not in r.text, r)
req("DELETE", "/token/%d" % tid)
r = req("GET", "/auth/me", token=secret)
check("a deleted token no longer works (401)", r.status == 401, r)

# ------------------------------------------------------------------ delete everything created
for m, oid, obj in reversed(created):
    name = m["name"]
    r = req("DELETE", "/%s/%d" % (name, oid))
    check("%s: delete: 200 with the id" % name,
          r.status == 200 and r.data == {"id": oid}, r)
    r = req("GET", "/%s/%d" % (name, oid))
    check("%s: get after delete: 404 \"%s %d does not exist\"" % (name, name, oid),
          r.status == 404 and r.json.get("error") == "%s %d does not exist" % (name, oid), r)
    r = req("DELETE", "/%s/%d" % (name, oid))
    check("%s: second delete: 404" % name, r.status == 404, r)
sys.exit(min(fails, 100))
PY
IT_FAILS=$((IT_FAILS + $?))
check "server process alive after all requests" kill -0 "$srv_PID"
check "server still ready" curl -sf -o /dev/null "$url/-/ready"
check "server stops cleanly on SIGTERM (exit 0, no sanitizer report)" stopped_cleanly srv
it_done
