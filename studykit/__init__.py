"""studykit: human studies of deep networks' decision layers (sparse linear layers, MTurk, analysis).

Importing :mod:`studykit` is cheap: it loads no torch, boto3 or plotting code. Subpackages load
their own dependencies.
"""

__version__ = "0.1.0"
