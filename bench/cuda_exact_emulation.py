"""CPU emulation of the CUDA warp exact solver (src/cuda/exact_warp.cuh).

Same synchronous push-relabel pulses, global relabels and Newton rounds as
the kernel, one rank at a time, to study pulse counts without a GPU (it
reproduces the kernel's pulse statistics: cube mean 5.8). The kernel uses
relabel_every = 8; None means every S pulses (the earlier choice).

    python3 bench/cuda_exact_emulation.py   # hard S=64 D=4 instances
"""
import random, math


def derange(S, rng):
    while True:
        p = list(range(S)); rng.shuffle(p)
        if all(p[i] != i for i in range(S)): return p
def solve(S, D, r2o, fixed, block, relabel_every=None):
    o2r = [[0]*D for _ in range(S)]
    for i in range(S):
        for d in range(D): o2r[r2o[i][d]][d] = i
    dead = S + 1
    load = [fixed[i] + sum(block[i]) for i in range(S)]
    total = sum(load); blocks = sum(map(sum, block))
    mx = max(load); lower = max(fixed)
    if not total > 0 or not blocks > 0: return dict(rounds=0, pulses=0, relabels=0)
    L = max(total / S, lower)
    if mx <= L: return dict(rounds=0, pulses=0, relabels=0)
    tol = 1e-12 * total
    res = dict(rounds=0, pulses=0, relabels=0)
    every = relabel_every or S
    while True:
        exc = [max(0.0, load[i] - L) for i in range(S)]
        sink = [max(0.0, L - load[i]) for i in range(S)]
        flow = [[0.0]*D for _ in range(S)]
        def glob():
            lab = [1 if sink[i] > 0 else dead for i in range(S)]
            while True:
                res['relabels'] += 1
                nxt = []
                for v in range(S):
                    best = lab[v]
                    for d in range(D):
                        w = o2r[v][d]; u = r2o[v][d]
                        if block[v][d] - flow[v][d] > 0 and lab[w] + 1 < best: best = lab[w] + 1
                        if flow[u][d] > 0 and lab[u] + 1 < best: best = lab[u] + 1
                    nxt.append(best)
                if nxt == lab: return lab
                lab = nxt
        lab = glob()
        pulse = 0
        while pulse < 16384:
            pulse += 1
            if not any(exc[v] > 0 and lab[v] < dead for v in range(S)): break
            res['pulses'] += 1
            fin0 = [[flow[r2o[v][d]][d] for d in range(D)] for v in range(S)]
            pout = [[0.0]*D for _ in range(S)]; pback = [[0.0]*D for _ in range(S)]
            for v in range(S):
                e = exc[v]
                on = e > 0 and lab[v] < dead
                if on and lab[v] == 1 and sink[v] > 0:
                    sat = e >= sink[v]; dl = sink[v] if sat else e
                    sink[v] = 0.0 if sat else sink[v] - dl; e = e - dl if sat else 0.0
                for d in range(D):
                    w = o2r[v][d]; r = block[v][d] - flow[v][d]
                    if on and e > 0 and r > 0 and lab[w] == lab[v] - 1:
                        sat = e >= r; dl = r if sat else e
                        f = flow[v][d] + dl
                        flow[v][d] = block[v][d] if (sat or f > block[v][d]) else f
                        pout[v][d] = dl; e = e - dl if sat else 0.0
                for d in range(D):
                    u = r2o[v][d]; r = fin0[v][d]
                    if on and e > 0 and r > 0 and lab[u] == lab[v] - 1:
                        sat = e >= r; dl = r if sat else e
                        pback[v][d] = -1.0 if sat else dl; e = e - dl if sat else 0.0
                exc[v] = max(e, 0.0)
            for v in range(S):
                for d in range(D):
                    got = pout[r2o[v][d]][d]
                    if got > 0: exc[v] += got
                for d in range(D):
                    back = pback[o2r[v][d]][d]
                    if back != 0:
                        amt = flow[v][d] if back < 0 else back
                        f = flow[v][d] - amt
                        flow[v][d] = 0.0 if (back < 0 or f < 0) else f
                        exc[v] += amt
            if pulse % every == 0:
                lab = glob(); continue
            nl = list(lab)
            for v in range(S):
                best = 1 if sink[v] > 0 else dead
                for d in range(D):
                    w = o2r[v][d]; u = r2o[v][d]
                    if block[v][d] - flow[v][d] > 0 and lab[w] + 1 < best: best = lab[w] + 1
                    if flow[u][d] > 0 and lab[u] + 1 < best: best = lab[u] + 1
                if exc[v] > 0 and lab[v] < dead and best > lab[v]: nl[v] = min(best, dead)
            lab = nl
        res['rounds'] += 1
        left = sum(exc)
        if left <= tol or res['rounds'] >= S + 8: break
        lab = glob()
        X = [v for v in range(S) if lab[v] == dead]
        if not X: break
        s = sum(load[v] - sum(block[v][d] for d in range(D) if lab[o2r[v][d]] != dead) for v in X)
        nxt = s / len(X)
        if not nxt > L: break
        L = nxt
    return res
if __name__ == '__main__':
    import sys
    rng = random.Random(5)
    S, D, E = 64, 4, 512
    for trial in range(6):
        cols = [derange(S, rng) for _ in range(D)]
        r2o = [[cols[d][i] for d in range(D)] for i in range(S)]
        w = [1.0 / (e + 1) ** 0.9 for e in range(E)]; rng.shuffle(w)
        cnt = [0] * E
        import bisect
        acc = []; a = 0
        for x in w: a += x; acc.append(a)
        for _ in range(32768): cnt[bisect.bisect(acc, rng.random() * a)] += 1
        fixed = [sum(cnt[i * 8 + 4:i * 8 + 8]) * 1.0 for i in range(S)]
        block = [[cnt[i * 8 + d] * 1.0 for d in range(D)] for i in range(S)]
        for every in (None, 8, 4):
            print(trial, every, solve(S, D, r2o, fixed, block, every))
