"""Layer 1, the kernels: pure array functions (keys and shapes in, arrays out; no I/O).

Filters and initialisers (the samplers), autocorrelations ρ and R_x, the energy ⟨ρ, R_x⟩,
power responses and frame bounds, the polyphase matrices of strided layers, cascades.
"""
