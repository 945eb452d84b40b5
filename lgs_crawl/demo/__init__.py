"""The bundled demo shop: a deterministic catalogue served on 127.0.0.1, used by `lgs-crawl demo`,
the tests and the benchmarks."""
