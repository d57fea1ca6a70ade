"""Layer 4, models: weight files in (read without executing them) and the audit of their conv1d
layers.
"""
