"""The torch machinery every model family shares: device and precision, the model thread,
micro-batching, fast paths."""
