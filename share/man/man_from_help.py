#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Build step: writes a section-1 man page from a binary's --help, so the page
# cannot drift from the flags (help2man's idea, for the layout our three tools
# share). The --help layout it reads:
#   a title line "NAME ... - summary" or "NAME: summary" (dropped: --summary
#   gives NAME's line); "Usage: ..." (SYNOPSIS); paragraphs at column 0;
#   a line at column 0 ending in ':' (a subsection of OPTIONS); entries at
#   column 2 ("  --flag META   text", or the text on the following, deeper
#   indented lines) whose continuation lines are indented deeper; a paragraph
#   starting "Exit status:" (EXIT STATUS). tollgate's "[env VAR; default: D]"
#   lines also become the ENVIRONMENT section.
import argparse
import re
import subprocess
import sys

ENV_RE = re.compile(r"\[env ([A-Z0-9_]+); default: ([^\]]*)\]")


def esc(text):
    """Roff-escapes running text: backslashes, and '-' as \\- so flags copy as typed."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def line(text):
    """A roff text line: one starting with '.' or "'" would be a request."""
    t = esc(text)
    return "\\&" + t if t[:1] in (".", "'") else t


def tag(text):
    """An entry's tag: flags in bold, their value placeholders in italics."""
    if not text.startswith("-"):
        return "\\fB" + esc(text) + "\\fR"  # an endpoint or a term, not a flag
    out = []
    for word in text.split(" "):
        bare = word.rstrip(",")
        tail = word[len(bare):]
        if bare.startswith("-"):
            out.append("\\fB" + esc(bare) + "\\fR" + tail)
        elif bare:
            out.append("\\fI" + esc(bare) + "\\fR" + tail)  # its value: HOST:PORT, N, "N: V"
        else:
            out.append(tail)
    return " ".join(out)


def description_column(lines):
    """The column entries' descriptions start at: the commonest indent of continuation lines."""
    indents = [len(l) - len(l.lstrip(" ")) for l in lines if l.strip() and l.startswith("   ")]
    return max(set(indents), key=indents.count) if indents else None


def split_entry(raw, column):
    """("--flag META", "text") from an entry line: split at the run of spaces that
    ends at the description column ("GET  /stats   text" has two), else at the first."""
    runs = list(re.finditer(r"\S( {2,})(?=\S)", raw))
    for m in runs:
        if m.end() == column:
            return raw[:m.start() + 1].strip(), raw[m.end():].strip()
    if runs:
        return raw[:runs[0].start() + 1].strip(), raw[runs[0].end():].strip()
    return raw.strip(), ""


def blocks(help_text):
    """Yields ("para", lines), ("head", text) and ("entry", tag, body) in order."""
    lines = help_text.rstrip("\n").split("\n")
    column = description_column(lines)
    i = 0
    while i < len(lines):
        raw = lines[i]
        if not raw.strip():
            i += 1
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if indent == 0:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(" "):
                para.append(lines[i])
                i += 1
            if len(para) == 1 and para[0].endswith(":") and len(para[0]) < 80:
                yield ("head", para[0][:-1])
            else:
                yield ("para", para)
            continue
        head, first_line = split_entry(raw, column)
        body = [first_line] if first_line else []
        i += 1
        while i < len(lines) and lines[i].strip() and len(lines[i]) - len(lines[i].lstrip(" ")) > indent:
            body.append(lines[i].strip())
            i += 1
        # Columns were for the terminal: one space between words in the page.
        yield ("entry", re.sub(" {2,}", " ", head), [re.sub(" {2,}", " ", b) for b in body])


def render(name, summary, version, help_text, see_also):
    out = [".\\\" Generated from `%s --help` by share/man/man_from_help.py; do not edit." % name,
           '.TH "%s" "1" "" "%s" "User Commands"' % (name.upper(), esc(version)),
           ".SH NAME", "%s \\- %s" % (esc(name), esc(summary))]
    synopsis, description, options, exit_status, env = [], [], [], [], []
    in_options = False
    first = True
    for b in blocks(help_text):
        if b[0] == "para":
            para = b[1]
            if first and len(para) == 1 and re.match(r"^%s\b.*( - |: )" % re.escape(name), para[0]):
                first = False
                continue  # the title line: NAME says it
            first = False
            if para[0].startswith("Usage:"):
                synopsis.append(para[0][len("Usage:"):].strip())
                para = para[1:]
                if not para:
                    continue
            if para[0].startswith("Exit status:"):
                exit_status.append(" ".join(p.strip() for p in para)[len("Exit status:"):].strip())
                continue
            target = options if in_options else description
            target += [".PP"] + [line(p) for p in para]
        elif b[0] == "head":
            first = False
            in_options = True
            options += [".SS " + line(b[1])]
        else:
            first = False
            in_options = True
            _, head, body = b
            options += [".TP", tag(head)]
            for text in body:
                m = ENV_RE.search(text)
                if m:
                    env.append((m.group(1), head.split(" ")[0], m.group(2)))
                    options += [".br", line(text)]
                else:
                    options.append(line(text))
    if synopsis:
        out += [".SH SYNOPSIS"]
        for s in synopsis:
            prog, _, rest = s.partition(" ")
            out += ["\\fB%s\\fR %s" % (esc(prog), esc(rest.strip())), ".br"]
        out.pop()
    if description:
        out += [".SH DESCRIPTION"] + description
    if options:
        out += [".SH OPTIONS"] + options
    if env:
        out += [".SH ENVIRONMENT", ".PP", "Each flag can be set through its variable; the command line wins."]
        for var, flag, default in env:
            out += [".TP", "\\fB%s\\fR" % esc(var), "as \\fB%s\\fR (default: %s)" % (esc(flag), esc(default))]
    if exit_status:
        out += [".SH EXIT STATUS", ".PP"] + [line(t) for t in exit_status]
    if see_also:
        refs = []
        for ref in see_also:
            page, _, sect = ref.partition("(")
            refs.append("\\fB%s\\fR(%s" % (esc(page), sect))
        out += [".SH SEE ALSO", ",\n".join(refs)]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True, help="the program; run with --help")
    ap.add_argument("--name", required=True)
    ap.add_argument("--summary", required=True, help="NAME section's one line")
    ap.add_argument("--version", required=True)
    ap.add_argument("--see-also", action="append", default=[], help="page(section), repeatable")
    ap.add_argument("--output", required=True)
    a = ap.parse_args()
    r = subprocess.run([a.binary, "--help"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or not r.stdout.strip():
        sys.exit("%s --help exited %d: %s" % (a.binary, r.returncode, r.stderr))
    with open(a.output, "w", encoding="utf-8") as f:
        f.write(render(a.name, a.summary, "%s %s" % (a.name, a.version), r.stdout, a.see_also))


if __name__ == "__main__":
    main()
