"""Stages 4 to 7, analysis: the tidy results, Pareto frontiers and fits, verdicts, transfer,
granularity, data efficiency, saved generations, figures and summaries."""
