"""The neutral layer under the stages: metrics, feature matrices and scoring, shared by search, run, report
and predict (it imports only data, fileio and errors)."""
