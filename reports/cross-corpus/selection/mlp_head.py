"""Feasibility (reports/cross-corpus/selection/README.md): inner leave-one-corpus-out UA (outer held-out corpus never scored) of the linear head vs a small
MLP with corpus-balanced minibatches and mixup across corpora, on the PCA-128 proxy of layers 0-6, masked loss."""
import sys, time, json
import numpy as np, torch
from avemo.shipping.corpora import load_corpora
from avemo.systems.transfer_selection import capped_rows, principal_basis, loss_masks, softmax
from avemo.systems.probe_stats import balance_weights, fit_softmax_regression, corpus_ua
from avemo.labels import label_set
torch.set_num_threads(1)
classes = label_set("ravdess8")
recs, y, inputs, _ = load_corpora("../shared/data", cache="default")
outer = sys.argv[1:] or ["ravdess", "ased", "turev"]

def fit_mlp(x, yy, mask, w, hidden, wd, mixup, epochs=40, seed=0, drop=0.5):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(x.shape[1], hidden), torch.nn.GELU(),
                              torch.nn.Dropout(drop), torch.nn.Linear(hidden, len(classes)))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=wd)
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(yy)
    mt = torch.from_numpy(mask)
    p = torch.from_numpy(w / w.sum()).float()
    steps = epochs * (len(yy) // 256)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    onehot = torch.eye(len(classes))
    for _ in range(steps):
        i = torch.multinomial(p, 256, replacement=True, generator=g)  # corpus- and class-balanced draws
        xb, tb, mb = xt[i], onehot[yt[i]], mt[i]
        if mixup:
            j = torch.multinomial(p, 256, replacement=True, generator=g)
            lam = torch.distributions.Beta(mixup, mixup).sample((256, 1))
            xb = lam * xb + (1 - lam) * xt[j]; tb = lam * tb + (1 - lam) * onehot[yt[j]]; mb = mb | mt[j]
        logits = net(xb).masked_fill(~mb, -1e9)
        loss = -(tb * torch.log_softmax(logits, 1)).sum(1).mean()
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    net.eval()
    return net

res = {}
for out in outer:
    rows = np.flatnonzero(inputs.corpus != out)
    inner = rows[capped_rows(inputs.corpus[rows], y[rows])]
    x = inputs.x[inner]; yy = y[inner]; cc = inputs.corpus[inner]
    z = (x - x.mean(0)) / np.maximum(x.std(0), 1e-6); z = z @ principal_basis(z, 128)
    mask = loss_masks(cc, classes, "masked")
    cands = {"linear l2=0.1": None, "linear l2=1": None, "mlp256 wd.01": (256, 0.01, 0), "mlp256 wd.01 mix.4": (256, 0.01, 0.4),
             "mlp512 wd.1 mix.4": (512, 0.1, 0.4)}
    scores = {k: {} for k in cands}
    t0 = time.time()
    for held in np.unique(cc):
        te, tr = cc == held, cc != held
        w = balance_weights(cc[tr], yy[tr])
        for k, spec in cands.items():
            if spec is None:
                coef, bias = fit_softmax_regression(z[tr], yy[tr], mask[tr], w, float(k.split("=")[1]), max_iter=60)
                logits = z[te] @ coef.T + bias
            else:
                net = fit_mlp(z[tr], yy[tr], mask[tr], w, *spec)
                with torch.no_grad():
                    logits = net(torch.from_numpy(z[te].astype(np.float32))).numpy()
            scores[k].update(corpus_ua(yy[te], softmax(logits), cc[te], classes))
    res[out] = {k: float(np.mean(list(v.values()))) for k, v in scores.items()}
    print(out, f"{time.time()-t0:.0f}s", {k: round(100 * v, 1) for k, v in res[out].items()}, flush=True)
json.dump(res, open("/tmp/w/mlp_probe.json", "w"), indent=1)
