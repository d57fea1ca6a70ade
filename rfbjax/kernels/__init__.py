"""Layer 1, the kernels: pure array functions (keys and shapes in, arrays out; no I/O).

Filters and initialisers (the samplers), autocorrelations ρ and R_x, the energy ⟨ρ, R_x⟩,
power responses and frame bounds, the polyphase matrices of strided layers, cascades.

The array arguments' ranks are checked with chex when a function is traced (under ``jit``
too, where shapes are static): a wrong shape raises an ``AssertionError`` that names the
function and the expected shape, before anything is computed. The checks cost nothing once a
program is compiled.
"""
