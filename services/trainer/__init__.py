"""The trainer: verifier-grounded GSPO/GRPO (LUSPO, DAPO, StepCoder CCCS + FGO), LoRA, SFT, the jobs service."""
