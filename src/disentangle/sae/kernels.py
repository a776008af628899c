"""CPU kernels of the training step's sparse parts, compiled by numba.

At d = 384 the selection and the sparse parts of a top-k step were many small torch operations,
each a separate pass over memory with its own fixed costs: a grouped top-k of five tensor
operations (two of them heap-based ``topk``), ``embedding_bag`` for the decoder (its backward
sorts the indices, and its value gradient took longer than the forward and the weight
gradient together) and a CSR matrix (argsort, bincount, a sparse product) for the encoder's
weight gradient; BatchTopK's selection over the whole batch was torch and NumPy passes too
(``batch_top_rows`` now). Each kernel here is one loop over the batch's rows that touches a
selected latent's weight row once. They run on one thread in a fixed order, so a step
gives the same bits at any torch thread count (``threads.ThreadChooser`` picks the count by
timing). A GPU keeps the torch path.

The first call compiles a kernel (seconds); numba caches the machine code on disk
(``cache=True``), so later processes load it. Kernels take NumPy views of CPU tensors.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import torch

_FLOAT_SUMS = {"reassoc", "contract"}
"""Let sums over ``d`` use vector lanes and fused multiply-adds: the order is fixed by the
compiled code, not by the thread count, so results stay reproducible."""


@numba.njit(cache=True, boundscheck=False, inline="always")
def _key(bits: int) -> int:
    """An int32 that orders like the float32 whose bits it is given (negatives reversed)."""
    return bits ^ ((bits >> 31) & 0x7FFFFFFF)


@numba.njit(cache=True, boundscheck=False, inline="always")
def _group_maxima(row: np.ndarray, size: int, groups: int, out: np.ndarray) -> None:
    """Key of the largest entry of each of the ``groups`` interleaved groups of ``row``."""
    for g in range(groups):
        out[g] = _key(row[g])
    for s in range(1, size):
        part = row[s * groups:(s + 1) * groups]
        for g in range(groups):
            out[g] = max(out[g], _key(part[g]))


@numba.njit(cache=True, boundscheck=False)
def _bisect(keys: np.ndarray, ids: np.ndarray, m: int, k: int, enough: int) -> tuple[int, int]:
    """``(t, m')``: a key ``t`` that between ``k`` and ``enough`` of ``keys[:m]`` reach, or, if
    none, the ``k``-th largest key; ``keys[:m']`` (with their ``ids``) still hold every key
    ``≥ t``, in their order. A bisection on the key's value whose steps count branch-free
    over the keys, so there are no data-dependent branches to mispredict (which a quickselect
    or torch's heap pays for on every comparison); the keys below a probe that at least ``k``
    reach are dropped once they are the majority, so later steps count fewer."""
    lo, hi = np.int64(keys[0]), np.int64(keys[0])
    for i in range(1, m):
        lo, hi = min(lo, np.int64(keys[i])), max(hi, np.int64(keys[i]))
    while lo < hi:
        mid = lo + (hi - lo + 1) // 2
        probe = np.int32(mid)
        count = 0
        for i in range(m):
            count += keys[i] >= probe
        if count < k:
            hi = mid - 1
            continue
        lo = mid
        if 2 * count <= m:
            kept = 0
            for i in range(m):  # branch-free compaction: write always, advance if kept
                keys[kept], ids[kept] = keys[i], ids[i]
                kept += keys[i] >= probe
            m = kept
        if count <= enough:
            break
    return lo, m


@numba.njit(cache=True, boundscheck=False)
def top_k_rows(bits: np.ndarray, k: int, size: int, out_bits: np.ndarray,
               out_columns: np.ndarray) -> None:
    """Each row's ``k`` largest float32 entries (given and returned as their int32 bits) and
    their columns, unsorted; ties at the ``k``-th value are taken in candidate order.

    As ``model.top_k`` argues, only the groups whose maximum reaches a threshold ``t`` (any
    ``t`` that at least ``k`` group maxima reach) can hold the top ``k``; the row is cut into
    ``n / size`` interleaved groups (group ``g``: columns ``g``, ``g + G``, …, so the maxima
    are a vectorised pass), ``t`` is chosen among the maxima (``k`` to ``1.25·k`` of them
    reaching it), and the top ``k`` among the chosen groups' entries."""
    batch, n = bits.shape
    groups = n // size
    maxima = np.empty(groups, np.int32)
    group_keys = np.empty(groups, np.int32)
    group_ids = np.empty(groups, np.int64)
    keys = np.empty(n, np.int32)
    ids = np.empty(n, np.int64)
    for b in range(batch):
        row = bits[b]
        _group_maxima(row, size, groups, maxima)
        for g in range(groups):
            group_keys[g], group_ids[g] = maxima[g], g
        threshold, chosen = _bisect(group_keys, group_ids, groups, k, k + k // 4)
        count = 0
        for g in group_ids[:chosen]:
            if maxima[g] >= threshold:
                for s in range(size):
                    keys[count] = _key(row[s * groups + g])
                    ids[count] = s * groups + g
                    count += 1
        kth, count = _bisect(keys, ids, count, k, k)
        taken = 0
        for j in range(count):
            if keys[j] > kth:
                out_columns[b, taken] = ids[j]
                taken += 1
        for j in range(count):
            if taken == k:
                break
            if keys[j] == kth:
                out_columns[b, taken] = ids[j]
                taken += 1
        for j in range(k):
            out_bits[b, j] = row[out_columns[b, j]]


_BUCKET_SHIFT = 16
"""``batch_top_rows`` buckets keys by their top 16 bits: 1/128 of an octave of float values,
fine enough that the bucket holding a selection's boundary is small."""


@numba.njit(cache=True, boundscheck=False)
def _bucket(keys: np.ndarray, m: int, k: int, counts: np.ndarray) -> tuple[int, int]:
    """``(edge, above)``: the smallest key of the bucket (keys sharing their top bits) that
    holds the ``k``-th largest of ``keys[:m]``, and how many keys lie in higher buckets. One
    counting pass: a selection over many keys that does not fit in the cache, where each
    step of a bisection would be a pass of its own."""
    offset = counts.size // 2
    counts[:] = 0
    for i in range(m):
        counts[(keys[i] >> _BUCKET_SHIFT) + offset] += 1
    above, bucket = 0, counts.size - 1
    while above + counts[bucket] < k:
        above += counts[bucket]
        bucket -= 1
    return (bucket - offset) << _BUCKET_SHIFT, above


@numba.njit(cache=True, boundscheck=False)
def batch_top_rows(bits: np.ndarray, count: int, size: int, cap: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``count`` largest float32 entries of the whole batch (given and returned as int32
    bits) as ``[B, w]`` codes: ``(bits, columns, kept per row)``, each row's entries first
    and zero padding (bits 0, column 0) after, ``w`` the most any row keeps; ties at the
    ``count``-th value are taken in row order. If a row keeps more than ``cap``, the codes
    are ``[0, 0]`` (the caller falls back to a capped selection).

    ``top_k_rows``'s grouping argument over the whole batch: any ``t`` that at least
    ``count`` group maxima reach is at most the ``count``-th largest entry. Here ``t`` is the
    lower edge of the bucket of the ``count``-th largest of all rows' group maxima (one
    counting pass, ``_bucket``); one pass over the batch collects the entries ``≥ t`` (a few
    percent), in row order, and the exact ``count``-th largest among them is found by its
    bucket and a bisection inside the bucket. Per-row bisections as in ``top_k_rows`` would
    not do here: over the batch's ``B·n / s`` maxima (MiBs, not the cache), each bisection
    step is a pass over memory."""
    batch, n = bits.shape
    groups = n // size
    total = batch * groups
    maxima = np.empty(total, np.int32)
    for b in range(batch):
        _group_maxima(bits[b], size, groups, maxima[b * groups:(b + 1) * groups])
    counts = np.empty(1 << (32 - _BUCKET_SHIFT), np.int64)
    threshold, _ = _bucket(maxima, total, count, counts)
    reached = 0
    for j in range(total):
        reached += maxima[j] >= threshold
    keys = np.empty(reached * size, np.int32)  # the entries ≥ t lie in these groups
    rows = np.empty(reached * size, np.int32)
    columns = np.empty(reached * size, np.int32)
    m = 0
    for b in range(batch):  # one sequential pass: the prefetcher streams the rows
        row = bits[b]
        for column in range(n):
            key = _key(row[column])
            if key >= threshold:  # rarely taken: predicted
                keys[m], rows[m], columns[m] = key, b, column
                m += 1
    edge, above = _bucket(keys, m, count, counts)
    inside = np.empty(counts[(edge >> _BUCKET_SHIFT) + counts.size // 2], np.int32)
    taken = 0
    for j in range(m):
        if keys[j] >> _BUCKET_SHIFT == edge >> _BUCKET_SHIFT:
            inside[taken] = keys[j]
            taken += 1
    kth, _ = _bisect(inside, np.empty(taken, np.int64), taken, count - above, count - above)
    ties = count
    for j in range(m):
        ties -= keys[j] > kth
    per_row = np.zeros(batch, np.int64)
    for j in range(m):
        tie = keys[j] == kth and ties > 0
        ties -= tie
        keys[j] = keys[j] > kth or tie  # the keys are not needed again: mark the kept ones
        per_row[rows[j]] += keys[j]
    width = per_row.max()
    if width > cap:
        return np.zeros((0, 0), np.int32), np.zeros((0, 0), np.int64), per_row
    out_bits = np.zeros((batch, width), np.int32)
    out_columns = np.zeros((batch, width), np.int64)
    slot = np.zeros(batch, np.int64)
    for j in range(m):
        if keys[j]:
            b = rows[j]
            out_bits[b, slot[b]], out_columns[b, slot[b]] = bits[b, columns[j]], columns[j]
            slot[b] += 1
    return out_bits, out_columns, per_row


@numba.njit(cache=True, boundscheck=False, fastmath=_FLOAT_SUMS)
def combine_rows(values: np.ndarray, indices: np.ndarray, weight: np.ndarray,
                 out: np.ndarray) -> None:
    """``out[b] = Σ_j values[b, j] · weight[indices[b, j]]``, zero values skipped: a
    decoder's reconstruction from a sparse code. (Row views are taken outside the inner
    loops here and below: indexing the 2-d arrays inside them kept LLVM from vectorising.)"""
    batch, width = values.shape
    for b in range(batch):
        total = out[b]
        total[:] = 0
        for j in range(width):
            value = values[b, j]
            if value != 0:
                row = weight[indices[b, j]]
                for t in range(total.shape[0]):
                    total[t] += value * row[t]


@numba.njit(cache=True, boundscheck=False, fastmath=_FLOAT_SUMS)
def row_dots(values: np.ndarray, indices: np.ndarray, weight: np.ndarray, y: np.ndarray,
             out: np.ndarray) -> None:
    """``out[b, j] = ⟨y[b], weight[indices[b, j]]⟩`` where ``values[b, j] ≠ 0``, else 0: the
    gradient of ``combine_rows`` for its values, given ``y`` the gradient of its output, for
    post-ReLU values (a zero value's gradient dies at the ReLU that zeroed it)."""
    batch, width = values.shape
    for b in range(batch):
        target = y[b]
        for j in range(width):
            out[b, j] = 0  # the sum starts from out's element: it then has out's dtype
            if values[b, j] != 0:
                row = weight[indices[b, j]]
                total = out[b, j]
                for t in range(target.shape[0]):
                    total += target[t] * row[t]
                out[b, j] = total


@numba.njit(cache=True, boundscheck=False, fastmath=_FLOAT_SUMS)
def scatter_rows(values: np.ndarray, indices: np.ndarray, y: np.ndarray,
                 out: np.ndarray) -> None:
    """``out[indices[b, j]] += values[b, j] · y[b]`` for every non-zero value: a weight
    gradient of a sparse product (decoder: code values × output gradient; encoder: gradient
    of the selected pre-activations × centred input)."""
    batch, width = values.shape
    for b in range(batch):
        source = y[b]
        for j in range(width):
            value = values[b, j]
            if value != 0:
                row = out[indices[b, j]]
                for t in range(source.shape[0]):
                    row[t] += value * source[t]


def top_k(pre: torch.Tensor, k: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(values, indices)`` of each row's ``k`` largest entries of a float32 CPU ``pre``,
    unsorted, searching groups of ``size`` (``model._group_size``). If ``pre`` needs a
    gradient (the dense reference path), the values are gathered by torch instead, to keep
    its autograd history."""
    values = torch.empty(pre.shape[0], k, dtype=torch.int32)
    indices = torch.empty(pre.shape[0], k, dtype=torch.long)
    top_k_rows(pre.detach().contiguous().view(torch.int32).numpy(), k, size, values.numpy(),
               indices.numpy())
    if pre.requires_grad:
        return pre.gather(1, indices), indices
    return values.view(torch.float32), indices


def batch_top(pre: torch.Tensor, count: int, size: int, cap: int
              ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(values, indices)``: the ``count`` largest entries of a float32 CPU ``pre``
    ``[B, n]`` as ``[B, w]`` codes padded with zeros (``batch_top_rows``), or None if a row
    holds more than ``cap`` of them. If ``pre`` needs a gradient (the dense reference
    path), the kept values are gathered by torch, to keep its autograd history."""
    bits, columns, per_row = batch_top_rows(pre.detach().contiguous().view(torch.int32).numpy(),
                                            count, size, cap)
    if bits.shape[0] == 0:
        return None
    indices = torch.from_numpy(columns)
    if pre.requires_grad:
        kept = torch.arange(indices.shape[1]) < torch.from_numpy(per_row).unsqueeze(1)
        return torch.where(kept, pre.gather(1, indices), 0.0), indices
    return torch.from_numpy(bits).view(torch.float32), indices


class _Combine(torch.autograd.Function):
    """``combine_rows`` with its gradients: ``row_dots`` for the values, ``scatter_rows``
    for the weight."""

    @staticmethod
    def forward(ctx: Any, values: torch.Tensor, indices: torch.Tensor,  # type: ignore[override]
                weight: torch.Tensor) -> torch.Tensor:
        values, indices = values.detach().contiguous(), indices.contiguous()
        out = weight.new_empty(values.shape[0], weight.shape[1])
        combine_rows(values.numpy(), indices.numpy(), weight.detach().numpy(), out.numpy())
        ctx.save_for_backward(values, indices, weight)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor  # type: ignore[override]
                 ) -> tuple[torch.Tensor | None, None, torch.Tensor | None]:
        values, indices, weight = ctx.saved_tensors
        grad = grad_out.contiguous().numpy()
        grad_values = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_values = torch.empty_like(values)
            row_dots(values.numpy(), indices.numpy(), weight.detach().numpy(), grad,
                     grad_values.numpy())
        if ctx.needs_input_grad[2]:
            grad_weight = torch.zeros_like(weight)
            scatter_rows(values.numpy(), indices.numpy(), grad, grad_weight.numpy())
        return grad_values, None, grad_weight


def combine(values: torch.Tensor, indices: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``Σ_j values[b, j] · weight[indices[b, j]]`` for ``[B, w]`` codes of post-ReLU values,
    differentiable in ``values`` and ``weight`` (a zero value gets a zero gradient)."""
    return _Combine.apply(values, indices, weight)


def scatter(values: torch.Tensor, indices: torch.Tensor, y: torch.Tensor,
            out: torch.Tensor) -> None:
    """``out[indices[b, j]] += values[b, j] · y[b]`` in place (no autograd)."""
    scatter_rows(values.detach().contiguous().numpy(), indices.contiguous().numpy(),
                 y.detach().contiguous().numpy(), out.numpy())
