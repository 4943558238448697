"""The closed loop: a model's evaluation results in, its weak categories found, targeted
data out, round after round (see `runner.py`)."""
