"Data-parallel training: two CPU processes (gloo) started by `accelerate launch`, on a small synthetic set."
import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from conftest import offline_env, runs_of

ACCELERATE = Path(sys.executable).parent/'accelerate'
N_TRAIN, BS = 256, 32  # two processes: 128 training images each per epoch, in batches of 16
ARGS = ['--epochs', '2', '--bs', str(BS), '--models', 'cnn', '--aug', 'off,on', '--no-pretrained', '--device', 'cpu',
        '--results-dir', 'store', '--out', 'report.html']

# Run in every process: the real CLI, recording what the process trains on and which files it renames into place
DRIVER = '''
import json, os, sys
from pathfast import distrib
from pathfast.data import ArrayDL
from pathfast.cli import main
seen, writes, create, replace = [], [], ArrayDL.create_batches, os.replace
def record(self, samps):
    samps = list(samps)
    if self.shuffle and self.seed is not None: seen.append(samps[:len(samps) // self.bs * self.bs])  # a training epoch's share (full batches)
    yield from create(self, samps)
def replacing(src, dst, *a, **k):
    writes.append(os.path.abspath(dst)); return replace(src, dst, *a, **k)
ArrayDL.create_batches, os.replace = record, replacing
try: main(sys.argv[1:])
finally: open(f'rank{distrib.rank()}.json', 'w').write(json.dumps(dict(seen=seen, writes=writes)))
'''

def launch(tmp:Path, *args)->tuple:
    "Run the CLI in 2 processes; its result and what each process saw and wrote"
    for r in (0, 1): (tmp/f'rank{r}.json').unlink(missing_ok=True)
    env = dict(offline_env(tmp), CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    p = subprocess.run([str(ACCELERATE), 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1', '--mixed_precision', 'no',
                        '--dynamo_backend', 'no', str(tmp/'driver.py'), *ARGS, *args], cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return p, [json.loads((tmp/f'rank{r}.json').read_text()) for r in (0, 1)]

@pytest.fixture(scope='module')
def ddp(tmp_path_factory):
    from pathfast.data import write_synthetic
    tmp = tmp_path_factory.mktemp('ddp')
    write_synthetic(tmp/'syn.npz', n=(N_TRAIN, 64, 70), size=28)  # 70 test images: batches of 32, 32 and 6 split unevenly
    (tmp/'driver.py').write_text(DRIVER)
    p, ranks = launch(tmp, '--npz', 'syn.npz')
    return dict(tmp=tmp, proc=p, ranks=ranks)

def test_shards(ddp):
    "Each epoch, the two processes train on disjoint halves of the training split that together cover it once"
    r0, r1 = (r['seen'] for r in ddp['ranks'])
    assert len(r0) == len(r1) == 4  # 2 runs x 2 epochs
    for a, b in zip(r0, r1):
        assert len(a) == len(b) == N_TRAIN // 2 and not set(a) & set(b)
        assert sorted(a + b) == list(range(N_TRAIN))
    assert r0[0] != r0[1]  # a new permutation every epoch

def test_written_once(ddp):
    "The store holds exactly the grid's runs, each file written once, all by the main process; one process prints"
    store, (w0, w1) = ddp['tmp']/'store', (r['writes'] for r in ddp['ranks'])
    assert sorted(runs_of(store)) == ['cnn-aug', 'cnn-noaug']
    assert w1 == []
    files = [Path(w).relative_to(store.resolve()).as_posix() for w in w0 if w.startswith(str(store.resolve()))]
    assert sorted(files) == sorted(['manifest.json', 'batch.png', *(f'runs/cnn-{a}.{e}' for a in ('noaug', 'aug') for e in ('json', 'safetensors'))])
    assert 'data-parallel on 2 processes' in (ddp['tmp']/'report.html').read_text()  # the report's Methods say so
    assert json.loads((ddp['tmp']/'store'/'manifest.json').read_text())['config']['processes'] == 2
    out = ddp['proc'].stdout
    assert out.count('cnn-noaug training') == 1 and out.count('epoch  train_loss') == 2 and '2 processes' in out
    assert all(r['budget']['processes'] == 2 and r['budget']['bs_per_process'] == BS // 2 and r['bs'] == BS for r in runs_of(store).values())

def test_single_process_metrics(ddp):
    "The gathered test metrics are those one process computes from the saved weights"
    from pathfast.core import Config
    from pathfast.data import load_npz, get_dls
    from pathfast.export import load_weights
    from pathfast.train import RunSpec, make_learner, speed_cbs, evaluate
    torch.set_num_threads(1)  # as each launched process
    store, data = ddp['tmp']/'store', load_npz(ddp['tmp']/'syn.npz')
    dls = get_dls(data, BS, augment=False, device='cpu')
    for name, r in runs_of(store).items():
        learn = make_learner(RunSpec('cnn', False, r['augment']), dls, Config())
        learn.model = load_weights(store/'runs'/f'{name}.safetensors', r['model_file']).to(memory_format=torch.channels_last)
        learn.add_cbs(speed_cbs(torch.device('cpu'), r['precision']))
        ev = evaluate(learn, dls[2], data.classes, data.task)
        assert ev['y'].tolist() == r['test_labels']
        np.testing.assert_allclose(np.round(ev['probs'], 5), r['test_probs'], atol=2e-5)
        assert ev['confusion_matrix'] == r['confusion_matrix']
        for k in ('accuracy', 'auc', 'f1', 'balanced_accuracy'): assert ev['metrics'][k] == pytest.approx(r['metrics'][k], abs=1e-6)

def test_resume(ddp):
    "Run again after the second run was lost (as when the command is interrupted while training it): only that run is trained again"
    tmp = ddp['tmp']
    keep = (tmp/'store'/'runs'/'cnn-noaug.json').read_text()
    (tmp/'store'/'runs'/'cnn-aug.json').unlink()
    p, (r0, r1) = launch(tmp, '--npz', 'syn.npz')
    assert 'cnn-noaug already in' in p.stdout and p.stdout.count('cnn-aug   training') == 1
    assert len(r0['seen']) == len(r1['seen']) == 2  # one run, two epochs, in both processes
    assert (tmp/'store'/'runs'/'cnn-noaug.json').read_text() == keep
    assert sorted(runs_of(tmp/'store')) == ['cnn-aug', 'cnn-noaug'] and r1['writes'] == []

def test_module_entry(tmp_path):
    "`python -m pathfast`, what a launcher starts in each process, is the `pathfast-report` command"
    p = subprocess.run([sys.executable, '-m', 'pathfast', '--help'], cwd=tmp_path, env=offline_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and '--no-pretrained' in p.stdout and '-m pathfast' in p.stdout
