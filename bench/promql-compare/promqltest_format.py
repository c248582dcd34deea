"""Reader for promqltest scripts (the format of Prometheus's promql/promqltest), shared by
check_scripts.py. Python 3 standard library only.

Only float samples are supported (no native histograms), which is all dashdot's scripts use.
"""
import math
import re

STALE_NAN_BITS = 0x7FF0000000000002

DUR_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DUR_RE = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_duration(s):
    """Prometheus duration ("1h30m", "0", "90s") -> seconds (float)."""
    s = s.strip()
    if s == "0":
        return 0.0
    neg = s.startswith("-")
    if neg:
        s = s[1:]
    pos = 0
    total = 0.0
    for m in _DUR_RE.finditer(s):
        if m.start() != pos:
            raise ValueError("bad duration %r" % s)
        total += int(m.group(1)) * DUR_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError("bad duration %r" % s)
    return -total if neg else total


def parse_number(tok):
    t = tok.strip()
    low = t.lower()
    if low in ("nan", "+nan", "-nan"):
        return math.nan
    if low in ("inf", "+inf"):
        return math.inf
    if low == "-inf":
        return -math.inf
    if low.startswith(("0x", "-0x", "+0x")):
        return float(int(t, 16))
    return float(t)


class Metric:
    """A label set, kept as a sorted tuple of (name, value)."""

    @staticmethod
    def parse(text):
        """Parses `name{a="b",...}` / `{...}` / `name` at the start of text.
        Returns (labels dict, rest of text)."""
        text = text.strip()
        labels = {}
        i = 0
        m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text)
        if m and (len(text) == m.end() or text[m.end()] in "{ \t"):
            labels["__name__"] = m.group(0)
            i = m.end()
        if i < len(text) and text[i] == "{":
            i += 1
            while True:
                while i < len(text) and text[i] in " \t,":
                    i += 1
                if i >= len(text):
                    raise ValueError("unterminated label set: %r" % text)
                if text[i] == "}":
                    i += 1
                    break
                if text[i] in "\"'":  # quoted label name, or a quoted metric name
                    name, i = _read_string(text, i)
                    j = i
                    while j < len(text) and text[j] in " \t":
                        j += 1
                    if j < len(text) and text[j] in ",}":
                        labels["__name__"] = name
                        i = j
                        continue
                else:
                    m = re.match(r"[a-zA-Z_][a-zA-Z0-9_]*", text[i:])
                    if not m:
                        raise ValueError("bad label name in %r" % text)
                    name = m.group(0)
                    i += m.end()
                while i < len(text) and text[i] in " \t":
                    i += 1
                if text[i] != "=":
                    raise ValueError("expected = in %r" % text)
                i += 1
                while i < len(text) and text[i] in " \t":
                    i += 1
                val, i = _read_string(text, i)
                labels[name] = val
        return labels, text[i:]


_ESC = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r", "a": "\a", "b": "\b",
        "f": "\f", "v": "\v"}


def _read_string(text, i):
    q = text[i]
    if q not in "\"'`":
        raise ValueError("expected a quoted string at %r" % text[i:])
    i += 1
    out = []
    while i < len(text):
        c = text[i]
        if c == q:
            return "".join(out), i + 1
        if c == "\\" and q != "`":
            i += 1
            e = text[i]
            if e in _ESC:
                out.append(_ESC[e])
            elif e == "u":
                out.append(chr(int(text[i + 1:i + 5], 16)))
                i += 4
            elif e == "x":
                out.append(chr(int(text[i + 1:i + 3], 16)))
                i += 2
            else:
                out.append(e)
        else:
            out.append(c)
        i += 1
    raise ValueError("unterminated string in %r" % text)


STALE = "stale"
OMIT = None


def expand_values(text):
    """Expanding notation -> list of float | STALE | OMIT (None)."""
    out = []
    for tok in text.split():
        if tok == "_":
            out.append(OMIT)
            continue
        m = re.fullmatch(r"_x(\d+)", tok)
        if m:
            out.extend([OMIT] * int(m.group(1)))
            continue
        if tok == "stale":
            out.append(STALE)
            continue
        m = re.fullmatch(r"([-+]?[^x+\-]+(?:e[-+]?\d+)?)([+-])([^x]+)x(\d+)", tok)
        if m and not tok.lower().startswith(("0x", "-0x")):
            a = parse_number(m.group(1))
            b = parse_number(m.group(3))
            if m.group(2) == "-":
                b = -b
            n = int(m.group(4))
            out.extend(a + b * k for k in range(n + 1))
            continue
        m = re.fullmatch(r"([-+]?[^x]+)x(\d+)", tok)
        if m and not tok.lower().startswith(("0x", "-0x")):
            a = parse_number(m.group(1))
            out.extend([a] * (int(m.group(2)) + 1))
            continue
        out.append(parse_number(tok))
    return out


def parse_series_line(line):
    labels, rest = Metric.parse(line)
    return labels, expand_values(rest)


_EVAL_INSTANT = re.compile(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
_EVAL_RANGE = re.compile(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
_EXPECT = re.compile(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
_EXPECT_RANGE = re.compile(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")


class Load:
    def __init__(self, line, interval):
        self.line = line
        self.interval = interval
        self.series = []  # (labels, values)


class Clear:
    def __init__(self, line):
        self.line = line


class Eval:
    def __init__(self, line, text):
        self.line = line
        self.text = text
        self.kind = "instant"
        self.at = 0.0
        self.start = self.end = self.step = 0.0
        self.expr = ""
        self.fail = False
        self.ordered = False
        self.warn = False
        self.info = False
        self.expect_msgs = []
        self.scalar = None
        self.string = None
        self.range_vector = None  # (start, end, step) for instant queries returning a matrix
        self.series = []  # (labels, values)
        self.comments = []  # comment lines directly above


def parse_script(text):
    raw = text.split("\n")
    lines = ["" if l.strip().startswith("#") else l.strip() for l in raw]

    def comments_above(i):
        out = []
        j = i - 1
        while j >= 0 and raw[j].strip().startswith("#"):
            out.insert(0, raw[j].strip())
            j -= 1
        return out

    cmds = []
    i = 0
    n = len(lines)
    while i < n:
        l = lines[i]
        if not l:
            i += 1
            continue
        word = l.split()[0].lower()
        if word == "clear":
            cmds.append(Clear(i + 1))
            i += 1
        elif word.startswith("load"):
            m = re.match(r"^load(?:_with_nhcb)?\s+(.+?)$", l)
            if not m:
                raise ValueError("line %d: bad load" % (i + 1))
            ld = Load(i + 1, parse_duration(m.group(1)))
            i += 1
            while i < n and lines[i]:
                ld.series.append(parse_series_line(lines[i]))
                i += 1
            cmds.append(ld)
        elif word.startswith("eval"):
            ev = Eval(i + 1, l)
            ev.comments = comments_above(i)
            m = _EVAL_INSTANT.match(l)
            mr = _EVAL_RANGE.match(l)
            if m:
                mod = m.group(1)
                ev.at = parse_duration(m.group(2) or "0")
                ev.expr = m.group(3)
            elif mr:
                mod = mr.group(1)
                ev.kind = "range"
                ev.start = parse_duration(mr.group(2))
                ev.end = parse_duration(mr.group(3))
                ev.step = parse_duration(mr.group(4))
                ev.expr = mr.group(5)
            else:
                raise ValueError("line %d: bad eval" % (i + 1))
            ev.fail = mod == "fail"
            ev.ordered = mod == "ordered"
            ev.warn = mod == "warn"
            ev.info = mod == "info"
            i += 1
            while i < n and lines[i]:
                d = lines[i]
                i += 1
                if d == "?":  # placeholder of a case being written
                    continue
                if ev.fail and d.startswith(("expected_fail_message", "expected_fail_regexp")):
                    ev.expect_msgs.append(d)
                    break
                mrv = _EXPECT_RANGE.match(d)
                if mrv:
                    ev.range_vector = (parse_duration(mrv.group(1)), parse_duration(mrv.group(2)),
                                       parse_duration(mrv.group(3)))
                    continue
                if d.startswith("expect string"):
                    ev.string = _read_string(d[len("expect string"):].strip(), 0)[0]
                    continue
                if d.split(" ")[0] == "expect":
                    me = _EXPECT.match(d)
                    if not me:
                        raise ValueError("line %d: bad expect line %r" % (i, d))
                    t = me.group(1)
                    if t == "fail":
                        ev.fail = True
                        if me.group(2):
                            ev.expect_msgs.append(d)
                    elif t == "ordered":
                        ev.ordered = True
                    elif t == "warn":
                        ev.warn = True
                    elif t == "info":
                        ev.info = True
                    continue
                try:
                    ev.scalar = parse_number(d)
                    break
                except ValueError:
                    pass
                labels, vals = parse_series_line(d)
                if ev.kind == "instant" and ev.range_vector is None and len(vals) > 1:
                    raise ValueError("line %d: several values in an instant eval" % i)
                ev.series.append((labels, vals))
            cmds.append(ev)
        else:
            raise ValueError("line %d: unknown command %r" % (i + 1, l))
    return cmds


def fmt_labels(labels):
    name = labels.get("__name__", "")
    rest = ", ".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
                     for k, v in sorted(labels.items()) if k != "__name__")
    return "%s{%s}" % (name, rest)


def values_equal(exp, got, rel=1e-5):
    if math.isnan(exp) or math.isnan(got):
        return math.isnan(exp) and math.isnan(got)
    if math.isinf(exp) or math.isinf(got):
        return exp == got
    if exp == got:
        return True
    diff = abs(exp - got)
    if abs(exp) < 1e-300 and abs(got) < 1e-300:
        return True
    return diff <= rel * max(abs(exp), abs(got)) or diff < 1e-12
