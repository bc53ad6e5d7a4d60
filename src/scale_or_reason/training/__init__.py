"""Stage 2, training: students built from config or loaded pretrained, fine-tuned with TRL."""
