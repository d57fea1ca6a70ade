"""Layer 4, remedies: penalties (and their optax transform), tightening, and the initialisers
that need them.
"""
