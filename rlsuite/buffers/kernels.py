"""Numba kernels of the replay storage: insertion, validity, n-step windows and stack rebuilding.

Storage layout (shared by vector observations and Atari frame storage)
----------------------------------------------------------------------
Each of the ``N`` envs owns one circular segment of ``C = capacity // N`` slots; global slot
``g = e * C + i``.  A slot holds one *frame* (the whole observation when ``frame_stack == 1``,
else the newest ``H×W`` frame of the stack), the action taken from it, the reward and a flags
byte.  The flags byte, packed so an Atari transition costs frame + 5 bytes:

* bits 0-1, the slot's kind: ``0`` a transition inside an episode, ``TERM`` / ``TRUNC`` a
  transition that ended its episode (termination wins when both are reported: it is the one that
  matters), ``NO_TRANSITION`` the pending slot, an end marker or a slot never written;
* bit 2, ``FIRST``: the first observation of an episode;
* bits 3-7: the action, for discrete actions ``< 32`` (``act_store`` then has no columns);
  other actions live in ``act_store``.

``add`` writes ``obs`` into slot ``pos`` and the true ``next_obs`` into slot ``pos + 1`` (the
*pending* slot, flags 0).  If the episode goes on, the next ``add`` overwrites the pending slot
with the same observation; if it ended, the pending slot is kept as an *end marker* holding the
final observation (what a truncation bootstraps from) and the next episode starts one slot later.
So every observation is stored once, plus one extra slot per episode.

Per env: ``pos[e]`` = the pending (newest) slot, ``size[e]`` = slots in use up to and including
it, ``oldest = pos - size + 1 (mod C)``, ``age(i) = i - oldest (mod C)``.  A transition at slot
``i`` can be sampled when it is a transition, every slot of its n-step window is a stored transition
(``age <= size - 2``), and walking back ``frame_stack - 1`` slots from ``i`` and from its
bootstrap slot reaches the episode's FIRST slot or stays inside the stored window (never crosses
the write cursor).  Stacks are rebuilt newest → oldest; positions before an episode's first frame
repeat that first frame (gymnasium ``FrameStackObservation(padding_type="reset")``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .sumtree import tree_find, tree_set_leaf

KIND = 3  # mask of the slot-kind bits
TERM = 1
TRUNC = 2
NO_TRANSITION = 3
FIRST = 4
ACTION_SHIFT = 3  # packed discrete actions occupy the bits from here up
PACKED_ACTIONS = 1 << (8 - ACTION_SHIFT)  # how many actions fit: 32


@nb.njit(cache=True, nogil=True, inline="always")
def _is_transition(f: int) -> bool:
    return (f & KIND) != NO_TRANSITION


@nb.njit(cache=True, nogil=True, inline="always")
def _copy_action(flags: np.ndarray, act: np.ndarray, g: int, o_act: np.ndarray, b: int) -> None:
    """Row ``b`` of the sampled actions from slot ``g`` (packed in the flags byte or stored apart)."""
    if act.shape[1] == 0:
        o_act[b, 0] = flags[g] >> ACTION_SHIFT
    else:
        for d in range(act.shape[1]):
            o_act[b, d] = act[g, d]


@nb.njit(cache=True, nogil=True)
def add_kernel(  # noqa: C901 - one compiled pass of the insertion described in the module docstring
    C: int, pos: np.ndarray, size: np.ndarray, new_ep: np.ndarray, n_valid: np.ndarray,
    obs_store: np.ndarray, act_store: np.ndarray, rew_store: np.ndarray, flags: np.ndarray,
    obs_in: np.ndarray, next_in: np.ndarray, act_in: np.ndarray, rew_in: np.ndarray, term_in: np.ndarray,
    trunc_in: np.ndarray, written: np.ndarray, pending: np.ndarray,
) -> None:  # pragma: no cover
    for e in range(pos.shape[0]):
        base = e * C
        p = pos[e]
        first = new_ep[e] != 0
        if first and size[e] > 0:
            # keep the end-marker slot (final obs of the last episode) and start one slot later
            p = p + 1 if p + 1 < C else 0
            if size[e] < C:
                size[e] += 1
        if size[e] == 0:
            size[e] = 1
        g = base + p
        if _is_transition(flags[g]):
            n_valid[e] -= 1
        for d in range(obs_store.shape[1]):
            obs_store[g, d] = obs_in[e, d]
        f: int | np.int64 = 0  # the packed flags byte (numba: int64)
        if act_store.shape[1] == 0:  # the action goes into the flags byte
            if act_in[e, 0] >= PACKED_ACTIONS:
                raise ValueError("action out of range for packed storage (at most 32 actions)")
            f = np.int64(act_in[e, 0]) << ACTION_SHIFT
        for d in range(act_store.shape[1]):
            act_store[g, d] = act_in[e, d]
        rew_store[g] = rew_in[e]
        if term_in[e]:
            f |= TERM
        elif trunc_in[e]:
            f |= TRUNC
        if first:
            f |= FIRST
        flags[g] = f
        n_valid[e] += 1
        q = p + 1 if p + 1 < C else 0
        gq = base + q
        if _is_transition(flags[gq]):
            n_valid[e] -= 1
        for d in range(obs_store.shape[1]):
            obs_store[gq, d] = next_in[e, d]
        flags[gq] = NO_TRANSITION
        if size[e] < C:
            size[e] += 1
        pos[e] = q
        new_ep[e] = 1 if (term_in[e] or trunc_in[e]) else 0
        written[e] = g
        pending[e] = gq


@nb.njit(cache=True, nogil=True, inline="always")
def _stack_ok(flags: np.ndarray, base: int, C: int, i: int, a: int, k: int) -> bool:
    """Walking back k-1 slots from slot i (age a) stays in the window or stops at FIRST."""
    cur = i
    for s in range(1, k):
        if flags[base + cur] & FIRST:
            return True
        if a - s < 0:
            return False
        cur = cur - 1 if cur > 0 else C - 1
    return True


@nb.njit(cache=True, nogil=True, inline="always")
def _copy_stack(obs: np.ndarray, flags: np.ndarray, base: int, C: int, i: int, k: int, out: np.ndarray, b: int) -> None:
    cur = i
    D = obs.shape[1]
    for t in range(k - 1, -1, -1):
        g = base + cur
        for d in range(D):
            out[b, t, d] = obs[g, d]
        if t > 0 and (flags[base + cur] & FIRST) == 0:
            cur = cur - 1 if cur > 0 else C - 1


@nb.njit(cache=True, nogil=True, inline="always")
def _fetch(b: int, e: int, i: int, C: int, k: int, n: int, pos: np.ndarray, size: np.ndarray, obs: np.ndarray,
           act: np.ndarray, rew: np.ndarray, flags: np.ndarray, gpow: np.ndarray, o_obs: np.ndarray, o_next: np.ndarray,
           o_act: np.ndarray, o_rew: np.ndarray, o_disc: np.ndarray) -> bool:
    """Validate transition (e, i); if sampleable, write row b of the outputs and return True."""
    base = e * C
    sz = size[e]
    oldest = pos[e] - sz + 1
    if oldest < 0:
        oldest += C
    a = i - oldest
    if a < 0:
        a += C
    if a > sz - 2 or not _is_transition(flags[base + i]):
        return False
    r = 0.0
    disc = gpow[n]
    last = n - 1
    j = i
    for s in range(n):
        if a + s > sz - 2:
            return False  # window not complete yet (crosses the write cursor)
        kind = flags[base + j] & KIND
        r += gpow[s] * rew[base + j]
        if kind == TERM:
            disc = 0.0
            last = s
            break
        if kind == TRUNC:
            disc = gpow[s + 1]
            last = s
            break
        j = j + 1 if j + 1 < C else 0
    nxt = i + last + 1
    if nxt >= C:
        nxt -= C
    if k > 1:
        if not _stack_ok(flags, base, C, i, a, k):
            return False
        if not _stack_ok(flags, base, C, nxt, a + last + 1, k):
            return False
    _copy_stack(obs, flags, base, C, i, k, o_obs, b)
    _copy_stack(obs, flags, base, C, nxt, k, o_next, b)
    _copy_action(flags, act, base + i, o_act, b)
    o_rew[b] = r
    o_disc[b] = disc
    return True


@nb.njit(cache=True, nogil=True, inline="always")
def _uniform_slot(ub: float, total: int, pos: np.ndarray, size: np.ndarray, C: int) -> tuple[int, int]:
    """Map ``ub ~ U[0,1)`` to slot ``(e, i)`` uniformly over the ``total`` stored slots of all envs."""
    t: int | np.int64 = np.int64(ub * total)
    if t >= total:
        t = total - 1
    e = 0
    while t >= size[e]:
        t -= size[e]
        e += 1
    i = pos[e] - size[e] + 1 + t
    if i < 0:
        i += C
    elif i >= C:
        i -= C
    return e, i


@nb.njit(cache=True, nogil=True)
def sample_uniform_kernel(u: np.ndarray, ok: np.ndarray, idx: np.ndarray, C: int, k: int, n: int, pos: np.ndarray,
                          size: np.ndarray, obs: np.ndarray, act: np.ndarray, rew: np.ndarray, flags: np.ndarray,
                          gpow: np.ndarray, o_obs: np.ndarray, o_next: np.ndarray, o_act: np.ndarray, o_rew: np.ndarray,
                          o_disc: np.ndarray) -> int:  # pragma: no cover
    """Map u ~ U[0,1) to slots uniformly over all stored slots; fill rows that are sampleable.

    Rows with ``ok`` already set are skipped; returns how many rows are still missing."""
    total = 0
    for e in range(size.shape[0]):
        total += size[e]
    missing = 0
    for b in range(u.shape[0]):
        if ok[b]:
            continue
        e, i = _uniform_slot(u[b], total, pos, size, C)
        idx[b] = e * C + i
        if _fetch(b, e, i, C, k, n, pos, size, obs, act, rew, flags, gpow,
                  o_obs, o_next, o_act, o_rew, o_disc):
            ok[b] = True
        else:
            missing += 1
    return missing


@nb.njit(cache=True, nogil=True)
def sample_uniform_1step_kernel(u: np.ndarray, ok: np.ndarray, idx: np.ndarray, C: int, gamma: float, pos: np.ndarray,
                                size: np.ndarray, obs: np.ndarray, act: np.ndarray, rew: np.ndarray, flags: np.ndarray,
                                o_obs: np.ndarray, o_next: np.ndarray, o_act: np.ndarray, o_rew: np.ndarray,
                                o_disc: np.ndarray) -> int:  # pragma: no cover
    """Fast path of :func:`sample_uniform_kernel` for ``n_step == 1`` and ``frame_stack == 1``.

    Same draws, same rows, same values.  With one-step windows and no stacks, a slot is
    sampleable iff its flags say it is a transition (the pending slot and end markers do not, and
    slots outside the stored window were never written or were overwritten), its bootstrap slot
    is the next one and the discount is ``0`` on ``TERM`` else ``γ``; so the window walk is
    skipped.  Three passes (slots, flags, gather) keep the random loads of each pass independent
    so the CPU overlaps their cache misses, which dominate at 1M capacity."""
    total = 0
    for e in range(size.shape[0]):
        total += size[e]
    B = u.shape[0]
    for b in range(B):
        if ok[b]:
            continue
        e, i = _uniform_slot(u[b], total, pos, size, C)
        idx[b] = e * C + i
    fl = np.zeros(B, np.uint8)
    for b in range(B):
        if not ok[b]:
            fl[b] = flags[idx[b]]
    missing = 0
    D = obs.shape[1]
    for b in range(B):
        if ok[b]:
            continue
        f = fl[b]
        if not _is_transition(f):
            missing += 1
            continue
        g = idx[b]
        gn = g + 1
        if gn % C == 0:
            gn -= C  # wrap inside the env's segment
        for d in range(D):
            o_obs[b, 0, d] = obs[g, d]
            o_next[b, 0, d] = obs[gn, d]
        _copy_action(flags, act, g, o_act, b)
        o_rew[b] = rew[g]
        o_disc[b] = 0.0 if (f & KIND) == TERM else gamma
        ok[b] = True
    return missing


@nb.njit(cache=True, nogil=True)
def sample_tree_kernel(u: np.ndarray, ok: np.ndarray, idx: np.ndarray, prio: np.ndarray, sum_tree: np.ndarray, C: int,
                       k: int, n: int, pos: np.ndarray, size: np.ndarray, obs: np.ndarray, act: np.ndarray,
                       rew: np.ndarray, flags: np.ndarray, gpow: np.ndarray, o_obs: np.ndarray, o_next: np.ndarray,
                       o_act: np.ndarray, o_rew: np.ndarray, o_disc: np.ndarray) -> int:  # pragma: no cover
    """Prefix-sum search of u (in [0, total)) in the sum tree; fill rows that are sampleable."""
    leaves = sum_tree.shape[0] // 2
    missing = 0
    for b in range(u.shape[0]):
        if ok[b]:
            continue
        g = tree_find(sum_tree, u[b])
        idx[b] = g
        prio[b] = sum_tree[leaves + g]
        e = g // C
        i = g - e * C
        if _fetch(b, e, i, C, k, n, pos, size, obs, act, rew, flags, gpow,
                  o_obs, o_next, o_act, o_rew, o_disc):
            ok[b] = True
        else:
            missing += 1
    return missing


@nb.njit(cache=True, nogil=True)
def per_weights_kernel(prio: np.ndarray, p_min: float, beta: float, out: np.ndarray) -> None:  # pragma: no cover
    """w_i = (N P(i))^-beta / max_j w_j = (p_i / p_min)^-beta  (N and the total cancel)."""
    for b in range(prio.shape[0]):
        out[b] = (prio[b] / p_min) ** (-beta)


@nb.njit(cache=True, nogil=True)
def update_priorities_kernel(sum_tree: np.ndarray, min_tree: np.ndarray, idx: np.ndarray, pr: np.ndarray, eps: float,
                             alpha: float, cap: int) -> float:  # pragma: no cover
    """Store (|p| + eps)^alpha at leaves idx, fix parents; return the largest stored value."""
    mx = 0.0
    for k in range(idx.shape[0]):
        g = idx[k]
        if g < 0 or g >= cap:
            raise IndexError("priority index out of range")
        v = (abs(pr[k]) + eps) ** alpha
        if v > mx:
            mx = v
        tree_set_leaf(sum_tree, min_tree, g, v)
    return mx
