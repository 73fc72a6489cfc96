"""What a run's Grad-CAM sample (`pathfast.saliency.gradcam_sample`, kept in `RunResult.saliency`) costs: JSON size and time.

Trains a model for one epoch (the sample's size depends on how many test images are wrong, not on how good the model is),
predicts the test split as training does, and times `gradcam_sample` given those probabilities, as `train_run` calls it: the real PneumoniaMNIST at 28 px (grey, 624 test images), and a
synthetic PathMNIST-like set of 9 colour classes at 64 px (1,800 test images). Prints one JSON line per case.
    python bench/saliency.py [--models cnn,resnet18]
"""
import argparse, json, time, tempfile
from pathlib import Path
from fastai.torch_core import set_seed
from pathfast.core import hardware
from pathfast.data import load_npz, class_names, write_synthetic, get_dls
from pathfast.models import cnn_learner, backbone_learner
from pathfast.saliency import gradcam_sample

p = argparse.ArgumentParser()
p.add_argument('--models', default='cnn,resnet18')
p.add_argument('--npz', default=str(Path(__file__).parent.parent.parent/'shared/data/pneumoniamnist.npz'))
a = p.parse_args()
tmp = Path(tempfile.mkdtemp())
sets = {'pneumoniamnist-28': load_npz(a.npz, class_names('pneumoniamnist'), flag='pneumoniamnist', size=28),
        'synthetic-9-class-64': load_npz(write_synthetic(tmp/'syn.npz', n=(1800, 200, 1800), size=64, n_classes=9, noise=90.), size=64)}
for name, data in sets.items():
    for m in a.models.split(','):
        set_seed(0, reproducible=True)
        dls = get_dls(data, bs=64, augment=False, device='cpu')
        learn = cnn_learner(dls) if m == 'cnn' else backbone_learner(dls, m, pretrained=False)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 3e-3)
        probs = learn.get_preds(dl=dls[2])[0].numpy()
        t = time.perf_counter()
        sal = gradcam_sample(learn, dls[2], data.classes, data.task, probs=probs)
        secs = time.perf_counter() - t
        print(json.dumps(dict(data=name, model=m, test_images=len(dls[2].dataset), items=len(sal['items']), layer=sal['layer'],
                              feature_map=sal['feature_map'], kb=round(len(json.dumps(sal)) / 1024, 1), seconds=round(secs, 2))), flush=True)
hw = hardware('cpu')
print(f"\n{hw['cpu']} x{hw['cpu_cores']}, {hw['torch_threads']} torch threads")
