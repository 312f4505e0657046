"""Nested exploration on training actors only: does training the AV speech regression also on copies of each
training clip (voice: 5-12% speed change, onnx-int8; random: degraded) raise out-of-fold fused UA?
Rule (fixed before running): build it only if its mean OOF fused UA beats the baseline by >= 0.5 points."""
import json
import time
import numpy as np
from avemo.shipping.av_corpus import load_av_corpus, suite_config
from avemo.shipping.corpora import load_corpora
from avemo.data.splits import make_folds
from avemo.systems.av_logreg import fit_logreg, log_probs
from sklearn.metrics import recall_score

cfg = suite_config()
recs, y, inputs, _ = load_av_corpus("../shared/data/ravdess", cfg)
xs, xa = inputs.speech, inputs.au
ids = [r.id for r in recs]
copies = {}
for cond, backend in [("voice", "onnx-int8"), ("random", "torch")]:
    found, yc, block, sec = load_corpora("../shared/data", ["ravdess"], "ravdess8", condition=cond, backend=backend)
    pos = {r.id.split("#")[0]: i for i, r in enumerate(found)}
    order = [pos.get(i) for i in ids]
    print(cond, sec, sum(o is None for o in order), block.x.shape if hasattr(block, "x") else type(block))
    copies[cond] = order, block
clean_found, _, clean_block, _ = load_corpora("../shared/data", ["ravdess"], "ravdess8")
print([a for a in dir(clean_block) if not a.startswith("_")])
cpos = {r.id: i for i, r in enumerate(clean_found)}
xc = clean_block.x[[cpos[i] for i in ids]]
print("clean equal to AV speech:", np.abs(xc - xs).max(), xs.shape)
C8 = 8
def ua(yt, p): return 100 * recall_score(yt, p, average="macro")
spk = np.array([r.speaker for r in recs])
folds = make_folds("ravdess-6fold", recs)
def oof_speech(rows, groups, extra):
    out = np.zeros((len(rows), C8))
    for g in np.unique(groups):
        te = groups == g
        trr = rows[~te]
        xtr = [xs[trr]] + [copies[c][1].x[[copies[c][0][i] for i in trr]] for c in extra]
        xtr = np.vstack(xtr)
        ytr = np.concatenate([y[trr]] * (1 + len(extra)))
        m, s = xtr.mean(0), xtr.std(0) + 1e-5
        coef, b0 = fit_logreg((xtr - m) / s, ytr, C8, 0.05, 1000, 1e-4)
        out[te] = log_probs((xs[rows[te]] - m) / s, coef, b0)
    return out
def oof_au(rows, groups):
    best = None
    for C in [0.01, 0.1, 1.0]:
        out = np.zeros((len(rows), C8))
        for g in np.unique(groups):
            te = groups == g
            a = xa[rows[~te]]
            m, s = a.mean(0), a.std(0) + 1e-5
            coef, b0 = fit_logreg((a - m) / s, y[rows[~te]], C8, C, 1000, 1e-4)
            out[te] = log_probs((xa[rows[te]] - m) / s, coef, b0)
        u = ua(y[rows], out.argmax(1))
        if best is None or u > best[0]:
            best = (u, out)
    return best[1]
def fuse_ua(ls, la, yt):
    return max(ua(yt, (w * ls + (1 - w) * la).argmax(1)) for w in np.arange(0, 1.0001, 0.05))
res = {}
for f in folds:
    t0 = time.time()
    rows = np.array(sorted(set(f.train) | set(f.val)))
    actors = sorted(set(spk[rows]))
    gid = {a: k % 5 for k, a in enumerate(actors)}
    groups = np.array([gid[s] for s in spk[rows]])
    yt = y[rows]
    la = oof_au(rows, groups)
    r = {}
    for name, extra in [("clean", []), ("clean+voice", ["voice"]), ("clean+random", ["random"])]:
        ls = oof_speech(rows, groups, extra)
        r["speech:" + name] = ua(yt, ls.argmax(1))
        r["fused:" + name] = fuse_ua(ls, la, yt)
    res[f.name] = r
    print(f.name, round(time.time() - t0), json.dumps({k: round(v, 1) for k, v in r.items()}), flush=True)
keys = next(iter(res.values())).keys()
print("MEAN", json.dumps({k: round(float(np.mean([res[f][k] for f in res])), 2) for k in keys}))
