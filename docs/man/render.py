#!/usr/bin/env python3
"""Assembles a man page's markdown from docs/man/PAGE.md and the sections of
docs/ it names, for go-md2man. The flag tables and the rest of the reference
live once, in docs/configuration.md; a man page template only arranges them.

Usage: render.py TEMPLATE DOCS_DIR VERSION DOCDIR > PAGE.md

Template directives (whole lines):
  <!-- include FILE#HEADING -->  the body under that heading of DOCS_DIR/FILE,
                                 up to the next heading of any level
  <!-- include-code FILE -->     DOCS_DIR/FILE verbatim as a code block
and @VERSION@ and @DOCDIR@ (where the package installs docs/) are replaced.

In included text, a table with a `key` column becomes a definition list
(`--key VALUE`), since tbl(1) tables with long cells read badly in a
terminal; links become their text, with example files pointing at
DOCDIR/examples where the package installs them.
"""
import re
import sys

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def fail(message):
    sys.exit(f"render.py: {message}")


def section(path, heading):
    lines = open(path, encoding="utf-8").read().splitlines()
    body, inside, fenced = [], False, False
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else HEADING.match(line)
        if m:
            if inside:
                break
            inside = m.group(2) == heading
            continue
        if inside:
            body.append(line)
    if not inside:
        fail(f"{path}: no heading '{heading}'")
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    return body


def cells(row):
    """Splits a table row on '|' outside code spans; '\\|' is a literal bar."""
    out, cur, code = [], "", False
    row = row.strip().strip("|")
    i = 0
    while i < len(row):
        c = row[i]
        if c == "\\" and i + 1 < len(row) and row[i + 1] == "|":
            cur += "|"
            i += 2
            continue
        if c == "`":
            code = not code
        if c == "|" and not code:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    out.append(cur.strip())
    return out


def table_to_definitions(rows):
    header = [h.lower() for h in cells(rows[0])]
    if header[:1] != ["key"]:
        fail(f"table without a 'key' column: {rows[0]}")
    out = []
    for row in rows[2:]:
        values = dict(zip(header, cells(row)))
        key = values["key"].strip("`")
        default = values.get("default", "")
        term = f"**--{key}** *VALUE*"
        if default in ("*(required)*",):
            term += " (required)"
        elif default:
            term += f" (default: {default})"
        out += [term, ": " + values.get("meaning", ""), ""]
    return out


def rewrite(lines, docdir):
    out, table = [], []
    for line in lines + [""]:
        if line.lstrip().startswith("|"):
            table.append(line)
            continue
        if table:
            out += table_to_definitions(table)
            table = []
        out.append(line)
    text = "\n".join(out[:-1])

    def link(m):
        label, target = m.group(1), m.group(2)
        if target.startswith("examples/"):
            if label == target:
                return f"{docdir}/{target}"
            return f"{label} ({docdir}/{target})"
        return label

    return LINK.sub(link, text)


def main():
    if len(sys.argv) != 5:
        fail("usage: render.py TEMPLATE DOCS_DIR VERSION DOCDIR")
    template, docs, version, docdir = sys.argv[1:]
    out = []
    for line in open(template, encoding="utf-8").read().splitlines():
        m = re.fullmatch(r"<!-- include (\S+)#(.+?) -->", line.strip())
        if m:
            out.append(rewrite(section(f"{docs}/{m.group(1)}", m.group(2)), docdir))
            continue
        m = re.fullmatch(r"<!-- include-code (\S+) -->", line.strip())
        if m:
            code = open(f"{docs}/{m.group(1)}", encoding="utf-8").read().rstrip("\n")
            out += ["```", code, "```"]
            continue
        if line.lstrip().startswith("<!--"):
            fail(f"{template}: unknown directive: {line}")
        out.append(line.replace("@VERSION@", version).replace("@DOCDIR@", docdir))
    sys.stdout.write("\n".join(out) + "\n")


main()
