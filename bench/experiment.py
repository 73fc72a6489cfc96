"""Time the whole pathfast experiment end to end on synthetic data of PathMNIST-64's size.

Writes a MedMNIST-format npz with PathMNIST's official split sizes (89,996 / 10,004 / 7,180 images, 64x64x3, 9 classes),
then runs `pathfast-report` on it in a fresh process (data loading, the grid's runs, evaluation, the report) and records
the wall time, each run's training time and the machine in `bench/results/experiment-<device>.{json,md}`.

    PYTHONPATH=. python bench/experiment.py                      # the default preset of the machine (full on a GPU)
    PYTHONPATH=. python bench/experiment.py --n 2000,500,500 -- --epochs 1   # a quick check of the script on a CPU

Everything after `--` goes to `pathfast-report` (e.g. `--epochs 1`, `--subset 1000`, `--full`, `--models cnn,efficientnet_lite0`;
the default grid is cnn and resnet18, each with and without augmentation: four runs). Backbones are trained without
pretrained weights (`--no-pretrained`): the benchmark machines have no network, and without a frozen phase every
backbone epoch is a full one, so the time is, if anything, an overestimate of a pretrained run's.
"""
import argparse, json, os, platform, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PATH_N = (89_996, 10_004, 7_180)  # PathMNIST's official train / val / test sizes

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--n', default=','.join(map(str, PATH_N)), help="train,val,test images (default: PathMNIST's)")
    p.add_argument('--workdir', help="where the npz, results store and report go (default: a temporary directory, removed after)")
    p.add_argument('--out', help="results path without extension (default bench/results/experiment-<device>)")
    p.add_argument('report_args', nargs='*', help="after --: arguments for pathfast-report")
    a = p.parse_args(argv)
    a.argv = sys.argv[1:] if argv is None else argv
    n = tuple(int(v) for v in a.n.split(','))
    work = Path(a.workdir or tempfile.mkdtemp(prefix='pathfast-experiment-'))
    work.mkdir(parents=True, exist_ok=True)
    try: run(a, n, work)
    finally:
        if not a.workdir: shutil.rmtree(work, ignore_errors=True)

def run(a, n:tuple, work:Path):
    from pathfast.core import hardware
    from bench import device_slug  # bench/bench.py, beside this script
    from pathfast.data import write_synthetic
    t = time.perf_counter()
    npz = write_synthetic(work/'pathmnist_64.npz', n=n, size=64, n_classes=9)
    write_s = time.perf_counter() - t
    print(f"wrote {npz} ({npz.stat().st_size / 2**20:.0f} MiB, {sum(n):,} images) in {write_s:.0f} s", flush=True)
    cmd = [sys.executable, '-c', 'from pathfast.cli import main; main()', '--dataset', 'pathmnist', '--size', '64', '--npz', str(npz),
           '--no-pretrained', '--results-dir', str(work/'results'), '--out', str(work/'report.html'), *a.report_args]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')])))
    print('$ pathfast-report ' + ' '.join(cmd[3:]), flush=True)
    t = time.perf_counter()
    rc = subprocess.run(cmd, env=env, cwd=ROOT).returncode
    wall = time.perf_counter() - t
    if rc != 0: sys.exit(f"experiment: pathfast-report failed (exit {rc}) after {wall:.0f} s")
    manifest = json.loads((work/'results'/'manifest.json').read_text())
    runs = {f.stem: json.loads(f.read_text()) for f in sorted((work/'results'/'runs').glob('*.json'))}
    hw = manifest.get('hardware') or hardware()  # what the runs trained on, as the store recorded it
    res = dict(command=' '.join(['python bench/experiment.py', *a.argv]), n=n, started=time.strftime('%Y-%m-%dT%H:%M:%S'),
               write_npz_s=round(write_s, 1), end_to_end_s=round(wall, 1), hardware=hw, platform=platform.platform(),
               preset=manifest.get('preset'), config=manifest.get('config'), report_bytes=(work/'report.html').stat().st_size,
               runs={k: dict(train_seconds=round(v['train_seconds'], 1), epochs=v['epochs'], seconds_per_epoch=round(v['seconds_per_epoch'], 2),
                             test_acc=round(v['metrics']['accuracy'], 4), test_auc=round(v['metrics']['auc'], 4),
                             inference_ips=round(v['inference_ips'])) for k, v in runs.items()})
    out = Path(a.out) if a.out else ROOT/'bench'/'results'/f"experiment-{device_slug('cuda' if hw.get('gpu') else 'cpu')}"  # named as bench.py's
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix('.json').write_text(json.dumps(res, indent=1) + '\n')
    train_s = sum(r['train_seconds'] for r in res['runs'].values())
    md = [f"# The whole experiment, end to end: {hw.get('gpu') or hw.get('cpu')}", '',
          f"{res['started']}; `{res['command']}`; synthetic data of PathMNIST-64's shape ({', '.join(f'{v:,}' for v in n)} train/val/test "
          f"images); preset {json.dumps(res['preset'])}.", '',
          f"**End to end: {wall:.0f} s** (`pathfast-report` in a fresh process: imports, data loading, the {len(runs)} runs with their test "
          f"evaluations, the report); of it training {train_s:.0f} s. Writing the npz beforehand took {write_s:.0f} s (not counted).", '',
          '| run | epochs | train s | s/epoch | test acc | test AUC | inference img/s |', '|---|---:|---:|---:|---:|---:|---:|']
    md += [f"| {k} | {r['epochs']} | {r['train_seconds']:.1f} | {r['seconds_per_epoch']:.2f} | {r['test_acc']:.4f} | {r['test_auc']:.4f} | {r['inference_ips']:,} |"
           for k, r in res['runs'].items()]
    md += ['', 'Accuracy on synthetic data only shows that the runs learned; the times are the point.', '']
    out.with_suffix('.md').write_text('\n'.join(md))
    print('\n'.join(md))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")

if __name__ == '__main__': main()
