"A store's weights reused: `pathfast-predict` on the real PneumoniaMNIST test split, tampered and mismatched weights, ONNX, tracking."
import importlib.util, json, shutil, struct, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest
from PIL import Image
from sklearn.metrics import confusion_matrix
from conftest import PNEU, SHARED, offline_env
from pathfast.core import Config, PathfastError, load_json
from pathfast.data import load_medmnist, subset
from pathfast.experiment import run_experiment, track_report, Store
from pathfast.export import build_net, save_weights

PREDICT = Path(sys.executable).parent/'pathfast-predict'
RUNS = ('cnn-noaug', 'resnet18-scratch-noaug')  # the custom CNN at the data's 28 px; a backbone that sees them enlarged to 64

@pytest.fixture(scope='module')
def data():
    return subset(load_medmnist('pneumoniamnist', 28, SHARED, download=False), 200, seed=42)

def cfg(**kw)->Config:
    return Config(**{**dict(dataset='pneumoniamnist', size=28, models=['cnn', 'resnet18:scratch'], aug=['off'], epochs=1,
                            pretrained=False, device='cpu', subset=200), **kw})

@pytest.fixture(scope='module')
def store(tmp_path_factory, data):
    "Two runs trained for one epoch, logged to TensorBoard (when installed: the `track` extra)"
    path = tmp_path_factory.mktemp('predict')/'store'
    run_experiment(data, cfg(), path, log=lambda l: None, track='tensorboard' if importlib.util.find_spec('tensorboard') else None)
    return path

def run_of(store:Path, name:str)->dict: return json.loads((store/'runs'/f'{name}.json').read_text())

def predict(*args, tmp:Path)->subprocess.CompletedProcess:
    "Run the installed `pathfast-predict` console script in `tmp`"
    return subprocess.run([str(PREDICT), *map(str, args)], cwd=tmp, env=offline_env(tmp), capture_output=True, text=True, timeout=600)

def csv_probs(path:Path, classes:list)->np.ndarray: return pd.read_csv(path)[[f'prob_{c}' for c in classes]].to_numpy()

def test_weights_saved_beside_each_run(store):
    from safetensors.torch import load_file
    for name, size in zip(RUNS, (28, 64)):
        mf = run_of(store, name)['model_file']
        f = store/'runs'/mf['file']
        assert f == Store(store).weights_path(name)
        assert mf['bytes'] == f.stat().st_size
        assert (mf['model'], mf['n_out'], mf['size'], mf['channels'], mf['input_size'], mf['task']) == \
               (name.split('-')[0], 2, 28, 1, size, 'binary-class')
        assert set(load_file(f)) == set(build_net(mf['model'], 2).state_dict())  # the network's tensors and nothing else

@pytest.mark.parametrize('name', RUNS)
def test_test_split_predictions_equal_the_store(store, tmp_path, name):
    p = predict(store, f'{PNEU}:test', '--run', name, '--out', tmp_path/'p.csv', '--device', 'cpu', tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ''
    r = run_of(store, name)
    probs = csv_probs(tmp_path/'p.csv', r['model_file']['classes'])
    assert probs.shape == (624, 2)
    assert confusion_matrix(r['test_labels'], probs.argmax(1)).tolist() == r['confusion_matrix']
    np.testing.assert_allclose(probs, r['test_probs'], atol=1e-4)

def test_default_run_is_the_best_by_validation(store, tmp_path):
    p = predict(store, PNEU, '--device', 'cpu', tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    best = max(RUNS, key=lambda n: run_of(store, n)['valid_metrics']['accuracy'])
    assert p.stderr.startswith(f'{best} (') and "the store's best run, as in its report" in p.stderr, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 624
    classes = run_of(store, best)['model_file']['classes']
    for l in lines:
        name, c, prob = l.split('\t')
        assert c in classes and 0.5 <= float(prob) <= 1

def test_folder_of_pngs_predicts_like_the_npz(store, tmp_path):
    x = np.load(PNEU)['test_images'][:40]
    for i, a in enumerate(x):
        d = tmp_path/'scans'/('left' if i < 20 else 'right')
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(d/f'{i:02d}.png')
    p = predict(store, tmp_path/'scans', '--device', 'cpu', '--out', tmp_path/'f.csv', tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    q = predict(store, f'{PNEU}:test', '--device', 'cpu', '--out', tmp_path/'n.csv', tmp=tmp_path)
    assert q.returncode == 0, q.stderr
    f, n = pd.read_csv(tmp_path/'f.csv'), pd.read_csv(tmp_path/'n.csv')[:40]
    assert f.image.tolist() == [str(tmp_path/'scans'/('left' if i < 20 else 'right')/f'{i:02d}.png') for i in range(40)]
    assert f.prediction.tolist() == n.prediction.tolist()
    np.testing.assert_allclose(f.iloc[:, 3:].to_numpy(), n.iloc[:, 3:].to_numpy(), atol=1e-6)

def refused(p:subprocess.CompletedProcess, msg:str):
    assert (p.returncode, p.stdout) == (2, ''), p.stderr
    assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith('pathfast-predict: error: ') and msg in p.stderr, p.stderr

def test_tampered_weights_refused(store, tmp_path):
    s = shutil.copytree(store, tmp_path/'s')
    w = s/'runs'/'cnn-noaug.safetensors'
    b = bytearray(w.read_bytes()); b[len(b) // 2] ^= 1; w.write_bytes(b)
    refused(predict(s, PNEU, '--run', 'cnn-noaug', tmp=tmp_path), 'SHA-256 differs')

@pytest.mark.parametrize('net', [build_net('cnn', 5), build_net('resnet18', 2)])
def test_mismatched_weights_refused(store, tmp_path, net):
    "Weights of another network in the run's file, with the run's record made to match the file"
    s = shutil.copytree(store, tmp_path/'s')
    r = run_of(s, 'cnn-noaug')
    mf = save_weights(net, s/'runs'/'cnn-noaug.safetensors', {})
    r['model_file'].update(sha256=mf['sha256'], bytes=mf['bytes'])
    (s/'runs'/'cnn-noaug.json').write_text(json.dumps(r))
    refused(predict(s, PNEU, '--run', 'cnn-noaug', tmp=tmp_path), 'does not hold the weights of a cnn with 2 outputs')

def test_onnx_export_matches_pytorch(store, tmp_path):
    "The backbone, whose graph enlarges the 28 px images to 64 inside"
    ort = pytest.importorskip('onnxruntime')
    p = predict(store, f'{PNEU}:test', '--run', 'resnet18-scratch-noaug', '--precision', 'fp32', '--onnx', tmp_path/'m.onnx',
                '--out', tmp_path/'p.csv', '--device', 'cpu', tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    assert 'ONNX model: ' in p.stderr
    sess = ort.InferenceSession(str(tmp_path/'m.onnx'), providers=['CPUExecutionProvider'])
    x = np.load(PNEU)['test_images'][..., None]
    got = np.concatenate([sess.run(None, {'images': b})[0] for b in np.array_split(x, 5)])
    np.testing.assert_allclose(got, csv_probs(tmp_path/'p.csv', ['normal', 'pneumonia']), atol=1e-4)

def test_tensorboard_log_holds_the_epochs(store):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    for name in RUNS:
        ea = EventAccumulator(str(store/'tensorboard'/name)).Reload()
        r = run_of(store, name)
        assert [e.step for e in ea.Scalars('valid/loss')] == [h['epoch'] for h in r['history']]
        np.testing.assert_allclose([e.value for e in ea.Scalars('train/loss')], [h['train_loss'] for h in r['history']], rtol=1e-6)
        np.testing.assert_allclose(ea.Scalars('test/accuracy')[-1].value, r['metrics']['accuracy'], rtol=1e-6)
        assert 'config/text_summary' in ea.Tags()['tensors']

def test_mlflow_log_holds_the_epochs_config_metrics_and_report(data, tmp_path):
    pytest.importorskip('mlflow'); pytest.importorskip('sqlalchemy')
    from mlflow import MlflowClient
    s = tmp_path/'store'
    res = run_experiment(data, cfg(models=['cnn'], epochs=2), s, log=lambda l: None, track='mlflow', export=False)
    (tmp_path/'report.html').write_text('<html>report</html>')
    track_report('mlflow', s, tmp_path/'report.html')
    c = MlflowClient(f"sqlite:///{s/'mlflow.db'}")
    runs = {r.info.run_name: r for r in c.search_runs([c.get_experiment_by_name('store').experiment_id])}
    assert set(runs) == {'cnn-noaug', 'report'}
    r, want = runs['cnn-noaug'], res['cnn-noaug']
    assert r.info.status == 'FINISHED'
    assert [(m.step, round(m.value, 6)) for m in c.get_metric_history(r.info.run_id, 'valid/loss')] == \
           [(h['epoch'], round(h['valid_loss'], 6)) for h in want.history]
    assert r.data.metrics['test/accuracy'] == pytest.approx(want.metrics['accuracy'])
    assert (r.data.params['config.epochs'], r.data.params['run.model'], r.data.params['dataset.flag']) == ('2', 'cnn', 'pneumoniamnist')
    assert [a.path for a in c.list_artifacts(runs['report'].info.run_id)] == ['report.html']
    assert not list((s/'runs').glob('*.safetensors'))  # export=False

def wandb_history(run_file:Path)->list:
    "The history rows of an offline W&B run file (a LevelDB-style log of protobuf records)"
    from wandb.proto import wandb_internal_pb2 as pb
    b, i, buf, rows = run_file.read_bytes(), 7, b'', []  # after the 7-byte W&B header
    while i + 7 <= len(b):
        if 32768 - i % 32768 < 7: i += 32768 - i % 32768; continue  # a block's tail too short for a record header
        _, n, kind = struct.unpack('<IHB', b[i:i + 7])
        buf, i = buf + b[i + 7:i + 7 + n], i + 7 + n
        if kind in (1, 4):  # a whole record, or a record's last piece
            r = pb.Record(); r.ParseFromString(buf); buf = b''
            if r.WhichOneof('record_type') == 'history':
                rows.append({it.key or '/'.join(it.nested_key): json.loads(it.value_json) for it in r.history.item})
    return rows

def test_wandb_offline_log_holds_the_epochs(data, tmp_path):
    pytest.importorskip('wandb')
    s = tmp_path/'store'
    res = run_experiment(data, cfg(models=['cnn'], epochs=2), s, log=lambda l: None, track='wandb', export=False)
    # wandb-core holds a run file's current 32 KB block in memory and writes it when the service closes the run, which
    # `run.finish()` asks for without waiting (core/pkg/leveldb: `Next` writes nothing). So two full suites here read this
    # (4 KB) file without its history, which landed a moment later. Read it as `wandb sync` would, after the session ends:
    # `wandb.teardown()` waits for the service to close every run file (the CLI's process does so at exit).
    import wandb; wandb.teardown()
    run_file, = (s/'wandb').glob('offline-run-*/run-*.wandb')
    rows = wandb_history(run_file)
    assert [r['_step'] for r in rows] == [1, 2]
    np.testing.assert_allclose([r['valid/loss'] for r in rows], [h['valid_loss'] for h in res['cnn-noaug'].history], rtol=1e-6)
    assert rows[-1]['test/accuracy'] == pytest.approx(res['cnn-noaug'].metrics['accuracy'])

def test_missing_tracker_package_is_one_line(data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'mlflow', None)  # as if it were not installed
    with pytest.raises(PathfastError, match=r'pip install mlflow \(or pip install "pathfast\[track\]"\)'):
        run_experiment(data, cfg(), tmp_path/'s', log=lambda l: None, track='mlflow')
    assert not (tmp_path/'s').exists()

@pytest.mark.parametrize('drop', ['dataset', 'config'])
def test_incomplete_manifest_is_one_line(store, tmp_path, drop):
    man = load_json(store/'manifest.json')
    (tmp_path/'manifest.json').write_text(json.dumps({k: v for k, v in man.items() if k != drop}))
    with pytest.raises(PathfastError, match='not a complete pathfast manifest'): Store(tmp_path).start(man)
