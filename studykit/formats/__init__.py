"""The contracts between studykit's stages, in one place (the ground floor: no torch, no boto3).

- :mod:`~studykit.formats.studies`: the study registry (answers, answer key, sampling and HIT defaults,
  the paper's rewards), one entry per study.
- :mod:`~studykit.formats.sampling`: each study's sampling settings (the spec's ``[sampling]`` table).
- :mod:`~studykit.formats.hit`: the HIT settings and MTurk's limits on them, checked at build and at post.
- :mod:`~studykit.formats.fees`: MTurk's fee rules, used by ``studykit plan`` and ``studykit mturk``.
- :mod:`~studykit.formats.batch`: the batch folder's file names and its one reader.
- :mod:`~studykit.formats.results_csv`: the batch-results CSV layout (writer and raw reader).

These modules import only the standard library, pandas (``batch``), each other and :mod:`studykit._io`.
Import from the submodules (``from studykit.formats.studies import STUDIES``): this package imports
nothing on its own, so the CLI can read the registry without loading pandas.
"""
