"""Names from files are data: how rfbjax prints them.

A tensor name, a layer name or a path read from a file may hold control characters (an escape
sequence that clears the terminal, a newline that forges a line of output). `printable` is the
one function that turns such a name into text safe to print in a terminal table, a note, a text
or Markdown report or a figure label. JSON outputs keep names as they are (the JSON encoder
escapes control characters itself), and options that name a tensor (``NAME=VALUE``) match the
name as stored, not its printed form.
"""

from __future__ import annotations

__all__ = ["printable"]

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def printable(name) -> str:
    r"""``name`` as text with every control or invisible formatting character escaped.

    Control characters (C0, DEL, C1), line and paragraph separators and formatting characters
    (Unicode categories Cc, Cf, Cs, Co, Cn, Zl, Zp and spaces other than the ASCII space)
    become ``\n``, ``\t``, ``\r``, ``\xHH``,
    ``\uHHHH`` or ``\UHHHHHHHH``; a backslash becomes ``\\``, so that the escaped form of two
    different names is never the same. Printable text (accents, CJK, …) is kept.

    Examples:
        >>> printable("conv1.weight")
        'conv1.weight'
        >>> printable("a\x1b[2Jb\nc")
        'a\\x1b[2Jb\\nc'
    """
    text = str(name)
    if text.isprintable() and "\\" not in text:
        return text
    out = []
    for ch in text:
        if ch in _SHORT:
            out.append(_SHORT[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                       else f"\\U{code:08x}")
    return "".join(out)
