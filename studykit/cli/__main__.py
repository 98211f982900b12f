"""``python -m studykit.cli``: the same as the ``studykit`` command."""

from .main import main

main()
