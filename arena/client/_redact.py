"""Server text made safe to show: valid UTF-8, the API key scrubbed out in every form a
server may echo it in, clipped to a snippet."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

SNIPPET_CHARS = 300
"""Longest server-provided text kept in an error message."""

_MIN_FRAGMENT_CHARS = 4  # a key prefix this long left at a snippet's cut edge is removed
_MIN_BASE64_CHARS = 8  # shortest stable base64 part of the key that is worth redacting
_BACKSLASHES = r"\\\\{0,14}"  # 1 to 15: JSON-escaped 1 to 4 times (bounded: scans stay linear)
_REDACTED = "[REDACTED]"


def _clean_text(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (JSON ``"\\ud800"``) become ``?``."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _clean_optional(text: str | None) -> str | None:
    """:func:`_clean_text`, None kept."""
    return None if text is None else _clean_text(text)


def _check_api_key(api_key: str) -> None:
    """Reject keys that cannot be a header value (the message never shows the key)."""
    if not all(0x21 <= ord(char) <= 0x7E for char in api_key):
        raise ValueError("api_key must be printable ASCII without spaces (key not shown)")


def _hex_class(char: str) -> str:
    """Regex for the two hex digits of an ASCII ``char``, in either case."""
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{ord(char):02x}")


def _escaped_secret_pattern(secret: str) -> str:
    """Regex for ``secret`` with each character literal, ``%XX``, ``\\u00XX`` or (quotes,
    backslash, slash) backslash-escaped: URL-encoded and JSON- or repr-escaped echoes, in any
    mix and at any depth of backslash escaping (JSON text quoted inside a JSON string)."""
    parts = []
    for char in secret:
        forms = [re.escape(char), "%" + _hex_class(char), _BACKSLASHES + "u00" + _hex_class(char)]
        if char in "\"'\\/":
            forms.append(_BACKSLASHES + re.escape(char))
        parts.append(f"(?:{'|'.join(forms)})")
    return "".join(parts)


def _base64_cores(secret: str) -> list[str]:
    """The parts of ``secret``'s base64 encodings that do not depend on its neighbours.

    The key may start at any of the 3 byte offsets of a base64 group; for each, the characters
    that mix in bits of the bytes before or after it are left out (standard and URL-safe
    alphabets; cores shorter than ``_MIN_BASE64_CHARS`` are not used).
    """
    raw = secret.encode()
    cores: list[str] = []
    for offset in range(3):
        first = -(-8 * offset // 6)  # first character made of key bits only
        end = 8 * (offset + len(raw)) // 6  # past the last one
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(b"\0" * offset + raw).decode("ascii")[first:end]
            if len(core) >= _MIN_BASE64_CHARS:
                cores.append(core)
    return list(dict.fromkeys(cores))


class _Redactor:
    """Scrubs the API key out of server-provided text, then clips the text to a snippet.

    Besides the key as is, it scrubs the forms a server may echo it in: JSON-, repr- or
    URL-escaped (any mix), hex (either case) and base64 (standard or URL-safe, at any
    alignment). The patterns are computed once per client.
    """

    def __init__(self, secret: str | None) -> None:
        self._escaped: re.Pattern[str] | None = None
        self._hex: re.Pattern[str] | None = None
        self._literals: list[str] = []
        self._fragments: list[str] = []
        if not secret:
            return
        hex_form = secret.encode().hex()
        self._escaped = re.compile(_escaped_secret_pattern(secret))
        self._hex = re.compile(re.escape(hex_form), re.IGNORECASE)
        self._literals = _base64_cores(secret)
        fragments = [secret, json.dumps(secret)[1:-1], quote(secret, safe=""), hex_form]
        for digits in ("02x", "02X"):  # every character escaped, hex digits in either case
            fragments.append("".join(f"%{ord(char):{digits}}" for char in secret))
            fragments.append("".join(f"\\u00{ord(char):{digits}}" for char in secret))
        fragments.append(hex_form.upper())
        self._fragments = list(dict.fromkeys([*fragments, *self._literals]))

    def __call__(self, text: str, limit: int = SNIPPET_CHARS) -> str:
        """``text`` with the key replaced, on one line, valid UTF-8, at most ``limit`` characters.

        The whole text is redacted before it is folded onto one line and clipped, so neither
        can leave part of a key behind; a key prefix (of at least ``_MIN_FRAGMENT_CHARS``) left
        at the cut edge anyway is removed as well.
        """
        text = self.scrub(_clean_text(text))
        text = " ".join(text.split())  # one line (keys never contain whitespace)
        if len(text) > limit:
            text = self.drop_trailing_fragment(text[: max(limit - 3, 0)]) + "..."
        return text

    def scrub(self, text: str) -> str:
        """``text`` with every form of the key replaced (nothing else changed)."""
        if self._escaped is None or self._hex is None:
            return text
        text = self._escaped.sub(_REDACTED, text)
        text = self._hex.sub(_REDACTED, text)
        for literal in self._literals:
            text = text.replace(literal, _REDACTED)
        return text

    def drop_trailing_fragment(self, text: str) -> str:
        """``text`` without the longest key-form prefix it ends with (if long enough).

        For text that was cut: the cut may have fallen inside an echoed key.
        """
        cut = 0
        for form in self._fragments:
            for size in range(min(len(form), len(text)), _MIN_FRAGMENT_CHARS - 1, -1):
                if size <= cut:
                    break
                if text.endswith(form[:size]):
                    cut = size
                    break
        return text[: len(text) - cut]
