"""Would an ensemble of the grid's runs beat its best run? Judged on the VALIDATION split only.

The report has an ensemble of each run's repeats (`--seeds N`: the mean of their test probabilities). Issue 11 also names
an ensemble of the grid's runs. This script trains the default experiment's two augmented runs on PneumoniaMNIST (28 px,
`--no-pretrained`: the custom CNN with the 2,000-step budget, 56 epochs here, and ResNet-18 from random weights for the
8 epochs the 2-minute cap gives it on the 2-core CPU; every other default) for seeds 42, 43, 44, and scores on the
validation split, with the weights each run tests: each run alone and the mean of the two runs' class probabilities (an
ensemble of one seed's grid, which costs nothing more to train). The test split is not printed.

Decision rule, written before the first run (the one of `regularisation.py`): the ensemble is worth building into the report only
if its 3-seed mean validation loss is lower than the best single run's (cnn-aug, the grid's best by validation) by more
than the larger of the two seed sds AND its mean validation accuracy is not lower by more than the larger accuracy sd.

    python bench/grid_ensemble.py --data-dir ../../shared/data --out results/grid-ensemble-pneumoniamnist-28.md
"""
import time, warnings
warnings.filterwarnings('ignore')
from pathlib import Path
import numpy as np, torch
from medmnist.evaluator import getAUC
from pathfast.core import Config
from pathfast.train import RunSpec, train_run
from convergence import Grab, tested_valid
from regularisation import parser, start, finish

RUNS = {'cnn-aug': dict(model='cnn'), 'resnet18-scratch-aug': dict(model='resnet18', epochs=8)}

def scores(p, y):
    "Accuracy, cross-entropy and AUC of class probabilities `p` against labels `y`"
    ce = float(torch.nn.functional.nll_loss(torch.log(torch.from_numpy(p).clamp_min(1e-12)), torch.from_numpy(y)))
    return float((p.argmax(1) == y).mean()), ce, float(getAUC(y, p, 'binary-class'))

def main():
    a = parser(RUNS).parse_args()
    data, lines = start(a, "the default experiment's augmented runs (--no-pretrained) and their mean")
    res = {}
    for seed in map(int, a.seeds.split(',')):
        probs = {}
        for name, how in RUNS.items():
            how = dict(how); model = how.pop('model')
            cfg = Config(dataset='pneumoniamnist', size=28, pretrained=False, device=a.device, seed=seed, **how)
            t = time.time()
            r = train_run(data, RunSpec(model, False, True), cfg, cbs=[Grab()])
            p, y, _ = tested_valid(Grab.learner)
            probs[name] = p
            res.setdefault(name, []).append(scores(p, y))
            lines.append(f"| {name} | {seed} | {r.epochs} | {r.best_epoch} | " + ' | '.join(f'{v:.4f}' for v in res[name][-1]) + f" | {time.time() - t:.0f} |")
            print(lines[-1], flush=True)
        assert len({len(p) for p in probs.values()}) == 1
        res.setdefault('mean of both', []).append(scores(np.mean(list(probs.values()), 0), y))
        lines.append(f"| mean of both | {seed} | | | " + ' | '.join(f'{v:.4f}' for v in res['mean of both'][-1]) + " | |")
        print(lines[-1], flush=True)
        if a.out: Path(a.out).write_text('\n'.join(lines) + '\n')
    finish(a, res, lines, 'cnn-aug')

if __name__ == '__main__': main()
