"""Analysis of returned MTurk results: load, quality control, aggregation, study tables (no torch, no boto3)."""
