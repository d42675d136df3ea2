"""A refusal direction in a causal LM's residual stream: activations, the direction itself, steering/ablation."""
