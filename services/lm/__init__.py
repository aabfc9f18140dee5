"""Language-model plumbing shared by the inference service and the trainer (imports neither)."""
