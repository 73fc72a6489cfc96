"Data-parallel training: two CPU processes (gloo) started by `accelerate launch`, on a small synthetic set."
import json, os, shutil, signal, socket, subprocess, sys, time
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

@pytest.mark.parametrize('how', ['ctrl-c', 'sigterm'])
def test_interrupted_under_the_launcher_then_resumed(ddp, tmp_path, how):
    """Stop a 2-process job while its second run trains: Ctrl-C in a terminal (SIGINT to the launcher and both processes)
    or a scheduler's SIGTERM to the launcher alone. Every process ends, the store keeps the finished run whole, the main
    process says so once, and the same command resumes: only the lost run is trained (resumed after Ctrl-C)"""
    shutil.copy(ddp['tmp']/'syn.npz', tmp_path/'syn.npz')
    env = dict(offline_env(tmp_path), CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    cmd = [str(ACCELERATE), 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1', '--mixed_precision', 'no',
           '--dynamo_backend', 'no', '-m', 'pathfast', '--npz', 'syn.npz', *ARGS, '--epochs', '12']  # about 4 s a run
    with open(tmp_path/'err.txt', 'w') as err:  # its own process group, as a terminal's foreground job
        p = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
    second, out = False, []
    for line in p.stdout:  # wait for the second run's third epoch
        out.append(line)
        second = second or (line.startswith('cnn-aug') and 'training' in line)
        if second and line.startswith('3 '): break
    assert second, ''.join(out)[-2000:]
    if how == 'ctrl-c': os.killpg(p.pid, signal.SIGINT)
    else: p.send_signal(signal.SIGTERM)
    out.append(p.stdout.read())
    p.wait(timeout=120)
    time.sleep(1)
    with pytest.raises(ProcessLookupError): os.killpg(p.pid, 0)  # no process of the job is left
    err = (tmp_path/'err.txt').read_text()
    assert p.returncode != 0 and 'cnn-aug   test' not in ''.join(out)
    assert err.count('pathfast-report: interrupted: finished runs are kept in store; run the same command again to resume') == 1
    store = tmp_path/'store'
    assert sorted(runs_of(store)) == ['cnn-noaug'] and not (tmp_path/'report.html').exists()
    assert sorted(f.name for f in (store/'runs').iterdir()) == ['cnn-noaug.json', 'cnn-noaug.safetensors']  # no half-written file
    if how == 'sigterm': return  # resuming does not depend on how the job was stopped
    keep = (store/'runs'/'cnn-noaug.json').read_text()
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'cnn-noaug already in' in r.stdout and r.stdout.count('cnn-aug   training') == 1 and 'cnn-noaug training' not in r.stdout
    runs = runs_of(store)
    assert sorted(runs) == ['cnn-aug', 'cnn-noaug'] and (store/'runs'/'cnn-noaug.json').read_text() == keep
    assert len(runs['cnn-aug']['history']) == 12 and (tmp_path/'report.html').exists()

def free_port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def two_machines(tmp:Path, procs:int, *cmd)->list:
    "Run `cmd` (what follows `accelerate launch`) as 2 machines of `procs` processes on this host, each in its own folder with its own cache; their results"
    port, ps = free_port(), []
    for m in (0, 1):
        (tmp/f'm{m}').mkdir(exist_ok=True)
        env = dict(offline_env(tmp/f'm{m}'), CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
        with open(tmp/f'm{m}'/'out.txt', 'w') as out, open(tmp/f'm{m}'/'err.txt', 'w') as err:
            ps.append(subprocess.Popen([str(ACCELERATE), 'launch', '--multi_gpu', '--num_machines', '2', '--machine_rank', str(m),
                                        '--main_process_ip', '127.0.0.1', '--main_process_port', str(port), '--num_processes', str(2 * procs),
                                        '--mixed_precision', 'no', '--dynamo_backend', 'no', *map(str, cmd)],
                                       cwd=tmp/f'm{m}', env=env, stdout=out, stderr=err, text=True))
    for p in ps: p.wait(timeout=300)
    return [subprocess.CompletedProcess(p.args, p.returncode, (tmp/f'm{m}'/'out.txt').read_text(), (tmp/f'm{m}'/'err.txt').read_text())
            for m, p in enumerate(ps)]

def test_two_machines(ddp, tmp_path):
    "The experiment on 2 machines of 1 process (here both on this host, each with its own cache): the main machine writes the store and speaks, and its numbers are the 2-process job's on one machine"
    procs = two_machines(tmp_path, 1, '-m', 'pathfast', '--npz', ddp['tmp']/'syn.npz', *ARGS[:-4], '--results-dir', tmp_path/'store', '--out', tmp_path/'report.html')
    for p in procs: assert p.returncode == 0, p.stderr[-3000:]
    assert 'cnn-aug   test' in procs[0].stdout and procs[1].stdout == ''
    assert 'data-parallel on 2 processes' in (tmp_path/'report.html').read_text()
    runs, one = runs_of(tmp_path/'store'), runs_of(ddp['tmp']/'store')
    assert sorted(runs) == sorted(one) == ['cnn-aug', 'cnn-noaug']
    for name, r in runs.items():  # same seed, same global batches, same gradients
        assert r['confusion_matrix'] == one[name]['confusion_matrix']
        np.testing.assert_allclose(r['test_probs'], one[name]['test_probs'], atol=1e-6)

WAVES = """
import json, os, sys, time
from pathlib import Path
from pathfast import distrib
from pathfast.data import build_once
distrib.start('cpu')
def make(d): time.sleep(1); (d/'meta.json').write_text('{}')
with distrib.main_first():
    t0 = time.time()
    made = {k: not build_once(Path(root)/'set', make) for k, root in (('own', os.environ['PATHFAST_CACHE']), ('shared', sys.argv[1]))}
    t1 = time.time()
Path(sys.argv[1]).parent.joinpath(f'rank{distrib.rank()}.json').write_text(json.dumps(dict(local=distrib.local_rank(), made=made, t=(t0, t1))))
"""

def test_unpacked_once_per_machine(tmp_path):
    "2 machines of 2 processes: the main process unpacks first, then the first of the other machine, then the rest; a cache on one machine's disk is made once there, a cache both share once in all"
    (tmp_path/'waves.py').write_text(WAVES)
    for p in two_machines(tmp_path, 2, tmp_path/'waves.py', tmp_path/'shared'/'cache'): assert p.returncode == 0, p.stderr[-3000:]
    r = [json.loads((tmp_path/'shared'/f'rank{i}.json').read_text()) for i in range(4)]  # ranks 0, 1 on machine 0; 2, 3 on machine 1
    assert [x['local'] for x in r] == [0, 1, 0, 1]
    assert [x['made']['own'] for x in r] == [True, False, True, False]
    assert [x['made']['shared'] for x in r] == [True, False, False, False]
    assert r[0]['t'][1] <= min(x['t'][0] for x in r[1:])  # the main process before all
    assert r[2]['t'][1] <= r[3]['t'][0] and r[2]['t'][1] <= r[1]['t'][0]  # the other machine's first before the rest

def test_module_entry(tmp_path):
    "`python -m pathfast`, what a launcher starts in each process, is the `pathfast-report` command"
    p = subprocess.run([sys.executable, '-m', 'pathfast', '--help'], cwd=tmp_path, env=offline_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and '--no-pretrained' in p.stdout and '-m pathfast' in p.stdout
