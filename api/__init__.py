"""HTTP API: wires the store and the scoring core and serves JSON, SSE, pages and frames."""
