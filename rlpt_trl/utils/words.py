"""Word-level comparison of texts: the unit of the next-word accuracy and the prefix-match reward."""

from __future__ import annotations

import string


def normalized_words(text: str) -> list[str]:
    """The whitespace words of `text`, lower-cased, surrounding punctuation stripped (a word of punctuation only is
    kept as it is)."""
    return [word.strip(string.punctuation) or word for word in text.lower().split()]
