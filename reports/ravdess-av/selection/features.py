"""Nested exploration on training actors only: out-of-fold fused UA for candidate AV late-fusion inputs.
Rule (fixed before running): a candidate is built only if its mean OOF fused UA over the 6 outer folds'
training actors beats the baseline A by >= 0.5 points."""
import json
import time
import numpy as np
from avemo.shipping.av_corpus import load_av_corpus, suite_config
from avemo.data.splits import make_folds
from avemo.systems.av_logreg import fit_logreg, log_probs
from avemo.features.store import FeatureStore, extract_all
from avemo.systems.inputs import vector_matrix
from sklearn.metrics import recall_score

cfg = suite_config()
recs, y, inputs, _ = load_av_corpus("../shared/data/ravdess", cfg)
feats, _ = extract_all(recs, ["egemaps"], FeatureStore("default"), 1)
eg = vector_matrix(["egemaps"], feats)
xs, xa = inputs.speech, inputs.au
spk = np.array([r.speaker for r in recs])
folds = make_folds("ravdess-6fold", recs)
C8 = 8
def ua(yt, p): return 100 * recall_score(yt, p, average="macro")
def zs(xtr, xte):
    m, s = xtr.mean(0), xtr.std(0) + 1e-5
    return (xtr - m) / s, (xte - m) / s
def quad(x):
    i, j = np.triu_indices(x.shape[1], 1)
    return np.hstack([x, x ** 2, x[:, i] * x[:, j]])
def oof(x, rows, groups, C):
    out = np.zeros((len(rows), C8))
    for g in np.unique(groups):
        te = groups == g
        a, b = zs(x[rows[~te]], x[rows[te]])
        coef, b0 = fit_logreg(a, y[rows[~te]], C8, C, 1000, 1e-4)
        out[te] = log_probs(b, coef, b0)
    return out
def fuse_ua(ls, la, yt):
    best = 0
    for w in np.arange(0, 1.0001, 0.05):
        best = max(best, ua(yt, (w * ls + (1 - w) * la).argmax(1)))
    return best
speech_sets = {"A_whisper": xs, "B_whisper+egemaps": np.hstack([xs, eg])}
au_sets = {"au35": xa, "au_quad": None}
res = {}
for f in folds:
    t0 = time.time()
    rows = np.array(sorted(set(f.train) | set(f.val)))
    actors = sorted(set(spk[rows]))
    gid = {a: k % 5 for k, a in enumerate(actors)}
    groups = np.array([gid[s] for s in spk[rows]])
    yt = y[rows]
    sp = {k: oof(v, rows, groups, 0.05) for k, v in speech_sets.items()}
    au = {}
    for k in au_sets:
        x = xa if k == "au35" else quad((xa - xa[rows].mean(0)) / (xa[rows].std(0) + 1e-5))
        cands = {C: oof(x, rows, groups, C) for C in [0.01, 0.1, 1.0]}
        C = max(cands, key=lambda c: ua(yt, cands[c].argmax(1)))
        au[k] = cands[C]
    r = {f"speech:{k}": ua(yt, v.argmax(1)) for k, v in sp.items()}
    r.update({f"au:{k}": ua(yt, v.argmax(1)) for k, v in au.items()})
    for ks in sp:
        for ka in au:
            r[f"fused:{ks}|{ka}"] = fuse_ua(sp[ks], au[ka], yt)
    res[f.name] = r
    print(f.name, round(time.time() - t0), json.dumps({k: round(v, 1) for k, v in r.items()}), flush=True)
keys = next(iter(res.values())).keys()
print("MEAN", json.dumps({k: round(float(np.mean([res[f][k] for f in res])), 2) for k in keys}))
