"Your own images through the command line (issue 12): class folders, a multi-label CSV, ChestMNIST's format, and their mistakes."
import csv, json, re, shutil
from html import unescape
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from pathfast.cli import main
from pathfast.data import write_synthetic
from conftest import run_cli, runs_of

QUICK = ['--size', '28', '--epochs', '1', '--no-pretrained', '--device', 'cpu', '--models', 'cnn', '--aug', 'off']

def tree(root:Path, n:int=12, classes=('glioma', 'meningioma', 'no tumor'), seed:int=0)->Path:
    "`n` images per class: RGB PNGs of odd sizes and grayscale JPEGs; class i has its own brightness"
    rng = np.random.default_rng(seed)
    for i, c in enumerate(classes):
        d = root/c; d.mkdir(parents=True, exist_ok=True)
        for j in range(n):
            v = np.clip(40 + 80 * i + rng.normal(0, 10, (33, 47)), 0, 255).astype(np.uint8)
            if j % 2: Image.fromarray(v).save(d/f'{j}.jpg')
            else: Image.fromarray(np.stack([v] * 3, -1)).save(d/f'{j}.png')
    return root

def test_folder_round_trip(tmp_path):
    root = tree(tmp_path/'brain mri')
    (root/'glioma'/'broken.png').write_bytes(b'\x89PNG not really')
    store, out = tmp_path/'store', tmp_path/'report.html'
    p = run_cli('--images', root, *QUICK, '--results-dir', store, '--out', out, tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    assert 'skipped 1 file that is not a readable image (first: ' in p.stderr
    assert re.search(r'^decoding brain mri at \d+ px: 36 images$', p.stdout, re.M), p.stdout  # the first run decodes, and says what
    man = json.loads((store/'manifest.json').read_text())
    ds = man['dataset']
    assert (ds['classes'], ds['task'], ds['n_samples']) == (['glioma', 'meningioma', 'no tumor'], 'multi-class', {'train': 27, 'val': 3, 'test': 6})
    html = out.read_text()
    for c in ('glioma', 'meningioma', 'no tumor'): assert c in html
    assert '(train 27, val 3, test 6 images)' in html and 'brain mri' in html and 'MedMNIST flag' not in html
    assert 'a split pathfast made: stratified by class, seed 42, 7:1:2' in html and '1 file that is not a readable image was skipped' in html
    q = run_cli('--images', root, *QUICK, '--results-dir', tmp_path/'store2', '--out', tmp_path/'r2.html', tmp=tmp_path)
    assert q.returncode == 0, q.stderr
    assert 'decoding' not in q.stdout                              # the second run maps the cache: nothing decoded
    assert json.loads((tmp_path/'store2'/'manifest.json').read_text())['dataset']['md5'] == ds['md5']

def test_default_size_of_small_images(tmp_path):
    "Without --size, images all under 64 px are decoded at the largest side among them (the tree's 47x33: 47), not enlarged to 64"
    root, store, out = tree(tmp_path/'small', n=6), tmp_path/'store', tmp_path/'report.html'
    assert QUICK[:2] == ['--size', '28']
    p = run_cli('--images', root, *QUICK[2:], '--results-dir', store, '--out', out, tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    assert re.search(r'^decoding small at 47 px: 18 images$', p.stdout, re.M), p.stdout
    man = json.loads((store/'manifest.json').read_text())
    assert (man['dataset']['size'], man['dataset']['source']['size_auto'], man['runs'][0]['input_size']) == (47, True, 47)
    assert 'each was decoded once, at 47x47, the largest side among them (without --size' in re.sub(r'\s+', ' ', out.read_text())

def write_csv(p:Path, rows:list)->Path:
    with open(p, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
    return p

def multi_label_set(root:Path, n:int=90, seed:int=0)->Path:
    "Images whose label 'effusion' brightens the top half and 'mass' the bottom half, listed in a CSV (NIH's columns)"
    rng = np.random.default_rng(seed)
    (root/'img').mkdir(parents=True)
    rows = []
    for i in range(n):
        lab = [l for l in ('effusion', 'mass') if rng.random() < 0.4]
        a = rng.normal(60, 10, (32, 32))
        if 'effusion' in lab: a[:16] += 120
        if 'mass' in lab: a[16:] += 120
        Image.fromarray(a.clip(0, 255).astype(np.uint8)).save(root/'img'/f'{i}.png')
        rows.append({'Image Index': f'img/{i}.png', 'Finding Labels': '|'.join(lab) or 'No Finding'})
    return write_csv(root/'labels.csv', rows)

def test_csv_multi_label(tmp_path):
    f = multi_label_set(tmp_path/'nih')
    store, out = tmp_path/'store', tmp_path/'report.html'
    p = run_cli('--csv', f, *QUICK, '--epochs', '3', '--results-dir', store, '--out', out, tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    man = json.loads((store/'manifest.json').read_text())
    # NIH's 'No Finding' is the absence of both findings, not a third label (as in ChestMNIST)
    assert (man['dataset']['task'], man['dataset']['classes']) == ('multi-label, binary-class', ['effusion', 'mass'])
    assert 'a random subset of at most 2,000 training and validation images' in man['preset']['description']  # not stratified: `data.subset`
    n_none = sum(r['Finding Labels'] == 'No Finding' for r in csv.DictReader(open(f)))
    assert f"'No Finding' ({n_none} rows) never comes with another label: read as no label" in p.stderr and n_none > 10
    run, = runs_of(store).values()
    assert [c['class'] for c in run['per_class']] == ['effusion', 'mass']
    assert all('auc' in c for c in run['per_class']) and np.array(run['test_probs']).shape[1] == 2
    assert np.array(run['confusion_matrix']).shape == (2, 2, 2)
    html = out.read_text()
    assert 'effusion' in html and 'mass' in html and 'AUC' in html
    assert f"{n_none} images labelled 'No Finding' in the CSV have none of the 2 labels" in unescape(html)

def test_chestmnist_format_npz(tmp_path):
    f = write_synthetic(tmp_path/'chest.npz', n=(200, 60, 60), n_channels=1, n_classes=14, multi_label=True)
    store, out = tmp_path/'store', tmp_path/'report.html'
    p = run_cli('--npz', f, '--dataset', 'chestmnist', *QUICK, '--results-dir', store, '--out', out, tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    ds = json.loads((store/'manifest.json').read_text())['dataset']
    assert ds['task'] == 'multi-label, binary-class' and len(ds['classes']) == 14 and 'cardiomegaly' in ds['classes']
    run, = runs_of(store).values()
    assert len(run['per_class']) == 14 and 0 <= run['metrics']['auc'] <= 1
    assert 'cardiomegaly' in out.read_text()

def _fails(capsys, d:Path, args:list, match:str):
    before = {p: p.stat().st_mtime_ns for p in d.rglob('*')}
    with pytest.raises(SystemExit) as e: main([*map(str, args)])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and match in err[0], err
    assert {p: p.stat().st_mtime_ns for p in d.rglob('*')} == before, 'something was written'

def _empty(d): (d/'empty').mkdir(); return ['--images', d/'empty']
def _lonely(d): tree(d/'lonely', n=6); shutil.rmtree(d/'lonely'/'no tumor'); tree(d/'lonely', n=1, classes=('no tumor',)); return ['--images', d/'lonely']
def _mismatch(d):
    tree(d/'split'/'train', n=4, classes=('a', 'b')); tree(d/'split'/'test', n=4, classes=('a', 'c'))
    return ['--images', d/'split']
def _missing(d):
    tree(d/'m', n=4); return ['--csv', write_csv(d/'m'/'l.csv', [dict(file='glioma/0.png', label='a'), dict(file='glioma/99.png', label='b')])]
def _nolabel(d):
    tree(d/'n', n=4); return ['--csv', write_csv(d/'n'/'l.csv', [dict(file='glioma/0.png', a=1, b=2)])]
def _cols(d): return ['--images', tree(d/'c', n=4), '--label-col', 'x']

@pytest.mark.parametrize('make,match', [
    (_empty, 'has no class folders'), (_lonely, "class 'no tumor' has 1 image"), (_mismatch, "has class folders ['a', 'c'], but"),
    (_missing, "names 1 file that does not exist"), (_nolabel, 'no label column found (columns: file, a, b)'), (_cols, 'need --csv')])
def test_source_mistakes(tmp_path, capsys, monkeypatch, make, match):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('PATHFAST_CACHE', str(tmp_path.parent/f'{tmp_path.name}-cache'))
    args = make(tmp_path)
    _fails(capsys, tmp_path, [*args, *QUICK], match)
