r"""Stacks of strided conv1d layers as one multi-rate filterbank, and its frame bounds.

Layer l maps $C_l = J_{l-1}$ channels to $J_l$ with kernel $w^{(l)}$ of shape
``(J_l, C_l, T_l)`` and stride $d_l$, on the signal that the layers below left at rate
$1/D_{l-1}$, $D_l = d_1 \cdots d_l$. Without nonlinearities the stack is linear and is
itself one strided conv1d layer: writing
$y^{(l)}_j[m] = \sum_i (w^{(l)}_{ji} \circledast y^{(l-1)}_i)[m d_l]$ and substituting,

$$
y^{(L)}_j[m] = \sum_c (h_{jc} \circledast x_c)[m D_L], \qquad
h^{(l)}_{jc}[t] = \sum_i \sum_s w^{(l)}_{ji}[s]\, h^{(l-1)}_{ic}[t - s D_{l-1}],
$$

i.e. each kernel upsampled by the product of the strides below it, convolved with the composite
below, summed over the paths; the composite has $T = T_1 + \sum_{l>1} D_{l-1}(T_l - 1)$
taps and stride $D_L$. On $\mathbb Z_N$ ($D_L \mid N$) the intermediate signals
live on $\mathbb Z_{N/D_l}$ and circular convolution there is circular convolution on
$\mathbb Z_N$ with the upsampled kernel, so the identity is exact. The frame bounds of the stack
are those of the composite layer: its polyphase matrices $\mathcal M(\xi)$ are
$C_0 D_L \times C_0 D_L$ (`rfbjax.kernels.strided.layer_frame_bounds`). By counting,
$J_L < C_0 D_L$ leaves no lower frame bound (A = 0, κ = ∞).

Biases, activations, normalisation and pooling are ignored: this is the linear part of the stack.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

from ..errors import InputError

__all__ = ["composite_kernel", "cascade_bounds", "check_cascade", "analysis_stack", "draw_stack",
           "WAV2VEC2_KERNELS", "WAV2VEC2_STRIDES"]

WAV2VEC2_KERNELS = (10, 3, 3, 3, 3, 2, 2)
"""wav2vec 2.0's feature encoder: the kernel lengths of its 7 conv layers."""
WAV2VEC2_STRIDES = (5, 2, 2, 2, 2, 2, 2)
"""wav2vec 2.0's feature encoder: the strides of its 7 conv layers."""


def check_cascade(shapes: Sequence[tuple], strides: Sequence[int], N: int | None = None) -> int:
    r"""Validate a stack and return the composite stride $D = \prod_l d_l$.

    Args:
      shapes: the layers' shapes ``(J_l, C_l, T_l)``.
      strides: the layers' strides ``d_l``.
      N: the grid, or None (then nothing to divide).

    Returns:
      The composite stride D.

    Raises:
      InputError: naming the problem: an empty stack, a wrong rank, $C_{l+1} \ne J_l$, a
        stride that is not a positive integer, a composite stride that does not divide N.
    """
    if len(shapes) == 0:
        raise InputError("cascade: need at least one layer")
    if len(strides) != len(shapes):
        raise InputError(f"cascade: {len(shapes)} layers but {len(strides)} strides")
    D = 1
    for l, (shp, d) in enumerate(zip(shapes, strides)):
        if len(shp) != 3 or min(shp) < 1:
            raise InputError(f"cascade: layer {l} has shape {tuple(shp)}; expected (J, C, T)")
        if int(d) != d or d < 1:
            raise InputError(f"cascade: layer {l} stride {d} is not an integer >= 1")
        if l and shp[1] != shapes[l - 1][0]:
            raise InputError(f"cascade: layer {l} takes {shp[1]} input channels but layer {l - 1} "
                             f"gives {shapes[l - 1][0]}")
        D *= int(d)
    if N is not None and (int(N) != N or N < 1 or N % D):
        raise InputError(f"cascade: N={N} is not a multiple of the composite stride {D}")
    return D


def composite_kernel(weights: Sequence[jax.Array], strides: Sequence[int]):
    r"""The kernel ``(J_L, C_0, T)`` and stride $D_L$ of the linear composite of a stack.

    Args:
      weights: ``[(J_1, C_0, T_1), (J_2, J_1, T_2), ...]``.
      strides: ``[d_1, d_2, ...]`` (static under jit).

    Returns:
      ``(h, D)`` with $T = T_1 + \sum_{l>1} D_{l-1}(T_l - 1)$. Differentiable in the weights.

    Raises:
      InputError: an invalid stack (`rfbjax.kernels.cascade.check_cascade`).
    """
    check_cascade([tuple(w.shape) for w in weights], strides)
    h = jnp.asarray(weights[0])
    D = int(strides[0])
    for w, d in zip(weights[1:], strides[1:]):
        w = jnp.asarray(w, dtype=h.dtype)
        Tw = w.shape[-1]
        pad = D * (Tw - 1)
        # lhs: batch = input channel c, features = i, time; rhs: (j, i, s), flipped so that the
        # correlation is the convolution h_new[j, c, t] = sum_i sum_s w[j, i, s] h[i, c, t - sD]
        out = jax.lax.conv_general_dilated(
            jnp.swapaxes(h, 0, 1), jnp.flip(w, axis=-1), window_strides=(1,),
            padding=[(pad, pad)], rhs_dilation=(D,), dimension_numbers=("NCH", "OIH", "NCH"),
            precision=jax.lax.Precision.HIGHEST)
        h = jnp.swapaxes(out, 0, 1)
        D *= int(d)
    return h, D


def _per_layer(values, L: int, name: str, default):
    import numpy as np

    if values is None:
        return [default] * L
    if np.isscalar(values):
        return [values] * L
    values = list(values)
    if len(values) != L:
        raise InputError(f"cascade: {L} layers but {len(values)} {name} values")
    return values


def analysis_stack(weights: Sequence, strides: Sequence[int], *, groups=None, dilation=None,
                   transposed=None):
    r"""A chain of layers, as a network computes them, as one stack of plain strided convs.

    Each layer becomes its dense analysis kernel: groups expanded block-diagonally
    (`rfbjax.kernels.conv_structure.block_diagonal`), dilation applied
    (`rfbjax.kernels.conv_structure.dilate`). A chain of transposed layers
    $T_L \cdots T_1$ with $T_l = \Phi_l^*$ is the adjoint of $\Phi_1 \cdots \Phi_L$, the
    reversed chain of the convs they transpose: same singular values, its frame bounds are the
    decoder chain's, its Riesz bounds the decoder's stability.

    Args:
      weights: the stored weights in the order data flows (a conv ``(J, C/g, T)``, a transposed
        conv ``(C_in, C_out/g, T)``).
      strides: one per layer.
      groups: one per layer, or one for all (``None``: 1).
      dilation: one per layer, or one for all (``None``: 1).
      transposed: one bool per layer, or one for all (``None``: none).

    Returns:
      ``(weights, strides, transposed)``: the dense analysis kernels and strides of the
        equivalent conv stack (reversed for a transposed chain) and whether it was one.

    Raises:
      InputError: a chain that mixes conv and transposed layers (its composite is not one
        strided conv), a groups value that does not divide its layer, mismatched lengths.
    """
    from .conv_structure import block_diagonal, check_structure, dilate

    L = len(weights)
    gs = _per_layer(groups, L, "groups", 1)
    ds = _per_layer(dilation, L, "dilation", 1)
    ts = [bool(t) for t in _per_layer(transposed, L, "transposed", False)]
    if len(strides) != L:
        raise InputError(f"cascade: {L} layers but {len(strides)} strides")
    if len(set(ts)) > 1:
        raise InputError("cascade: mixes conv and transposed layers; the composite of an "
                         "encoder and a decoder is not one strided conv (audit them as two "
                         "cascades)")
    out = []
    for l, (w, g, dl, t) in enumerate(zip(weights, gs, ds, ts)):
        if len(w.shape) != 3:
            raise InputError(f"cascade: layer {l} has shape {tuple(w.shape)}; expected (J, C, T)")
        check_structure(tuple(w.shape), groups=g, dilation=dl, transposed=t, name=f"layer {l}")
        out.append(block_diagonal(dilate(w, dl), g))
    strides = [int(d) for d in strides]
    chain_t = bool(ts and ts[0])
    if chain_t:
        out, strides = out[::-1], strides[::-1]
    return out, strides, chain_t


def _concrete_float64(weights) -> bool:
    import numpy as np

    try:
        return all(np.asarray(w).dtype == np.float64 for w in weights) and not any(
            isinstance(w, jax.core.Tracer) for w in weights)
    except (TypeError, jax.errors.TracerArrayConversionError):   # pragma: no cover
        return False


def cascade_bounds(weights: Sequence[jax.Array], strides: Sequence[int], N: int, *,
                   groups=None, dilation=None, transposed=None, riesz: bool = False):
    r"""Optimal frame bounds (A, B) of the linear composite of a stack of strided conv1d layers.

    On $\mathbb Z_N$ (circular), through its composite kernel
    (`rfbjax.kernels.cascade.composite_kernel`) and the $C_0 D \times C_0 D$ polyphase matrices.
    Grouped, dilated and transposed layers are read as the network computes them
    (`analysis_stack`). Float64 weights (concrete arrays) are computed in float64 whatever
    JAX's 64-bit mode: the composite with 64-bit mode on for the call, the bounds on the host
    (`rfbjax.kernels.conv_structure.structured_bounds`); other weights follow JAX (jit, grad).

    Args:
      weights: ``[(J_l, C_l/g_l, T_l)]`` in the order data flows, $C_{l+1} = J_l$ (transposed
        layers: ``(C_in, C_out/g, T)``).
      strides: ``[d_l]`` (static under jit).
      N: a multiple of $D = \prod_l d_l$ (static under jit).
      groups: per layer (or one for all; ``None``: 1).
      dilation: per layer (or one for all; ``None``: 1).
      transposed: per layer (or one for all; ``None``: none); a chain is all conv or all
        transposed.
      riesz: also return the lower Riesz bound $A_R$ of the composite's filters (computed on
        the host: the weights must be concrete, not traced).

    Returns:
      ``(A, B)`` (``(A, B, A_R)`` with ``riesz``); A = 0 exactly when $J_L < C_0 D$ (rank
        deficient) or under the rounding floor.

    Raises:
      InputError: an invalid stack, or D does not divide N
        (`rfbjax.kernels.cascade.check_cascade`).

    Examples:
      >>> import numpy as np
      >>> haar = np.array([[[1.0, 1.0]], [[1.0, -1.0]]]) / np.sqrt(2.0)    # (2, 1, 2), stride 2
      >>> A, B = cascade_bounds([haar], [2], 8)                        # orthogonal: A = B = 1
      >>> round(float(A), 6), round(float(B), 6)
      (1.0, 1.0)
    """
    from .strided import layer_frame_bounds

    ws, ds, _ = analysis_stack(list(weights), list(strides), groups=groups, dilation=dilation,
                               transposed=transposed)
    check_cascade([tuple(w.shape) for w in ws], ds, N)
    if _concrete_float64(ws) or riesz:
        import numpy as np

        from .conv_structure import structured_bounds

        if not _concrete_float64(ws):
            ws = [np.asarray(w) for w in ws]
        with jax.enable_x64(True):
            h, D = composite_kernel([np.asarray(w) for w in ws], ds)
            h = np.asarray(h)
        b = structured_bounds(np.asarray(h, dtype=np.float64), int(N), D)
        J, C = h.shape[:2]
        A = 0.0 if J < C * D else b["A"]
        out = (np.float64(A), np.float64(b["B"]))
        return out + (np.float64(b["riesz_A"]),) if riesz else out
    h, D = composite_kernel(ws, ds)
    return layer_frame_bounds(h, int(N), D)


def draw_stack(key: jax.Array, widths: Sequence[int], kernels: Sequence[int], *,
               in_channels: int = 1, init: str = "pytorch", dtype=jnp.float32) -> list:
    r"""One random stack, layer l of shape ``(widths[l], C_l, kernels[l])``.

    $C_0$ = ``in_channels``. Each layer's J·C filters of T taps are drawn by
    `rfbjax.kernels.initializers.draw` and scaled by $1/\sqrt{C}$, so that ``pytorch`` is
    PyTorch's Conv1d default $U(\pm 1/\sqrt{C T})$ (fan-in C·T). κ of the stack does not
    depend on the scales.

    Args:
      key: a PRNG key (layer l uses ``fold_in(key, l)``).
      widths: the output channels $J_l$ of the layers.
      kernels: the kernel sizes $T_l$ of the layers.
      in_channels: $C_0$.
      init: an initialiser name (`rfbjax.kernels.initializers`).
      dtype: of the weights.

    Returns:
      A list of arrays ``(J_l, C_l, T_l)``.
    """
    from . import initializers as inits

    out, C = [], int(in_channels)
    for l, (J, T) in enumerate(zip(widths, kernels)):
        w = inits.draw(init, jax.random.fold_in(key, l), int(J) * C, int(T), dtype=dtype)
        out.append((w / jnp.sqrt(jnp.asarray(C, dtype))).reshape(int(J), C, int(T)))
        C = int(J)
    return out
