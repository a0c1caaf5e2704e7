"""NumPy's reductions to the last bit, compiled (numba), for the eemeter emulation.

eemeter's legacy daily model reads its model kind off where its optimisers stop, and where they
stop depends on every rounding of its loss (``eemeter_loss``), which eemeter computes with
``np.sum``, ``np.std``, ``np.quantile`` and ``np.searchsorted``. The functions here give the
same bits as those calls, inside compiled code that cannot call NumPy's own.

Glossary
--------
Arguments: ``a``, ``x``, ``ys`` arrays; ``rows`` a 2-D table and ``row`` one of its rows;
``start``, ``n`` the slice ``[start:start + n]``; ``work`` scratch of at least n values.

================================  =========================================================
here                              NumPy
================================  =========================================================
``pairwise_sum(a, start, n)``     ``np.sum(a[start:start + n])`` (pairwise summation)
``sum_plan(n)``, ``planned_sum``  the same sum, walked from a plan made once per length
``np_std(x, start, n, work)``     ``np.std(x[start:start + n])``
``quantile(ys, n, q)``            ``np.quantile(ys[:n], q)`` of sorted ys (method "linear")
``count_below(rows, row, n, x,    ``np.searchsorted(rows[row, :n], x, side="left")``
strict=True)``                    (``strict=False``: ``side="right"``)
``unowned(a)``                    ``a`` as a view numba keeps no reference count for
================================  =========================================================
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _void_pointer(typingctx, address):
    """The integer address as a void pointer (for ``carray``)."""

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@njit(cache=True)
def unowned(a):
    """A view of the C-contiguous array a that numba keeps no reference count for: numba
    counts references to every array it passes or views, atomically, which was a fifth of
    the Subplex time. The view must not outlive a (callers keep a as an argument)."""
    return carray(_void_pointer(a.ctypes.data), a.shape, a.dtype)


@njit(cache=True, error_model="numpy")
def _leaf_sum(a, start, n):
    """numpy's pairwise_sum of a[start:start + n] for n <= 128: 8 accumulators, then the rest
    one by one.

    Hot, so written for what numba makes of it: unsigned indices (uint64 throughout, as numba
    turns sums with plain integer constants back into int64), since numba checks a signed
    index for wrap-around at every access, which made this three times slower."""
    u1, u2, u3, u4 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
    u5, u6, u7, u8 = np.uint64(5), np.uint64(6), np.uint64(7), np.uint64(8)
    j, m = np.uint64(start), np.uint64(n)
    end = j + m
    res = 0.0
    if m >= u8:
        r0, r1, r2, r3 = a[j], a[j + u1], a[j + u2], a[j + u3]
        r4, r5, r6, r7 = a[j + u4], a[j + u5], a[j + u6], a[j + u7]
        stop = end - m % u8
        j += u8
        while j < stop:
            r0 += a[j]
            r1 += a[j + u1]
            r2 += a[j + u2]
            r3 += a[j + u3]
            r4 += a[j + u4]
            r5 += a[j + u5]
            r6 += a[j + u6]
            r7 += a[j + u7]
            j += u8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while j < end:
        res += a[j]
        j += u1
    return res


@njit(cache=True, error_model="numpy")
def _sum1(a, start, n):
    """One level of numpy's pairwise summation of a[start:start + n]."""
    if n <= 128:
        return _leaf_sum(a, start, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _leaf_sum(a, start, n2) + _leaf_sum(a, start + n2, n - n2)


@njit(cache=True, error_model="numpy")
def _sum2(a, start, n):
    if n <= 128:
        return _leaf_sum(a, start, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum1(a, start, n2) + _sum1(a, start + n2, n - n2)


@njit(cache=True, error_model="numpy")
def _sum3(a, start, n):
    if n <= 128:
        return _leaf_sum(a, start, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum2(a, start, n2) + _sum2(a, start + n2, n - n2)


@njit(cache=True, error_model="numpy")
def _sum4(a, start, n):
    if n <= 128:
        return _leaf_sum(a, start, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum3(a, start, n2) + _sum3(a, start + n2, n - n2)


@njit(cache=True, error_model="numpy")
def _sum5(a, start, n):
    if n <= 128:
        return _leaf_sum(a, start, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum4(a, start, n2) + _sum4(a, start + n2, n - n2)


# np.sum of float64: halves (rounded down to a multiple of 8) until a block is at most 128 long;
# numba cannot cache recursion, so five levels are written out (exact up to about 4,000 days)
pairwise_sum = _sum5


@njit(cache=True, error_model="numpy")
def sum_plan(n):
    """numpy's pairwise summation of n values as a plan for ``planned_sum``: the blocks it sums
    one by one (start, length), in order, and how many pairs of partial sums it adds after
    each block: (3, blocks). The same tree as ``pairwise_sum``, walked
    without calls (measured: the nested calls cost three times the additions)."""
    starts = np.zeros(n // 64 + 2, dtype=np.int64)
    sizes = np.zeros_like(starts)
    merges = np.zeros_like(starts)
    stack_s = np.zeros(64, dtype=np.int64)  # (start, length, children done) of open blocks
    stack_n = np.zeros_like(stack_s)
    stack_done = np.zeros_like(stack_s)
    stack_n[0] = n
    depth, blocks = 1, 0
    while depth:
        depth -= 1
        s, m, done = stack_s[depth], stack_n[depth], stack_done[depth]
        if done:  # both halves summed: add them
            merges[blocks - 1] += 1
        elif m <= 128:
            starts[blocks], sizes[blocks] = s, m
            blocks += 1
        else:  # the pair, then the second half, then the first half on top
            half = m // 2
            half -= half % 8
            stack_s[depth], stack_n[depth], stack_done[depth] = s, m, 1
            stack_s[depth + 1], stack_n[depth + 1], stack_done[depth + 1] = s + half, m - half, 0
            stack_s[depth + 2], stack_n[depth + 2], stack_done[depth + 2] = s, half, 0
            depth += 3
    plan = np.empty((3, blocks), dtype=np.int64)
    plan[0], plan[1], plan[2] = starts[:blocks], sizes[:blocks], merges[:blocks]
    return plan


@njit(cache=True, error_model="numpy", inline="always")
def planned_sum(rows, row, plan):
    """``pairwise_sum(rows[row], 0, n)`` by the plan of n (``sum_plan``), to the last bit;
    the partial sums go to ``rows[-1]`` (at least one per block). Inside Subplex the table
    is reference-count free (``unowned``), so its row views cost nothing."""
    a, partial = rows[row], rows[rows.shape[0] - 1]
    depth = 0
    for b in range(plan.shape[1]):
        partial[depth] = _leaf_sum(a, plan[0, b], plan[1, b])
        depth += 1
        for _ in range(plan[2, b]):
            depth -= 1
            partial[depth - 1] = partial[depth - 1] + partial[depth]
    return partial[0]


@njit(cache=True, error_model="numpy")
def np_std(x, start, n, work):
    """np.std(x[start:start + n]) to the last bit (mean, squared deviations, their mean)."""
    mean = pairwise_sum(x, start, n) / n
    for i in range(n):
        d = x[start + i] - mean
        work[i] = d * d
    return np.sqrt(pairwise_sum(work, 0, n) / n)


@njit(cache=True, error_model="numpy")
def quantile(ys, n, q):
    """np.quantile(ys[:n], q) (method "linear") of sorted ys, to the last bit (NumPy 2.4:
    the virtual index (n - 1) q, between the values below and above it)."""
    virtual = (n - 1) * q
    prev = np.floor(virtual)
    gamma = virtual - prev
    i = min(max(int(prev), 0), n - 1)
    j = n - 1 if virtual >= n - 1 else min(max(int(prev) + 1, 0), n - 1)
    a, b = ys[i], ys[j]
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1 - gamma)
    return a + diff * gamma


@njit(cache=True, error_model="numpy", inline="always")
def count_below(rows, row, n, x, strict):
    """The number of rows[row, :n] (sorted) that are < x (strict) or <= x: np.searchsorted
    with side "left" or "right", by a binary search without branches."""
    base, size = np.uint64(0), np.uint64(n)
    u1, u2 = np.uint64(1), np.uint64(2)
    while size > u1:
        half = size // u2
        v = rows[row, base + half - u1]
        base = base + half if (v < x if strict else v <= x) else base
        size -= half
    if size == u1:
        v = rows[row, base]
        base += u1 if (v < x if strict else v <= x) else np.uint64(0)
    return np.int64(base)
