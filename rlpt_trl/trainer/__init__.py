"""What rlpt_trl adds around TRL's trainers: one way to assemble a training run (`command`, with the reward trainers'
shared part in `reward_command`), the reward trainers' model card (`model_card`), TRL's completions table in
TensorBoard (`completion_samples`), checkpoint safety (`checkpoints`) and a run's compute (`flops`)."""
