"""How big are a run's saved weights, and how fast does `pathfast-predict` predict with them?

Trains the custom CNN and ResNet-18 (from random weights, one epoch on 200 images: speed and size do not depend on how
well a model is trained) on the real PneumoniaMNIST (28 px) into a temporary store, then predicts its 624 test images
with each run: `load_run` + `predict` in the run's precision and in fp32, ONNX Runtime on the exported model, and the
`pathfast-predict` command end to end (process start and imports included). Prints a markdown table.
    python bench/predict.py [--repeats 3] [--bs 64] [--out bench/results/predict-cpu.md]
"""
import argparse, os, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, torch
from pathfast.core import Config, hardware
from pathfast.data import load_medmnist, subset
from pathfast.experiment import run_experiment
from pathfast.predict import load_run, predict, image_items, export_onnx, load_image
from pathfast.export import Predictor
from pathfast.train import cpu_has_bf16

p = argparse.ArgumentParser()
p.add_argument('--repeats', type=int, default=3); p.add_argument('--bs', type=int, default=64); p.add_argument('--out', default=None)
p.add_argument('--data-dir', default=str(Path(__file__).resolve().parents[2]/'shared/data'))
a = p.parse_args()
data = subset(load_medmnist('pneumoniamnist', 28, a.data_dir, download=False), 200, seed=42)
tmp = Path(tempfile.mkdtemp())
cfg = Config(dataset='pneumoniamnist', size=28, models=['cnn', 'resnet18:scratch'], aug=['off'], epochs=1, pretrained=False, device='cpu')
res = run_experiment(data, cfg, tmp/'store', log=lambda l: None)
npz = Path(a.data_dir)/'pneumoniamnist.npz'
items = image_items([f'{npz}:test'])

def best_of(f)->float:
    ts = []
    for _ in range(a.repeats):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)

rows, load0 = [], os.getloadavg()[0]
for name, r in res.items():
    info = r.model_file
    row = dict(run=name, arch=r.arch, params=r.params, bytes=info['bytes'], input_size=info['input_size'])
    row['load_s'] = best_of(lambda: load_run(tmp/'store', name, 'cpu'))
    for prec in dict.fromkeys([info['precision'], 'fp32']):
        pred, _ = load_run(tmp/'store', name, 'cpu', prec)
        row[f'{prec}_ips'] = len(items) / best_of(lambda: predict(pred, items, info['size'], info['channels'], a.bs))
    pred, _ = load_run(tmp/'store', name, 'cpu', 'fp32')
    x = torch.from_numpy(np.stack([load_image(s, info['size'], info['channels']) for _, s in items]))
    cpu = Predictor(pred.model, info).to(memory_format=torch.contiguous_format)
    t = time.perf_counter(); row['onnx_diff'] = export_onnx(cpu, tmp/f'{name}.onnx', x[:a.bs]); row['onnx_export_s'] = time.perf_counter() - t
    row['onnx_bytes'] = (tmp/f'{name}.onnx').stat().st_size
    import onnxruntime as ort
    sess = ort.InferenceSession(str(tmp/f'{name}.onnx'), providers=['CPUExecutionProvider'])
    row['onnx_ips'] = len(items) / best_of(lambda: [sess.run(None, {'images': b.numpy()}) for b in x.split(a.bs)])
    cmd = [str(Path(sys.executable).parent/'pathfast-predict'), str(tmp/'store'), f'{npz}:test', '--run', name, '--device', 'cpu', '--out', str(tmp/'p.csv')]
    row['cli_s'] = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True))
    rows.append(row)
    print(row, flush=True)

hw = hardware('cpu')
lines = [f"PneumoniaMNIST 28 px test split (624 images), batch {a.bs}, best of {a.repeats}; {hw['cpu']} x{hw['cpu_cores']} "
         f"(torch threads {hw['torch_threads']}), bf16 instructions: {cpu_has_bf16()}; torch {torch.__version__}; "
         f"load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after (other jobs sharing the cores slow every number)", '',
         "| run | weights file | load (s) | PyTorch, run's precision (img/s) | PyTorch fp32 (img/s) | ONNX file | ONNX export (s) | ONNX Runtime (img/s) | max \\|ONNX - PyTorch\\| | `pathfast-predict` end to end (s) |",
         '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
for r, (name, run) in zip(rows, res.items()):
    lines.append(f"| {name} ({r['arch']}, {r['params']/1e6:.2f} M params, input {r['input_size']} px) | {r['bytes']/1e6:.2f} MB | {r['load_s']:.2f} | "
                 f"{r[run.model_file['precision'] + '_ips']:,.0f} ({run.model_file['precision']}) | {r['fp32_ips']:,.0f} | {r['onnx_bytes']/1e6:.2f} MB | "
                 f"{r['onnx_export_s']:.1f} | {r['onnx_ips']:,.0f} | {r['onnx_diff']:.1e} | {r['cli_s']:.1f} |")
print('\n'.join(lines))
if a.out: Path(a.out).write_text('# pathfast-predict on a CPU (`python bench/predict.py`)\n\n' + '\n'.join(lines) + '\n')
