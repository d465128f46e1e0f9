#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Validate the tools' JSON output against the schemas of docs/json.md.

The schemas are read from the document's tables, so that the document and
this checker cannot drift: a key the tools print that the document does not
list, a listed key that is missing, a value of another type, a string
outside its list, or an unknown schema is an error.

usage: check_json_schema.py [--doc docs/json.md] [--pretty] [--schema NAME]...
                            [--seen FILE] FILE...
       check_json_schema.py [--doc docs/json.md] --list-schemas
       check_json_schema.py [--doc docs/json.md]

Each FILE ('-': standard input) holds JSON Lines, one document per line, or
with --pretty one (indented) document. --schema restricts the documents to
those schemas. --seen appends the schema of every valid document to FILE, one
a line (for a coverage check). Without FILE (as ctest runs it), a self-test:
for every schema of the document, an example built from its table must pass,
and the same example with a key missing, a key added or a value of the wrong
type must fail. Exit status: 0 all valid, 1 some document is
not, 2 bad usage or a malformed docs/json.md. Standard library only.
"""
import argparse
import json
import os
import re
import sys

SIMPLE = {"string", "integer", "signed integer", "number", "boolean", "null"}


class DocError(Exception):
    pass


def parse_type(text, where):
    """A type cell, backticks removed: a list of alternatives."""
    alts = []
    for alt in text.split(" or "):
        alts.append(parse_alt(alt.strip(), where))
    return alts


def parse_alt(t, where):
    if t in SIMPLE:
        return ("simple", t)
    if t.startswith("array of "):
        return ("array", parse_alt(t[len("array of "):].strip(), where))
    if t.startswith("one of "):
        items = [i.strip() for i in t[len("one of "):].split(",")]
        if not items or not all(re.fullmatch(r'"[^"]*"', i) for i in items):
            raise DocError("%s: 'one of' wants quoted strings: %r" % (where, t))
        return ("enum", [i[1:-1] for i in items])
    if re.fullmatch(r'"[^"]*"', t):
        return ("const", t[1:-1])
    m = re.fullmatch(r"object ([a-z_][a-z0-9_]*)", t)
    if m:
        return ("object", m.group(1))
    m = re.fullmatch(r"document (sevmig\.[a-z-]+/[0-9]+)", t)
    if m:
        return ("document", m.group(1))
    raise DocError("%s: unknown type %r" % (where, t))


def load_doc(path):
    """{name: {key: (alternatives, optional)}} for documents and objects,
    keys in table order; and the set of document names."""
    try:
        lines = open(path, encoding="utf-8").read().split("\n")
    except OSError as e:
        raise DocError("%s: %s" % (path, e))
    tables, documents = {}, set()
    current, in_table = None, False
    for n, line in enumerate(lines, 1):
        where = "%s:%d" % (path, n)
        h = re.match(r"^### (Object )?`([^`]+)`", line)
        if h:
            current = h.group(2)
            if current in tables:
                raise DocError("%s: %s is described twice" % (where, current))
            if h.group(1):
                if not re.fullmatch(r"[a-z_][a-z0-9_]*", current):
                    raise DocError("%s: bad object name %r" % (where, current))
            else:
                if not re.fullmatch(r"sevmig\.[a-z-]+/[0-9]+", current):
                    raise DocError("%s: bad schema name %r" % (where, current))
                documents.add(current)
            tables[current] = {}
            in_table = False
            continue
        if line.startswith("#"):
            current, in_table = None, False
            continue
        if current is None:
            continue
        if not line.startswith("|"):
            if in_table:
                current, in_table = None, False  # the table ended: prose follows
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:2] == ["key", "type"]:
            in_table = True
            continue
        if not in_table or set(cells[0]) <= set("-: "):
            continue
        if len(cells) != 4:
            raise DocError("%s: a schema row has 4 cells (key, type, unit, meaning)" % where)
        m = re.fullmatch(r"`([a-z_][a-z0-9_]*)`", cells[0])
        if not m:
            raise DocError("%s: bad key cell %r" % (where, cells[0]))
        key = m.group(1)
        if key in tables[current]:
            raise DocError("%s: key %s twice in %s" % (where, key, current))
        t = cells[1].replace("`", "")
        optional = t.endswith(", optional")
        if optional:
            t = t[: -len(", optional")]
        tables[current][key] = (parse_type(t, where), optional)
    for name, keys in tables.items():
        if not keys:
            raise DocError("%s: %s has no table of keys" % (path, name))
        if name in documents:
            first = next(iter(keys))
            if first != "schema" or keys["schema"] != ([("const", name)], False):
                raise DocError('%s: %s must start with `schema` of type `"%s"`'
                               % (path, name, name))
        for key, (alts, _) in keys.items():
            for alt in alts:
                check_ref(alt, tables, documents, "%s: %s.%s" % (path, name, key))
    return tables, documents


def check_ref(alt, tables, documents, where):
    kind, arg = alt
    if kind == "array":
        check_ref(arg, tables, documents, where)
    elif kind == "object" and (arg not in tables or arg in documents):
        raise DocError("%s: no object %s is described" % (where, arg))
    elif kind == "document" and arg not in documents:
        raise DocError("%s: no document %s is described" % (where, arg))


class Checker:
    def __init__(self, tables, documents):
        self.tables, self.documents = tables, documents

    @staticmethod
    def alt_ok_static(alt, v):
        """alt_ok without looking into containers."""
        kind = alt[0]
        if kind in ("object", "document"):
            return isinstance(v, dict)
        if kind == "array":
            return isinstance(v, list)
        return Checker.alt_ok(None, alt, v, "", [])

    def alt_ok(self, alt, v, path, errors):
        """True when v matches alt; errors inside a matching container are
        appended."""
        kind, arg = alt
        if kind == "simple":
            if arg == "string":
                return isinstance(v, str)
            if arg == "boolean":
                return isinstance(v, bool)
            if arg == "null":
                return v is None
            if arg == "number":
                return isinstance(v, (int, float)) and not isinstance(v, bool)
            if not isinstance(v, int) or isinstance(v, bool):
                return False
            if arg == "integer":
                return 0 <= v < 1 << 64
            return -(1 << 63) <= v < 1 << 63
        if kind == "const":
            return v == arg
        if kind == "enum":
            return isinstance(v, str) and v in arg
        if kind == "array":
            if not isinstance(v, list):
                return False
            for i, e in enumerate(v):
                if not self.alt_ok(arg, e, "%s[%d]" % (path, i), errors):
                    errors.append("%s[%d]: %s is not %s" % (path, i, short(e), describe(arg)))
            return True
        if kind in ("object", "document"):
            if not isinstance(v, dict):
                return False
            self.check_object(arg, v, path, errors)
            return True
        raise AssertionError(kind)

    def check_object(self, name, obj, path, errors):
        spec = self.tables[name]
        for key in obj:
            if key not in spec:
                errors.append("%s: key %r is not in %s (docs/json.md)" % (path, key, name))
        for key, (alts, optional) in spec.items():
            if key not in obj:
                if not optional:
                    errors.append("%s: %s lacks key %r" % (path, name, key))
                continue
            v = obj[key]
            sub = []
            if not any(self.alt_ok(a, v, "%s.%s" % (path, key), sub) for a in alts):
                errors.append("%s.%s: %s is not %s" % (
                    path, key, short(v), " or ".join(describe(a) for a in alts)))
            errors.extend(sub)

    def check_document(self, doc, allowed, errors):
        if not isinstance(doc, dict):
            errors.append("$: a document is an object, not %s" % short(doc))
            return None
        schema = doc.get("schema")
        if not isinstance(schema, str) or next(iter(doc), None) != "schema":
            errors.append('$: the first key must be "schema"')
            return None
        if schema not in self.documents:
            errors.append("$: unknown schema %r (not in docs/json.md)" % schema)
            return None
        if allowed and schema not in allowed:
            errors.append("$: schema %s here, expected %s" % (schema, " or ".join(allowed)))
        self.check_object(schema, doc, "$", errors)
        return schema


def describe(alt):
    kind, arg = alt
    if kind == "simple":
        return arg
    if kind == "const":
        return json.dumps(arg)
    if kind == "enum":
        return "one of " + ", ".join(json.dumps(a) for a in arg)
    if kind == "array":
        return "array of " + describe(arg)
    return "%s %s" % (kind, arg)


def short(v):
    s = json.dumps(v)
    return s if len(s) <= 60 else s[:57] + "..."


def example(alt, tables):
    """A value of type alt (the first alternative of each choice)."""
    kind, arg = alt
    if kind == "simple":
        return {"string": "s", "integer": 1, "signed integer": -1, "number": 0.5,
                "boolean": True, "null": None}[arg]
    if kind == "const":
        return arg
    if kind == "enum":
        return arg[-1]
    if kind == "array":
        return [example(arg, tables)]
    return {k: example(alts[0], tables) for k, (alts, _) in tables[arg].items()}


def wrong(alts):
    """A value that none of alts accepts."""
    for v in ({"x": 1}, [1], "s", 1.5, True, None):
        if not any(Checker.alt_ok_static(a, v) for a in alts):
            return v
    raise AssertionError(alts)


def self_test(tables, documents):
    checker = Checker(tables, documents)
    failures = 0
    for name in sorted(documents):
        doc = example(("document", name), tables)
        cases = [("the example", doc, True)]
        for key, (alts, optional) in tables[name].items():
            if not optional:
                cases.append(("without %s" % key, {k: v for k, v in doc.items() if k != key}, False))
            bad = dict(doc)
            bad[key] = wrong(alts)
            cases.append(("%s of the wrong type" % key, bad, False))
        cases.append(("with an undocumented key", dict(doc, undocumented_key=1), False))
        for what, d, want in cases:
            errors = []
            checker.check_document(json.loads(json.dumps(d)), [], errors)
            if (not errors) != want:
                print("self-test: %s %s: %s" % (name, what,
                      "refused: %s" % errors if want else "accepted"))
                failures += 1
    print("self-test: %d schemas, %s" % (len(documents), "failed" if failures else "ok"))
    return 1 if failures else 0


def strict_loads(text):
    def pairs(kv):
        d = {}
        for k, v in kv:
            if k in d:
                raise ValueError("duplicate key %r" % k)
            d[k] = v
        return d

    def constant(name):
        raise ValueError("%s is not JSON" % name)

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)


def main():
    ap = argparse.ArgumentParser(description="validate JSON output against docs/json.md")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--doc", default=os.path.join(here, "..", "..", "docs", "json.md"))
    ap.add_argument("--pretty", action="store_true", help="each FILE is one indented document")
    ap.add_argument("--schema", action="append", default=[], help="allowed schema (repeatable)")
    ap.add_argument("--seen", help="append each valid document's schema to this file")
    ap.add_argument("--list-schemas", action="store_true")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    try:
        tables, documents = load_doc(a.doc)
    except DocError as e:
        print("check_json_schema: %s" % e, file=sys.stderr)
        return 2
    if a.list_schemas:
        for d in sorted(documents):
            print(d)
        return 0
    if not a.files:
        return self_test(tables, documents)
    for s in a.schema:
        if s not in documents:
            print("check_json_schema: --schema %s is not in %s" % (s, a.doc), file=sys.stderr)
            return 2
    checker = Checker(tables, documents)
    bad, seen = 0, []
    for f in a.files:
        name = "standard input" if f == "-" else f
        try:
            raw = sys.stdin.buffer.read() if f == "-" else open(f, "rb").read()
        except OSError as e:
            print("check_json_schema: %s" % e, file=sys.stderr)
            return 2
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            print("%s: not UTF-8: %s" % (name, e))
            bad += 1
            continue
        if a.pretty:
            units = [(1, text)]
        else:
            if text and not text.endswith("\n"):
                print("%s: the last line has no newline" % name)
                bad += 1
            units = [(n, l) for n, l in enumerate(text.split("\n"), 1) if l.strip()]
        if not units:
            print("%s: no JSON document" % name)
            bad += 1
        for n, unit in units:
            try:
                doc = strict_loads(unit)
            except ValueError as e:
                print("%s:%d: not JSON: %s" % (name, n, e))
                bad += 1
                continue
            errors = []
            schema = checker.check_document(doc, a.schema, errors)
            for e in errors:
                print("%s:%d: %s" % (name, n, e))
            if errors:
                bad += 1
            elif schema:
                seen.append(schema)
    if a.seen and seen:
        with open(a.seen, "a") as out:
            out.write("".join(s + "\n" for s in seen))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
