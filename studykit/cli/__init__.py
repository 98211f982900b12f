"""Command-line interface: thin click commands over the library (``studykit --help``)."""

from .main import main

__all__ = ["main"]
