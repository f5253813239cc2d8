"""manhelp - the options a program's --help lists against those its man
page documents, for test_man_help (the pages in man/ against the build)
and test_programs (the pages and programs of the package).

Only long options are compared, each with its value placeholder
(--port N). A man page lists its options in OPTIONS as .TP entries whose
tag line holds them (".BI \\-\\-port \" N\""); nws-tap's page has one .SS
subsection for the options of both commands and one for each command.
"""

import gzip
import re
import shlex
import subprocess

# The sections every page has (the list: options, files, signals,
# exit status, examples).
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILES", "SIGNALS",
            "EXIT STATUS", "EXAMPLES", "SEE ALSO"]

# nws-tap's commands and the OPTIONS subsections that apply to each.
TAP_COMMANDS = {"sub": ["Options of both commands", "Options of sub"],
                "pub": ["Options of both commands", "Options of pub"]}

_HELP_LINE = re.compile(r"^  (--[a-z][a-z-]*)(?: ([A-Z\[][A-Z:=\[\]]*))?(?:\s|$)")


def help_options(text):
    """{--name: METAVAR or None} from the Options: part of --help."""
    options = {}
    lines = text.splitlines()
    if "Options:" not in lines:
        raise AssertionError("--help has no 'Options:' line:\n" + text)
    for line in lines[lines.index("Options:") + 1:]:
        m = _HELP_LINE.match(line)
        if m:
            options[m.group(1)] = m.group(2)
    return options


def read_page(path):
    """A man page's roff source, gzipped or not."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read().decode("utf-8")


def _plain(tag_line):
    """A roff tag line as text: '.BI \\-\\-port " N"' -> '--port N'."""
    macro, _, rest = tag_line.partition(" ")
    lexer = shlex.shlex(rest, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""               # roff's backslashes are not shell escapes
    words = list(lexer)
    if macro in (".B", ".I"):
        text = " ".join(words)
    else:                           # .BI, .BR, .IR ...: alternating fonts, no spaces
        text = "".join(words)
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\-", "-").replace("\\&", "")


def sections(roff):
    """The .SH section names, in order."""
    return [_plain(".B " + line[4:]).strip('"') for line in roff.splitlines()
            if line.startswith(".SH ")]


def man_options(roff):
    """{subsection or '': {--name: METAVAR or None}} from OPTIONS."""
    found = {}
    current = None
    lines = roff.splitlines()
    in_options = False
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            in_options = line[4:].strip().strip('"') == "OPTIONS"
            current = ""
            continue
        if not in_options:
            continue
        if line.startswith(".SS "):
            current = line[4:].strip().strip('"')
            continue
        if line == ".TP" and i + 1 < len(lines):
            for item in _plain(lines[i + 1]).split(", "):
                words = item.split()
                if words and words[0].startswith("--"):
                    found.setdefault(current, {})[words[0]] = words[1] if len(words) > 1 else None
    return found


def compare(label, helped, documented):
    """Problems (a list of lines) between --help's options and the page's."""
    problems = []
    for name in sorted(set(helped) - set(documented)):
        problems.append("%s: %s is in --help but not in the man page" % (label, name))
    for name in sorted(set(documented) - set(helped)):
        problems.append("%s: %s is in the man page but not in --help" % (label, name))
    for name in sorted(set(helped) & set(documented)):
        if helped[name] != documented[name]:
            problems.append("%s: %s takes %s in --help but %s in the man page"
                            % (label, name, helped[name], documented[name]))
    return problems


def _help(argv):
    r = subprocess.run(argv + ["--help"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        raise AssertionError("%s --help: status %d\n%s" % (" ".join(argv), r.returncode,
                                                           r.stderr.decode()))
    return r.stdout.decode()


def check(name, program, page_path):
    """Problems between program's --help and its man page (name: nws-hub,
    ..., nws-tap). Also the sections every page has."""
    roff = read_page(page_path)
    problems = ["%s(%s): no %s section" % (name, page_path, s)
                for s in SECTIONS if s not in sections(roff)]
    documented = man_options(roff)
    if name == "nws-tap":
        for command, subsections in TAP_COMMANDS.items():
            merged = {}
            for sub in subsections:
                if sub not in documented:
                    problems.append("nws-tap: no subsection '%s' in OPTIONS" % sub)
                merged.update(documented.get(sub, {}))
            problems += compare("nws-tap " + command,
                                help_options(_help([program, command])), merged)
    else:
        problems += compare(name, help_options(_help([program])), documented.get("", {}))
    return problems
