"""The model families MedSearch knows, one package each; each registers itself with the encoder
registry."""
