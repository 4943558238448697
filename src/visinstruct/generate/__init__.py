"""Model-driven generation: captions, domain assignment, instructions from context."""
