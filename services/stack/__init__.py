"""`cppforge up`: Redis (when none answers), the verifier, the inference service and the trainer as local
processes, supervised as one stack (local.py's LocalStack)."""
