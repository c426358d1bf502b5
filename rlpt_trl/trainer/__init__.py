"""What rlpt_trl adds around TRL's trainers: the GRPO trainer's model card (`grpo_trainer`), the TensorBoard table of
completions (`completion_samples`), checkpoint safety (`checkpoints`) and the start and end of a training script
(`run`)."""
