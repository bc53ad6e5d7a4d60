"""Scale or Reason: compute-equivalent studies of reasoning vs instruction-tuning distillation."""

__version__ = "0.1.0"
