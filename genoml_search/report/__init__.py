"""Results: metrics, plots and the HTML report."""
