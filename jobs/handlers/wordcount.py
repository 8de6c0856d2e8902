"""`wordcount`: counts lines, words and characters of `text`, and its top words."""

import re
from collections import Counter

from rest_framework import serializers

from jobs.handlers.registry import job_type

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
