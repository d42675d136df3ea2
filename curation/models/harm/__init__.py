"""Contextual harm model (issue #18): training data that teaches benign vs harmful uses of the same words, a
MiniLM fine-tuned on it, and the evaluation on the hand-written held-out set."""
