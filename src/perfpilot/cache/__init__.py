"""Cache Optimizer: Redis usage, hot/cold/big keys, TTL strategy, compression, preloading."""
