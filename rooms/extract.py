"""Answer extraction: forgiving about formatting, strict about content.

Models wrap answers in code fences, ``ANSWER:`` prefixes, bold markers, quotes and trailing
punctuation. These helpers peel that off; the rooms then compare the content exactly.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Literal

_ANSWER_LINE = re.compile(r"(?im)^[ \t>*_#-]*(?:final[ \t]+)?answer[ \t*_]*[:=\-][ \t]*(.*)$")
_LEADING_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_WRAPPERS = "`*_\"'“”‘’«»[](){}<> \t"


def normalize(text: str) -> str:
    """NFKC, collapse whitespace, strip wrappers and trailing punctuation, casefold."""
    text = unicodedata.normalize("NFKC", text)
    text = " ".join(text.split())
    return strip_decoration(text).casefold()


def strip_decoration(text: str) -> str:
    """Remove surrounding quotes/brackets/markdown and trailing sentence punctuation."""
    previous = None
    while previous != text:
        previous = text
        text = text.strip().strip(_WRAPPERS).rstrip(".!?;:,").strip()
    return text


def answer_text(reply: str) -> str:
    """The part of a reply that holds the answer.

    Priority: the last ``ANSWER:`` line (its rest of line, or the following block if empty),
    else the last fenced block, else the last non-empty line.
    """
    reply = reply.replace("\r\n", "\n")
    matches = list(_ANSWER_LINE.finditer(reply))
    if matches:
        last = matches[-1]
        rest = last.group(1).strip()
        if rest.strip("*_ \t"):  # not just the '**' closing a bold '**ANSWER:**'
            return rest
        tail = reply[last.end() :].strip()
        if not tail:
            return ""  # a bare "ANSWER:" line: the answer was left empty
        fenced = last_fenced_block(tail)
        return fenced if fenced is not None else tail.split("\n", 1)[0]
    fenced = last_fenced_block(reply)
    if fenced is not None and fenced.strip():
        return fenced.strip()
    lines = [line for line in reply.split("\n") if line.strip()]
    return lines[-1].strip() if lines else ""


def last_fenced_block(text: str) -> str | None:
    blocks = _FENCE.findall(text)
    return blocks[-1][1] if blocks else None


def code_text(reply: str) -> str:
    """Code from a reply: the last fenced block (preferring python-tagged ones), else the reply."""
    blocks = _FENCE.findall(reply.replace("\r\n", "\n"))
    tagged = [body for lang, body in blocks if lang.lower() in {"python", "py", "python3"}]
    if tagged:
        return tagged[-1]
    if blocks:
        return blocks[-1][1]
    matches = list(_ANSWER_LINE.finditer(reply))
    if matches:
        return reply[matches[-1].start(1) :].strip("\n")
    return reply.strip("\n")


_QUALIFIERS = r"(?:(?:final|secret|correct|decoded|hidden|required|right|exact|missing)\s+)*"
_COPULA = r"(?:is|was|would\s+be|will\s+be|must\s+be|should\s+be)"


_ANY_LABEL = re.compile(
    r"^(?:(?:so|thus|therefore|hence)\s*,?\s+)?(?:the|my|our)\s+[^\W\d][\w' ’-]{0,40}?\s+"
    r"(?:is|are)\s*:\s*(?P<value>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)


def peel_any_label(text: str) -> str:
    """``The secret word is: X`` -> ``X`` whatever the noun, but only with the colon: a reply that
    labels its answer with the wrong room's words (small models carry "The secret word is:" from
    room to room) is judged on the value it gives, which must still be exactly right. Text
    without such a label is returned as it is."""
    found = _ANY_LABEL.match(text.strip())
    return found.group("value").strip() if found is not None else text


def unlabel(text: str, nouns: tuple[str, ...]) -> str:
    """A normalized answer with a sentence naming it peeled off: ``the secret word is "map"`` and
    ``map is the secret word`` both give ``map`` when ``word`` is among ``nouns``.

    Only the room's own nouns count as labels, and the rest must follow (or precede) the label
    with nothing but a copula in between, so the claimed value is unchanged: the reply says
    "X is the answer" and X is what gets compared. Text that is not such a sentence is returned
    as it is. When the text holds several sentences, the last one is used.
    """
    label = "|".join(re.escape(noun).replace(r"\ ", r"\s+") for noun in nouns)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=\S)", text) if s.strip()]
    candidates = [text] + ([sentences[-1]] if len(sentences) > 1 else [])
    for candidate in reversed(candidates):
        candidate = normalize(candidate)
        prefix = re.match(
            rf"^(?:(?:so|thus|therefore|hence|then)\s*,?\s+)?(?:(?:the|my|our|your)\s+)?"
            rf"{_QUALIFIERS}(?:{label})\b"
            rf"(?:(?:\s+[^:;=]{{0,80}}?)??\s+{_COPULA}\s*[:=]?|\s*[:=]|\s+-|)\s*(?P<value>\S.*)$",
            candidate,
        )
        if prefix is not None:
            return strip_decoration(prefix.group("value"))
        suffix = re.match(
            rf"^(?P<value>.+?)\s+{_COPULA}\s+(?:(?:the|my|our)\s+)?{_QUALIFIERS}(?:{label})$",
            candidate,
        )
        if suffix is not None:
            return strip_decoration(suffix.group("value"))
    return normalize(peel_any_label(text))


def single_token(reply: str) -> str:
    """A one-word/one-value answer: the answer text, normalized (never shortened).

    ``"ANSWER: **Apple**."`` -> ``"apple"``; ``"The word is apple"`` stays as is (strict content).
    """
    return normalize(answer_text(reply))


def paragraphs_of(text: str) -> list[str]:
    """Blocks of consecutive non-blank lines."""
    return [block.strip() for block in re.split(r"\n[ \t]*\n", text) if block.strip()]


def answer_block(
    reply: str,
    list_item: re.Pattern[str],
    fallback: Literal["paragraph", "line"] = "line",
) -> str:
    """The part of a reply holding a possibly multi-line (listed) answer.

    The last ``ANSWER:`` line plus the following lines of a list it starts (``ANSWER: 1. X`` then
    ``2. Y``, items recognized by ``list_item``), or the block right after an empty ``ANSWER:``
    (a leading fenced block, else the first paragraph); without an ``ANSWER:`` line, the last
    fenced block, else the last paragraph or line (``fallback``).
    """
    reply = reply.replace("\r\n", "\n")
    matches = list(_ANSWER_LINE.finditer(reply))
    if matches:
        last = matches[-1]
        rest = last.group(1).strip()
        tail = reply[last.end() :]
        if rest.strip("*_ \t"):  # not just the '**' closing a bold '**ANSWER:**'
            lines = [rest]
            if list_item.match(rest):
                for line in tail.split("\n")[1:]:
                    if not list_item.match(line):
                        break
                    lines.append(line)
            return "\n".join(lines)
        tail = tail.strip()
        fenced = _LEADING_FENCE.match(tail)
        if fenced is not None:
            return fenced.group(1).strip()
        blocks = paragraphs_of(tail)
        return blocks[0] if blocks else ""
    fenced = last_fenced_block(reply)
    if fenced is not None and fenced.strip():
        return fenced.strip()
    if fallback == "paragraph":
        blocks = paragraphs_of(reply)
        return blocks[-1] if blocks else ""
    lines = [line for line in reply.split("\n") if line.strip()]
    return lines[-1].strip() if lines else ""


def json_list(text: str, key: str) -> list[str] | None:
    """Strings of a JSON answer: ``["A", "B"]``, or ``{key: [...]}`` (or a dict holding exactly
    one list); None when the text is not such JSON."""
    stripped = text.strip().strip("`").strip()
    if not stripped.startswith(("[", "{")):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        value = value.get(key, lists[0] if len(lists) == 1 else None)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None
