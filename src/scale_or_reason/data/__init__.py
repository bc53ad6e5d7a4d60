"""Stage 1, data: the task suite and its teachers (programmatic, LLM, released pairs), the
tokenizer, the data-efficiency pool, the SFT rows of each recipe, and the generation stage."""
