"""How deep a JSON text nests, told without parsing it.

Python's json parser recurses once per level of arrays and objects, so a body nested a thousand deep raises
RecursionError instead of a decoding error. This check runs before any parser, in C-speed passes over the bytes only
(no Python loop per byte), so an 8 MiB body of any shape takes a fraction of a second.
"""

import json
from itertools import accumulate

from api.errors import ApiError, invalid_request

MAX_JSON_DEPTH = 64

_ESCAPED_BACKSLASH = b"\\\\"
_ESCAPED_QUOTE = b'\\"'
_QUOTE = b'"'
_NOT_QUOTES_OR_BRACKETS = bytes(byte for byte in range(256) if byte not in b'"[]{}')
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
# An opener is a 1 bit, a closer a 0 bit. Only depth counts, not which bracket: an array closed by `}` is invalid
# JSON, which the parser refuses when it gets there.
_AS_BITS = bytes.maketrans(b"[{]}", b"1100")


def _walk(byte: int) -> tuple[int, int]:
    """What the 8 brackets one byte packs (most significant bit first) do to the depth: its change, and its highest
    rise on the way."""
    depth = highest = 0
    for bit in range(7, -1, -1):
        depth += 1 if byte >> bit & 1 else -1
        highest = max(highest, depth)
    return depth, highest


_WALKS = [_walk(byte) for byte in range(256)]
_CHANGE = tuple(change for change, _ in _WALKS)
_RISE = tuple(rise for _, rise in _WALKS)


def _utf8(body: bytes) -> bytes:
    # json.loads also reads UTF-16 and UTF-32, whose bytes would hide brackets from a byte-wise scan.
    encoding = json.detect_encoding(body)
    return body if encoding == "utf-8" else body.decode(encoding, errors="replace").encode()


def _brackets_outside_strings(body: bytes) -> bytes:
    # Backslashes pair up from the left, so `\\` goes first; what is left of `\"` is a quote inside a string.
    text = body.replace(_ESCAPED_BACKSLASH, b"").replace(_ESCAPED_QUOTE, b"")
    # Now every quote opens or closes a string. Two quotes in a row (an empty string, once letters are gone, or the
    # end of one string and the start of the next) go together, which keeps every other quote's place; then every
    # other segment between quotes lies outside a string.
    kept = text.translate(None, delete=_NOT_QUOTES_OR_BRACKETS).replace(_QUOTE * 2, b"")
    return b"".join(kept.split(_QUOTE)[::2])


def _deepest(brackets: bytes) -> int:
    """The most brackets open at once: the highest running count of openers minus closers."""
    bits = brackets.translate(_AS_BITS, delete=_NOT_BRACKETS)
    if not bits:
        return 0
    bits += b"0" * (-len(bits) % 8)  # closers never deepen
    packed = int(bits, 2).to_bytes(len(bits) // 8, "big")
    # Eight brackets a step: the depth before each byte, plus the highest its brackets rise above it.
    before = accumulate(map(_CHANGE.__getitem__, packed), initial=0)
    return max(map(int.__add__, before, map(_RISE.__getitem__, packed)))


def nesting_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text `body` nests arrays and objects more than `limit` levels deep.

    Brackets inside strings do not count. Invalid JSON never raises: brackets left open count as levels (a parser
    descends into them before it finds the text broken), and so the answer is exact for valid JSON and an upper
    bound of how deep a parser gets into invalid JSON.
    """
    return _deepest(_brackets_outside_strings(_utf8(body))) > limit


def too_deep() -> ApiError:
    """The answer to a body that nests deeper than MAX_JSON_DEPTH: a 422 naming the body."""
    return invalid_request([{"field": "body", "message": f"JSON may nest at most {MAX_JSON_DEPTH} levels deep"}])
