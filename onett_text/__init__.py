"""onett's text library: what happens to a contributor's document before it can be paid for, and nothing else
(no Dagster, no warehouse, no files but its own data tables).

    pipeline.py    preprocess(): the declared steps normalize -> mask_pii -> tokenize -> language -> rules -> hash
                   -> minhash over one batch, each timed and counted (stats.py)
    normalize.py   Unicode clean-up and whitespace        pii.py        personal data masked by placeholders
    tokens.py      token ids and counts with the consumer's encoding (bpe-openai, checked against tiktoken)
    passages.py    passages (passage credit) and winnowed spans   recitation.py  the recitation guard's index
    language.py    'ko', 'en' or 'other' from the letters
    quality/       the quality rules, their measures and their verdicts
    hashing.py     content hashes (exact dedup)           minhash.py    MinHash signatures and LSH bands (near dedup)
    scan.py, charclass.py, lookup.py, lexicon.py          the text as numpy arrays, character classes, key sets,
                                                          word lists
    data/          the word-order tables and the spam model (data/README.md)
"""
