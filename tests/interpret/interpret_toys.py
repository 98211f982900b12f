"""A toy sentence encoder for the language tests, importable as an encoder factory
(``interpret_toys:bag_of_words``)."""

import re

import numpy as np

VOCABULARY = ("great", "fun", "dull", "boring", "superb", "awful", "movie")


def encode(sentences):
    """Feature j counts the occurrences of ``VOCABULARY[j]`` (case-insensitive)."""
    tokens = [re.findall(r"\w+", s.lower()) for s in sentences]
    return np.array([[t.count(w) for w in VOCABULARY] for t in tokens], dtype=np.float32)


def bag_of_words():
    return encode
