"""Analysis of returned MTurk results: load, quality control, aggregation, study tables (no torch, no boto3).

The pipeline, each step a module:

- :mod:`~studykit.analysis.csvread`: study-independent reading of damaged CSVs (encodings, record scan,
  big cells, truncation; to move to ``studykit.formats``);
- :mod:`~studykit.analysis.load`: read a batch-results CSV as it really comes (quirks handled);
- :mod:`~studykit.analysis.annotations`: the canonical long table, answer key joined, workers pseudonymized;
- :mod:`~studykit.analysis.qc`: named quality-control rules with the paper's defaults, and their report;
- :mod:`~studykit.analysis.aggregate`: confidence-weighted and plain majority votes, Dawid-Skene;
- :mod:`~studykit.analysis.stats`, :mod:`~studykit.analysis.agreement`: intervals, tests, Krippendorff's alpha;
- :mod:`~studykit.analysis.simulatability`, :mod:`~studykit.analysis.spurious`,
  :mod:`~studykit.analysis.misclassification`, :mod:`~studykit.analysis.confusion`: the studies' results;
- :mod:`~studykit.analysis.report`, :mod:`~studykit.analysis.pipeline`: report folders, end to end;
- :mod:`~studykit.analysis.generic`: any batch, by naming its answer columns (``analyze --question``);
- :mod:`~studykit.analysis.simulate`, :mod:`~studykit.analysis.plan`: simulated annotators, study planning;

The contracts it reads (batch folder, results CSV layout, study registry, MTurk fees) live in
:mod:`studykit.formats`; this package imports no other studykit subpackage, torch or boto3.
"""

from studykit.formats.batch import Batch, read_batch
from studykit.formats.studies import STUDIES, StudySchema

from . import confusion, misclassification, simulatability, spurious
from .aggregate import DawidSkeneResult, confidence_weight, dawid_skene, majority_vote, weighted_majority_vote
from .agreement import krippendorff_alpha
from .annotations import Annotations, load_annotations, pseudonymize, to_annotations
from .load import RawResults, parse_approval_rates, parse_rewards, parse_times, read_results_csv
from .generic import GenericAnalysis, analyze_results, write_results_analysis
from .pipeline import Analysis, analyze, write_analysis
from .plan import PlanConfig, plan_study, study_cost
from .qc import QCConfig, QCReport, QCResult, apply_qc
from .report import Section, Table, markdown_table, write_report
from .simulate import AnnotatorModel, simulate_annotations, simulated_annotations, write_simulated_results
from .stats import compare_proportions, mcnemar_test, proportions, wilson_interval
from .summaries import EstimateSettings

__all__ = [
    "simulatability", "spurious", "misclassification", "confusion",
    "read_results_csv", "RawResults", "parse_times", "parse_rewards", "parse_approval_rates",
    "load_annotations", "to_annotations", "Annotations", "pseudonymize", "read_batch", "Batch",
    "QCConfig", "QCReport", "QCResult", "apply_qc",
    "weighted_majority_vote", "majority_vote", "confidence_weight", "dawid_skene", "DawidSkeneResult",
    "krippendorff_alpha", "proportions", "wilson_interval", "compare_proportions", "mcnemar_test",
    "analyze", "write_analysis", "Analysis", "analyze_results", "write_results_analysis", "GenericAnalysis", "EstimateSettings", "write_report", "Section", "Table", "markdown_table",
    "AnnotatorModel", "simulate_annotations", "simulated_annotations", "write_simulated_results",
    "PlanConfig", "plan_study", "study_cost", "STUDIES", "StudySchema",
]
