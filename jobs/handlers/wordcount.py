"""`wordcount`: counts lines, words and characters of `text` (a payload job) or of each string (an item job), and the top words."""

import re
from collections import Counter

from rest_framework import serializers

from jobs.handlers.registry import InvalidItem, item_type, job_type

WORD = re.compile(r"\w+(?:'\w+)?", re.UNICODE)


class WordcountPayload(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)
    top = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)


@job_type("wordcount", payload=WordcountPayload, example={"text": "the quick brown fox jumps over the lazy dog"})
def wordcount(payload: dict, ctx) -> dict:
    """Counts of lines, words and characters, and the `top` (default 10) most common words."""
    text = payload["text"]
    words = [w.lower() for w in WORD.findall(text)]
    top = Counter(words).most_common(int(payload.get("top", 10)))
    return {
        "lines": len(text.splitlines()),
        "words": len(words),
        "characters": len(text),
        "top_words": [{"word": w, "count": c} for w, c in top],
    }


class WordcountOptions(serializers.Serializer):
    top = serializers.IntegerField(min_value=1, max_value=100, required=False, default=3)


def _text_item(item) -> str:
    if not isinstance(item, str):
        raise InvalidItem("Must be a string.")
    return item


@item_type("wordcount", check=_text_item, options=WordcountOptions, example_items=["the cat", "the hat and the end"])
def wordcount_item(item: str, ctx) -> dict:
    """Counts of one string, with its `top` (default 3) words."""
    return wordcount({"text": item, "top": ctx.payload.get("top", 3)}, ctx)
