#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Build step: turns share/status/status.html into a C++ source defining
# tg::server::status_page_html() as one raw string literal, so the page ships
# inside the binary. Refuses a page that loads anything from elsewhere (the
# page must work on a host with no internet) or that holds the delimiter.
import re
import sys

DELIM = "tg_status_html"
# Anything that would make the browser fetch from another origin.
EXTERNAL = re.compile(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//|@import|url\(\s*["\']?\s*(?:https?:)?//', re.I)


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        html = f.read()
    if ")" + DELIM + '"' in html:
        sys.exit("%s: holds the raw string delimiter )%s\"" % (src, DELIM))
    m = EXTERNAL.search(html)
    if m:
        line = html.count("\n", 0, m.start()) + 1
        sys.exit("%s:%d: an external asset (%r): the page must be self-contained" % (src, line, m.group(0)))
    with open(out, "w", encoding="utf-8") as f:
        f.write("// Generated from share/status/status.html by share/status/embed_html.py; do not edit.\n")
        f.write('#include "tollgate/server/status.hpp"\n\n')
        f.write("namespace tg::server {\n\n")
        f.write("std::string_view status_page_html() noexcept {\n")
        f.write("  static constexpr char page[] = R\"%s(%s)%s\";\n" % (DELIM, html, DELIM))
        f.write("  return {page, sizeof page - 1};\n")
        f.write("}\n\n}  // namespace tg::server\n")


if __name__ == "__main__":
    main()
