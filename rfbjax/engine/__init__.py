"""Layer 2, the Monte Carlo engine: the driver (blocks, chunks, per-sample keys, devices), the
measurements it runs, the persistent compile cache, memory plans and stream seeds.
"""
