#!/usr/bin/env python3
"""The layer check: every arrow between the source folders points down.

Layers, low to high (docs/architecture.md says why):

    core; store, cache, media; auth, catalog, booking, pay, demo; http, jobs, app.h; api; main.c

It fails (exit 1, one line per problem) when
  1. a file includes a header of a higher layer ("up");
  2. two folders of one layer include each other ("sideways both ways"; one way is allowed);
  3. two files of one folder use each other ("mutual"): A calls or takes the address of a
     function defined in B and B one defined in A, like an interface that knows its backends
     while the backends call into the interface. A small factory above both is the way out.
     One exception: a unit split by topic into X.c and parts X_<topic>.c that all include the
     private header X_int.h (core/config*.c) is one module; X.c drives the parts and the parts
     share X.c's helpers, both through X_int.h.

Rules 1 and 2 read the #include lines (quoted, or bracketed when they name a file of SRC_DIR); rule 3 reads the top-level function definitions
(project style: return type and name at the start of a line, the opening brace alone on the next
line after the parameter list) and every use of those names in the folder's other .c files.
Comments and string literals are blanked first. Standard library only; runs in well under a second.

Usage: scripts/check_layers.py [SRC_DIR]   (default: src next to this script's folder)
"""
import os
import re
import sys

RANK = {"core": 0,
        "store": 1, "cache": 1, "media": 1,
        "auth": 2, "catalog": 2, "booking": 2, "pay": 2, "demo": 2,
        "http": 3, "jobs": 3, "app.h": 3,
        "api": 4,
        "main.c": 5}

INCLUDE = re.compile(r'^\s*#\s*include\s+["<]([^">]+)[">]', re.M)  # <x.h> counts when it is ours
DEFINITION = re.compile(r'^(?!static\b)(?:[A-Za-z_][\w]*[ \t*]+)+(tix_\w+)\s*\([^;{]*\)\s*\n\{', re.M)
IDENT = re.compile(r'\btix_\w+\b')


def strip_comments_and_strings(text):
    """Blanks comments and string/char literals, keeping line breaks (so positions stay)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * max(0, j - i - 2) + (c if j - i >= 2 else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def unit(rel):
    return rel.split("/")[0]


def one_unit(a, b, raw):
    """Whether a and b are X.c and X_<topic>.c (either way round) that both include X_int.h."""
    for whole, part in ((a, b), (b, a)):
        stem = whole[:-2]
        if part.startswith(stem + "_"):
            private = stem + "_int.h"
            return all(f'"{private}"' in raw[f] for f in (whole, part))
    return False


def check(src):
    files = sorted(os.path.relpath(os.path.join(d, f), src)
                   for d, _, fs in os.walk(src) for f in fs if f.endswith((".c", ".h")))
    known = set(files)
    raw = {rel: open(os.path.join(src, rel), errors="replace").read() for rel in files}
    problems = []

    # 1 and 2: includes between folders.
    edges = {}
    for rel in files:
        for inc in INCLUDE.findall(raw[rel]):
            target = inc if inc in known else os.path.normpath(os.path.join(os.path.dirname(rel), inc))
            if target not in known:
                continue
            a, b = unit(rel), unit(target)
            if a == b or a not in RANK or b not in RANK:
                continue
            edges.setdefault((a, b), []).append(f"{rel} includes {target}")
            if RANK[b] > RANK[a]:
                problems.append(f"up: {rel} includes {target}")
    for (a, b), why in sorted(edges.items()):
        if RANK[a] == RANK[b] and (b, a) in edges and a < b:
            problems.append(f"sideways both ways: {why[0]}; {edges[(b, a)][0]}")

    # 3: files of one folder that use each other's functions.
    code = {rel: strip_comments_and_strings(raw[rel]) for rel in files if rel.endswith(".c")}
    owner = {}
    for rel, text in code.items():
        for name in DEFINITION.findall(text):
            owner.setdefault(name, rel)
    uses = {}
    for rel, text in code.items():
        for name in sorted(set(IDENT.findall(text))):
            o = owner.get(name)
            if o and o != rel and os.path.dirname(o) == os.path.dirname(rel):
                uses.setdefault((rel, o), name)
    for (a, b), name in sorted(uses.items()):
        if a < b and (b, a) in uses and not one_unit(a, b, raw):
            problems.append(f"mutual: {a} uses {name} of {b}; {b} uses {uses[(b, a)]} of {a}")
    return problems


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "src")
    problems = check(src)
    for p in problems:
        print(f"check_layers: {p}")
    if problems:
        print(f"check_layers: {len(problems)} arrow(s) against the layer order (docs/architecture.md)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
