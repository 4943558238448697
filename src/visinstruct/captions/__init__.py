"""Caption samples: a caption (written by a VLM, or from a synthetic image's exact facts) as
training data of its own, under an instruction drawn from a pool of caption requests."""
