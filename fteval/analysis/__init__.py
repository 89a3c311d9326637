"""Analysis of stored runs: confidence intervals, paired comparisons, breakdowns and summaries."""
