"""Stage 3, evaluation: lm-eval tasks for the embedded and the paper's benchmarks, their scoring
rules, the evaluation stage and the optional LLM jury."""
