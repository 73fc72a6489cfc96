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

    python bench/grid_ensemble.py --data-dir ../shared/data --out /tmp/grid-ensemble.md

`--out` writes the printed table; `bench/results/grid-ensemble-pneumoniamnist-28.md` holds it with its set-up and verdict.
"""
import time, warnings
warnings.filterwarnings('ignore')
import numpy as np
from pathfast.core import Config
from pathfast.train import RunSpec, train_run
from convergence import Grab
from regularisation import parser, start, record, add_row, scores, finish

RUNS = {'cnn-aug': dict(model='cnn'), 'resnet18-scratch-aug': dict(model='resnet18', epochs=8)}

def main():
    a = parser(RUNS).parse_args()
    data, lines = start(a, "the default experiment's augmented runs (--no-pretrained) and their mean")
    res = {}
    for seed in map(int, a.seeds.split(',')):
        probs = []
        for name, how in RUNS.items():
            how = dict(how); model = how.pop('model')
            cfg = Config(dataset='pneumoniamnist', size=28, pretrained=False, device=a.device, seed=seed, **how)
            t = time.time()
            r = train_run(data, RunSpec(model, False, True), cfg, cbs=[Grab()])
            p, y = record(a, data, res, lines, name, seed, r, Grab.learner, t)
            probs.append(p)
        add_row(a, res, lines, 'mean of both', scores(np.mean(probs, 0), y, data.task), seed, '', '', '')
    finish(a, res, lines, 'cnn-aug')

if __name__ == '__main__': main()
