"The rendered report for grids of any size, read back as HTML and checked in a real browser: Debian's headless chromium screenshots it, prints it and dumps its DOM."
import json, re, shutil, subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
import numpy as np, pytest
from PIL import Image
from pathfast.core import PathfastError
from pathfast.runs import PALETTE, model_label, run_label
from pathfast.figures import plot_curves
from pathfast.report import load_store, render_report
from pathfast.stats import intervals
from fakes import fake_specs, fake_store, flip

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
browser = pytest.mark.skipif(CHROMIUM is None, reason='needs chromium (apt-get install chromium)')

TITLE = 'Browser check <script>alert(1)</script> "onerror=alert(1)'
CLASSES = ['adipose', 'background', '<script>alert(1)</script>', '"onerror=alert(1)', 'mucus']
EIGHT = 'cnn,resnet18,efficientnet_lite0,efficientnet_lite0:scratch'  # 3 models x 2 aug, one backbone also from scratch

def chromium(tmp:Path, *args)->subprocess.CompletedProcess:
    "Run headless chromium with a throwaway profile; fail the test on a non-zero exit"
    cmd = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars',
           '--no-first-run', f'--user-data-dir={tmp/"profile"}', *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    return res

class Tags(HTMLParser):
    "Every start tag with its attributes, and the text, of an HTML document"
    def __init__(self):
        super().__init__(); self.tags, self.text = [], []
    def handle_starttag(self, tag, attrs): self.tags.append((tag, dict(attrs)))
    def handle_data(self, data): self.text.append(data)

def text(html:str)->str: return re.sub(r'\s+', ' ', unescape(re.sub(r'<[^>]+>', '', html)).replace('\u00a0', ' '))
def section(html:str, id:str)->str: return re.search(rf'<section id="{id}">(.*?)</section>', html, re.S)[1]
def table_runs(html:str, cls:str)->list:
    "The run names heading the rows of one of the report's tables (published rows left out)"
    body = re.search(rf'<table class="{cls}">(.*?)</table>', html, re.S)[1].split('class="published"')[0]
    return re.findall(r'<tr(?! class="ensemble")[^>]*>\s*<th scope="row"[^>]*>(?:<span class="sw"[^>]*></span>)?([\w-]+)', body)
def images(html:str)->list: return re.findall(r'<img[^>]+src="(data:image/(?:png|jpeg);base64,[^"]+)"', html)
def n_images(runs:int, aug_pairs:bool=True)->int:
    "Images of a report whose runs all finished: batch, 8 figures (7 without an augmentation pair), mistakes, a Grad-CAM per run"
    return 1 + 7 + aug_pairs + 1 + runs

@pytest.fixture(scope='module')
def eight(tmp_path_factory)->dict:
    "An 8-run grid (PathCNN, fine-tuned resnet18, EfficientNet-Lite0 fine-tuned and from scratch, x no aug/aug), hostile class names"
    tmp = tmp_path_factory.mktemp('report')
    specs = fake_specs(EIGHT, size=28, resize=64)
    store = fake_store(tmp/'results', specs, classes=CLASSES, flag='pathmnist', size=28, n_samples=dict(train=9000, val=1000, test=720))
    path = render_report(store, tmp/'report.html', title=TITLE)
    return dict(path=path, html=path.read_text(), specs=specs)

@pytest.fixture(scope='module')
def dom(eight)->str:
    return chromium(eight['path'].parent, '--dump-dom', eight['path'].as_uri()).stdout

def test_every_run_in_every_table_and_figure(eight):
    html, names = eight['html'], [s['name'] for s in eight['specs']]
    assert len(names) == 8
    for cls in ('runs', 'schedules', 'results', 'per-class', 'cost'): assert table_runs(html, cls) == names, cls
    assert len(images(html)) == n_images(8)
    assert '8 of 8 runs' in html

def test_discussion_compares_from_the_specs(eight):
    disc, specs = text(section(eight['html'], 'discussion')), eight['specs']
    for p in (s for s in specs if s['pretrained']):  # each fine-tuned run against the custom CNN, and its own model from scratch
        lead = f"{'With' if p['augment'] else 'Without'} augmentation, fine-tuned against trained from scratch: {p['name']}"
        assert disc.count(lead) == (2 if p['model'] == 'efficientnet_lite0' else 1), p['name']
    for s in specs:  # each run named in full once, then by its name
        assert disc.count(f"{s['name']} ({run_label(s)})") == 1, s['name']
    groups = {(s['model'], s['pretrained']): s for s in specs}
    assert len(groups) == 4
    for s in groups.values():
        assert f"With against without augmentation, {model_label(s)}: " in disc, s['name']
    assert 'two networks trained from scratch' in disc  # EfficientNet-Lite0 from scratch against the PathCNN
    assert 'cannot speak to transfer learning' not in disc
    assert len(re.findall(r'<tr class="comparison', eight['html'])) == 6 + 2 + 4

def test_every_option_the_report_names_exists(eight, tmp_path):
    "Every --option the report's text names (its advice) is one pathfast-report has, for grids that draw different advice"
    from pathfast.cli import parser
    known = {s for a in parser()._actions for s in a.option_strings}
    paths = [eight['path'], render_report(fake_store(tmp_path/'s', fake_specs('cnn,resnet18:scratch')), tmp_path/'s.html'),
             render_report(fake_store(tmp_path/'c', n_samples=dict(train=800, val=300, test=624), subset=300), tmp_path/'c.html'),
             render_report(fake_store(tmp_path/'o', fake_specs('cnn', 'off')), tmp_path/'o.html')]  # never augmented: --aug on is advised
    every = set()
    for p in paths:
        named = set(re.findall(r'(?<![\w-])--[a-z][a-z0-9-]*', text(re.sub(r'<(style|script)\b.*?</\1>', '', p.read_text(), flags=re.S))))
        assert {'--patience', '--seeds'} <= named and named <= known, (p.name, sorted(named - known))
        every |= named
    assert '--aug' in every

def test_no_pretrained_store_never_says_fine_tuned(tmp_path):
    store = fake_store(tmp_path/'results', fake_specs('cnn,resnet18:scratch'))
    html = render_report(store, tmp_path/'scratch.html').read_text()
    head, methods = html.split('<section id="methods">')[0], section(html, 'methods')
    captions = ' '.join(re.findall(r'<figcaption>(.*?)</figcaption>', html, re.S))
    for part in (head, methods, captions):
        for word in ('fine-tun', 'frozen', 'lr_mult', 'LR ratio', 'iscriminative', 'ImageNet-pretrained'): assert word not in part, word
    assert re.search(r'<h1>(.*?)</h1>', html)[1] == 'PneumoniaMNIST: PathCNN and resnet18 from scratch, with and without augmentation'
    assert 'cannot speak to transfer learning' in section(html, 'discussion')

def test_one_run_and_twelve_runs(tmp_path):
    one = render_report(fake_store(tmp_path/'one', fake_specs('resnet18', 'on')), tmp_path/'one.html').read_text()
    assert table_runs(one, 'results') == ['resnet18-aug'] and '1 of 1 run ·' in one
    assert len(images(one)) == n_images(1, aug_pairs=False) and 'nothing to compare' in one  # a note instead of that figure
    specs = fake_specs('cnn,resnet18,mobilenet_v3_large,efficientnet_lite0,timm/convnext_atto,resnet18:scratch')
    big = render_report(fake_store(tmp_path/'twelve', specs), tmp_path/'twelve.html').read_text()
    assert table_runs(big, 'results') == [s['name'] for s in specs] and len(specs) == 12
    colors = re.findall(r'<span class="sw" style="background: (#[0-9a-f]{6})"></span>', re.search(r'<table class="results">(.*?)</table>', big, re.S)[1])
    assert len(colors) == 12 and len(set(colors)) == 12 and colors[:2] == list(PALETTE[0])
    assert len(images(big)) == n_images(12)

def test_store_with_missing_runs(tmp_path):
    store = fake_store(tmp_path/'results', fake_specs(EIGHT), runs=['cnn-noaug', 'resnet18-aug', 'efficientnet_lite0-aug'], batch=False)
    html = render_report(store, tmp_path/'partial.html').read_text()
    assert html.count('<tr class="missing">') == 5 * 5  # five runs missing from the runs, schedules, results, per-class and cost tables
    assert 'Not in the results store: cnn-aug, resnet18-noaug, efficientnet_lite0-noaug, efficientnet_lite0-scratch-noaug, ' \
           'efficientnet_lite0-scratch-aug.' in html
    disc = text(section(html, 'discussion'))
    assert disc.startswith(' Discussion 5 of the 8 runs of the grid are not in the results store')
    assert 'efficientnet_lite0-aug (fine-tuned EfficientNet-Lite0, with augmentation) and efficientnet_lite0-scratch-aug ' \
           '(EfficientNet-Lite0 trained from scratch, with augmentation) are not compared: efficientnet_lite0-scratch-aug is not in the ' \
           'results store.' in disc
    for s in store_specs_missing(html): assert f'{s} is not in the results store.' in text(html)  # its Grad-CAM figure: a note
    assert len(images(html)) == 1 + 8 + 1 + 3 - 1  # no batch; 8 figures, mistakes and 3 Grad-CAM
    methods = text(section(html, 'methods'))  # the weight average: the finished runs only, none of the missing ones
    assert 'The other runs (resnet18-aug and efficientnet_lite0-aug) are tested with their own weights' in methods

def store_specs_missing(html:str)->list: return re.search(r'Not in the results store: (.*?)\.<', html)[1].split(', ')

@pytest.mark.parametrize('version', [1, 2])
def test_older_store_is_refused_in_one_line(tmp_path, version):
    store = fake_store(tmp_path/'results')
    man = json.loads((store/'manifest.json').read_text())
    (store/'manifest.json').write_text(json.dumps(dict(man, pathfast_store=version)))
    with pytest.raises(PathfastError) as e: render_report(store, tmp_path/'r.html')
    assert f'holds a version {version} results store, this pathfast reads version 3' in str(e.value) and 're-run the experiment' in str(e.value)
    assert '\n' not in str(e.value) and not (tmp_path/'r.html').exists()

def test_run_file_with_bad_new_fields_is_refused_in_one_line(tmp_path):
    store = fake_store(tmp_path/'results', seeds=2)
    path = store/'runs'/'cnn-aug.seed43.json'  # a repeat is checked as the first seed is
    run = json.loads(path.read_text())
    path.write_text(json.dumps(dict(run, test_probs=run['test_probs'][:3])))
    with pytest.raises(PathfastError) as e: render_report(store, tmp_path/'r.html')
    assert str(e.value).startswith(f'{path} has test probabilities of shape (3, 2)') and '\n' not in str(e.value)
    assert not (tmp_path/'r.html').exists()

@pytest.mark.parametrize('change', [dict(metrics={}), dict(metrics=None), dict(metrics='accurate'), dict(history='long'),
                                    dict(confusion_matrix='[[1, 2], [3, 4]]'), dict(best_epoch='last'), dict(saliency={'items': 'none'})])
def test_invalid_run_json_is_one_line(tmp_path, change):
    "A hand-edited run file (issue 16 §3): one PathfastError line naming the file, no traceback, no report"
    store = fake_store(tmp_path/'results')
    path = store/'runs'/'cnn-aug.json'
    path.write_text(json.dumps(dict(json.loads(path.read_text()), **change)))
    with pytest.raises(PathfastError) as e: render_report(store, tmp_path/'r.html')
    assert str(e.value).startswith(str(path)) and 're-run that run' in str(e.value) and '\n' not in str(e.value)
    assert not (tmp_path/'r.html').exists()

def test_close_runs_are_not_significant(tmp_path):
    "0.3 points apart on PneumoniaMNIST's 624 test images: the Discussion says no significant difference, with McNemar's p"
    store = fake_store(tmp_path/'results', fake_specs('cnn', 'off,on'))
    a = json.loads((store/'runs'/'cnn-noaug.json').read_text())
    right = np.flatnonzero(np.argmax(a['test_probs'], 1) == np.array(a['test_labels']))
    (store/'runs'/'cnn-aug.json').write_text(json.dumps(flip(a, right[:2], ['normal', 'pneumonia'])))
    disc = text(section(render_report(store, tmp_path/'r.html').read_text(), 'discussion'))
    assert 'test accuracy: no significant difference (-0.3 points [' in disc and 'McNemar exact p = 0.50' in disc
    assert 'better' not in disc and 'significantly more accurate' not in disc
    assert 'no significant difference in test accuracy (p = 0.50): on 624 test images these runs cannot be told apart' in disc

@pytest.fixture(scope='module')
def three(tmp_path_factory)->dict:
    "The default 2x2 grid repeated with 3 seeds, with test-time augmentation and early stopping"
    tmp = tmp_path_factory.mktemp('three')
    store = fake_store(tmp/'results', seeds=3, tta=True, patience=4)
    html = render_report(store, tmp/'report.html').read_text()
    runs = {p.name.removesuffix('.json'): json.loads(p.read_text()) for p in sorted((store/'runs').glob('*.json'))}
    return dict(store=store, html=html, man=json.loads((store/'manifest.json').read_text()), runs=runs,
                seeds={n: [runs[n], runs[f'{n}.seed43'], runs[f'{n}.seed44']] for n in ('cnn-noaug', 'cnn-aug', 'resnet18-noaug', 'resnet18-aug')})

def row(html:str, run:str)->str:
    "The results-table row of `run` and its ensemble row, if any, as HTML"
    body = re.search(r'<table class="results">(.*?)</table>', html, re.S)[1]
    return re.search(rf'<tr>\s*<th scope="row"><span class="sw"[^>]*></span>{run}<.*?(?=<tr>\s*<th scope="row"><span class="sw"|<tbody class="published"|</tbody>)', body, re.S)[0]

def test_three_seeds_mean_sd_and_ensemble(three):
    assert three['man']['seeds'] == [42, 43, 44] and len(three['runs']) == 12
    html = three['html']
    assert html.count('<tr class="ensemble">') == 4 and '3 seeds · cpu preset' in html
    for name, reps in three['seeds'].items():
        r = row(html, name)
        assert '· 3 seeds</span>' in r
        for k in ('accuracy', 'auc', 'f1'):
            xs, ci = [x['metrics'][k] for x in reps], intervals(load_store(three['store']), name)[k]
            assert (f'{np.mean(xs):.3f} <span class="ci">[{ci[0]:.3f}, {ci[1]:.3f}]</span> <span class="ci">± {np.std(xs, ddof=1):.3f}</span>'
                    in r), (name, k)
        probs, y = np.mean([x['test_probs'] for x in reps], 0), np.array(reps[0]['test_labels'])
        ens = re.search(r'<tr class="ensemble">(.*?)</tr>', r, re.S)[1]
        assert re.findall(r'<td class="num">([^<]*)</td>', ens)[1] == f'{np.mean(probs.argmax(1) == y):.3f}', name
        assert 'of the 3 seeds' in ens
    disc = text(section(html, 'discussion'))
    m = {n: np.mean([x['metrics']['accuracy'] for x in reps]) for n, reps in three['seeds'].items()}
    assert f"cnn-aug reached {100 * m['cnn-aug']:.1f}% [" in disc and f"cnn-noaug {100 * m['cnn-noaug']:.1f}% [" in disc
    assert '(means over 3 seeds)' in disc and 'McNemar per seed pair' in disc and 'training time varied by up to' in disc
    diag = re.search(r'<table class="diagnoses">.*?</table>', html, re.S)[0]  # its accuracies are means: the caption says so
    assert '(first seed; the validation and test accuracies are means over its seeds)' in diag
    assert 'with a two-proportion test, or for a run with several seeds a z test of the mean gap over them (' in text(diag)  # a mean is not one proportion
    plain = np.mean([x['plain_metrics']['accuracy'] for x in three['seeds']['cnn-aug']])  # validation has no TTA: the gap is read without it
    assert f"against {100 * plain:.1f}% without TTA: " in text(diag) and f"against {100 * m['cnn-noaug']:.1f}%: " in text(diag)

def test_one_seed_has_no_spread_or_ensemble(eight):
    assert '<tr class="ensemble">' not in eight['html'] and '<span class="ci">±' not in eight['html']
    assert 'McNemar per seed pair' not in eight['html'] and 'McNemar exact' in eight['html']
    assert 'with a two-proportion test;' in text(re.search(r'<table class="diagnoses">.*?</table>', eight['html'], re.S)[0])
    assert ' seeds' not in section(eight['html'], 'results') and 'the seed-to-seed spread is not measured' in eight['html']

def test_methods_budget_batch_policy_and_options(three):
    methods, man = text(section(three['html'], 'methods')), three['man']
    assert man['preset']['description'] in methods and f"a budget of {man['config']['steps']:,} optimizer steps per run, capped at 5 minutes" in methods
    for name, reps in three['seeds'].items():
        assert reps[0]['budget']['why'] in methods, name  # each run's epochs, and why
        assert f"{reps[0]['epochs']} epochs, tested at epoch {reps[0]['best_epoch']}" in methods
    assert f"The batch size is {man['batch']['why']}." in methods
    pol = man['augmentations']
    assert f"use the {pol['name']} policy: {pol['why']}." in methods and pol['why'].startswith('no flips, chosen for X-ray images')
    # the weight average, on by default for the runs from scratch (the CNN here), not for fine-tunes (resnet18 here)
    assert 'The PathCNN runs trained from scratch keep an exponential moving average (EMA) of their weights' in methods
    assert "a memory of 10% of the run's steps" in methods
    assert 'each of these runs is tested with the average of its best epoch, the one with the lowest validation loss' in methods
    assert 'The other runs (resnet18-noaug and resnet18-aug) are tested with their own weights of their best epoch, by the same score, without an average' in methods
    assert 'cnn-noaug and cnn-aug validated an average of their weights (EMA), which the validation curves follow' in three['html']  # the curves' captions
    sched = dict(re.findall(r'<tr><th scope="row" class="run">(.*?)</th>(.*?)</tr>', re.search(r'<table class="schedules">(.*?)</table>', three['html'], re.S)[1], re.S))
    for name, reps in three['seeds'].items():
        ema, n = reps[0]['options']['ema'], reps[0]['budget']['epochs'] * reps[0]['budget']['steps_per_epoch']
        if name.startswith('resnet18'): assert ema is None and 'average' not in sched[name], name; continue
        assert ema['memory_steps'] == round(max(0.1 * n, min(50, n / 5)), 1), name  # a tenth of the planned steps, at least 50, at most a fifth
        assert f"an average of the weights over about {ema['memory_steps']:,.0f} steps (EMA)" in sched[name], name
    assert 'Early stopping ends a run once 4 epochs pass without a lower validation loss' in methods
    assert 'come from test-time augmentation' in methods and 'plain numbers' in methods
    assert 'repeated with 3 seeds (42, 43, 44)' in methods and 'LabelSmoothing' not in methods

def test_options_off_are_not_claimed(eight):
    methods = text(section(eight['html'], 'methods'))
    for claim in ('Early stopping ends', 'test-time augmentation:', 'repeated with', 'ReduceLROnPlateau', 'LabelSmoothing'): assert claim not in methods
    assert 'fit_one_cycle' in methods and 'tested with the average of its best epoch' in methods
    # averaged: the PathCNN from scratch; not the fine-tunes, nor EfficientNet-Lite0 from scratch (depthwise convolutions)
    plain = re.search(r'The other runs \(([^)]*)\) are tested with their own weights', methods)[1]
    assert 'The PathCNN runs trained from scratch keep' in methods and 'cnn-aug' not in plain
    assert 'efficientnet_lite0-scratch-aug' in plain and 'resnet18-aug' in plain, plain

def test_plateau_label_smoothing_no_ema_in_methods(tmp_path):
    store = fake_store(tmp_path/'results', schedule='plateau', label_smoothing=.1, monitor='accuracy', epochs=6, ema=0.)
    methods = text(section(render_report(store, tmp_path/'r.html').read_text(), 'methods'))
    assert 'tested with the weights of its best epoch' in methods and 'moving average' not in methods and 'average of the weights' not in methods
    assert 'average of their weights' not in (tmp_path/'r.html').read_text()  # nor in the curves' captions
    assert 'divided by 5 whenever the validation accuracy has not improved for 2 epochs' in methods and 'ReduceLROnPlateau' in methods
    assert 'never here' not in methods and 'no epoch trains at a lowered rate' not in methods  # no early stopping: the rate does drop
    assert 'label smoothing, ε = 0.1' in methods and 'the one with the highest validation accuracy' in methods
    assert 'Every run trains for 6 epochs, fixed with --epochs.' in methods and '6 epochs per run (--epochs)' in methods

def test_wilson_intervals_named_for_binary_recalls(tmp_path):
    "A binary single-seed run's sensitivity and specificity get Wilson intervals, and Statistics says so; a 3-class set's note does not"
    for classes, said in ((('normal', 'pneumonia'), True), (('a', 'b', 'c'), False)):
        html = render_report(fake_store(tmp_path/str(len(classes)), classes=classes), tmp_path/f'{len(classes)}.html').read_text()
        note = text(re.search(r'<p class="stats-note">(.*?)</p>', html, re.S)[1])
        assert ('and its sensitivity and specificity (each the share of one class\'s images it got right), the Wilson score interval' in note) == said, note

def test_plateau_floor_ends_runs_and_says_so(tmp_path):
    "The plateau schedule ends a run at its floor: Methods, the settings and schedule tables, the Results' epochs and the Discussion say so"
    store = fake_store(tmp_path/'results', schedule='plateau', epochs=40)
    reps = load_store(store)['repeats']
    ended = sorted(n for n, rs in reps.items() if rs[0]['stopped'] == 'plateau')
    assert ended and len(ended) < len(reps), ended  # the fake replays `Plateau` on its histories: some runs end, cnn-aug's still improves
    html = render_report(store, tmp_path/'r.html').read_text()
    methods = text(section(html, 'methods'))
    assert 'The plateau schedule ends a run instead of dividing its rate below 1/1,000 of the starting rate.' in methods
    assert 'divided by 5 after 2 epochs without a lower validation loss; the run ends rather than go below 1/1,000 of its starting LR' in methods
    for n in ended:
        r = reps[n][0]
        assert f"{r['epochs']} epochs, tested at epoch {r['best_epoch']}, ended by the plateau schedule" in methods, n
        assert f"{r['epochs']} (best {r['best_epoch']}) ended by the schedule" in text(row(html, n)), n
    assert 'ended by the' not in text(row(html, 'cnn-aug'))
    assert (f"The plateau schedule ended {ended[0]} (after {reps[ended[0]][0]['epochs']} of 40 epochs)" in text(section(html, 'discussion')))
    # a store from before the floor records none: nothing is said of one
    for f in (store/'runs').glob('*.json'):
        r = json.loads(f.read_text()); r['options'].pop('plateau_floor'); r['stopped'] = None; f.write_text(json.dumps(r))
    methods = text(section(render_report(store, tmp_path/'old.html').read_text(), 'methods'))
    assert '1/1,000' not in methods and 'ended by the' not in methods

def test_patience_of_one_epoch_reads_in_the_singular_and_stops_before_the_plateau(tmp_path):
    store = fake_store(tmp_path/'results', schedule='plateau', patience=1, epochs=6)
    methods = text(section(render_report(store, tmp_path/'r.html').read_text(), 'methods'))
    assert 'Early stopping ends a run once 1 epoch passes without a lower validation loss' in methods
    assert 'after 1 epoch without a lower validation loss' in methods and '1 epochs' not in methods  # the settings table
    stopped = text(section((tmp_path/'r.html').read_text(), 'discussion'))
    assert 'Early stopping (after 1 epoch without a lower validation loss) ended' in stopped and '1 epochs' not in stopped
    assert "It ends a run no later than the plateau schedule would first divide the rate, so no epoch trains at a lowered rate." in methods
    assert "divided by 5 after 2 epochs without a lower validation loss, never here: early stopping acts first" in methods  # the settings table

@pytest.mark.parametrize('kw', [dict(label_smoothing=.1), dict(patience=3), dict(schedule='plateau', patience=2, label_smoothing=.1),
                                dict(ema=0., patience=1, label_smoothing=.2), dict(finetune='fastai', schedule='plateau', patience=2)])
def test_sentences_are_spaced(tmp_path, kw):
    "No sentence runs into the next where the template joins optional ones ('majority class.Early stopping' was one)"
    html = render_report(fake_store(tmp_path/'results', epochs=6, **kw), tmp_path/'r.html').read_text()
    for part in ('methods', 'results', 'discussion'):
        joined = [m[0] for m in re.finditer(r'\S{0,20}[a-z)]\.[A-Z][a-z]+', text(section(html, part)))]
        assert not joined, (part, joined)

def test_tta_plain_numbers_beneath(three):
    for name, reps in three['seeds'].items():
        plain = re.findall(r'<span class="label">plain ([0-9.]+)</span>', row(three['html'], name).split('class="ensemble"')[0])
        if name.endswith('-noaug'): assert plain == [], name  # TTA only for the runs trained with augmentation
        else: assert plain[0] == f"{np.mean([x['plain_metrics']['accuracy'] for x in reps]):.3f}" and len(plain) == 5, name  # no plain sensitivity or specificity: no plain confusion matrix
    assert 'Test-time augmentation changed test accuracy by' in text(section(three['html'], 'discussion'))

def test_best_epoch_marked(three):
    html, store = three['html'], load_store(three['store'])
    for name, reps in three['seeds'].items():
        epochs, best = [x['epochs'] for x in reps], [x['best_epoch'] for x in reps]
        span = lambda xs: f'{min(xs)}' if min(xs) == max(xs) else f'{min(xs)}–{max(xs)}'
        assert f'{span(epochs)} <span class="ci">(best {span(best)})</span>' in row(html, name)
        if any(x['stopped'] == 'early' for x in reps): assert 'stopped early (' in row(html, name)
    for kind in ('loss', 'accuracy'):
        for ax, (name, run) in zip(plot_curves(store, kind).axes, store['runs'].items()):
            marks = [l for l in ax.lines if l.get_label().startswith('tested')]
            assert [l.get_xdata()[0] for l in marks] == [run['best_epoch']], (kind, name)
    captions = ' '.join(re.findall(r'<figcaption>(.*?)</figcaption>', html, re.S))
    assert 'the dotted line marks the epoch whose weights were tested, the one with the lowest validation loss' in captions

def test_best_run_chosen_by_validation_not_test(tmp_path):
    store = fake_store(tmp_path/'results')
    runs = {p.stem: json.loads(p.read_text()) for p in (store/'runs').glob('*.json')}
    worst = min(runs, key=lambda r: runs[r]['metrics']['accuracy'])
    p = store/'runs'/f'{worst}.json'
    p.write_text(json.dumps(dict(runs[worst], valid_metrics=dict(runs[worst]['valid_metrics'], accuracy=.999))))
    disc = text(section(render_report(store, tmp_path/'r.html').read_text(), 'discussion'))
    assert f"the best run is {worst}, on 28 px images" in disc and '99.9% on the validation split' in disc
    top = max(runs, key=lambda r: runs[r]['metrics']['accuracy'])
    assert f"is {top}'s; choosing the best run by it would let the test split pick" in disc

def test_time_cut_and_last_epoch_in_discussion(tmp_path):
    store = fake_store(tmp_path/'results', fake_specs('cnn', 'off'))
    p = store/'runs'/'cnn-noaug.json'
    run = json.loads(p.read_text())
    b = run['best_epoch']
    p.write_text(json.dumps(dict(run, history=run['history'][:b], epochs=b, stopped='time')))
    html = render_report(store, tmp_path/'r.html').read_text()
    disc = text(section(html, 'discussion'))
    assert f"The time budget ended cnn-noaug (after {b} of {run['budget']['epochs']} epochs)" in disc
    assert 'Still improving at the end, its tested epoch the last it trained: cnn-noaug; it may be under-trained.' in disc
    assert 'Train longer' in text(html)
    assert 'cut by time' in row(html, 'cnn-noaug')

@browser
def test_screenshot_is_not_blank(eight):
    report = eight['path']
    png = report.parent/'shot.png'
    chromium(report.parent, f'--screenshot={png}', '--window-size=1280,2000', report.as_uri())
    assert png.exists() and png.stat().st_size > 10_000
    img = Image.open(png).convert('RGB')
    assert img.size == (1280, 2000)
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200, 'the page looks blank'
    top = img.crop((0, 0, 1280, 400))
    assert top.convert('L').getextrema()[0] < 80, 'no dark text near the top of the page'

@browser
def test_dom_title_sections_figures(dom, eight):
    doc = Tags(); doc.feed(dom)
    txt = ''.join(doc.text)
    assert 'Browser check <script>alert(1)</script> "onerror=alert(1)' in txt  # shown as text, in the title and the h1
    assert [t for t, _ in doc.tags].count('h2') == 3
    for name in ('Methods', 'Results', 'Discussion'): assert f'<h2>{name}</h2>' in dom
    imgs = [a['src'] for t, a in doc.tags if t == 'img']
    assert len(imgs) == n_images(8) and all(s.startswith(('data:image/png;base64,', 'data:image/jpeg;base64,')) for s in imgs)
    for s in eight['specs']: assert s['name'] in txt
    assert [a['class'] for t, a in doc.tags if t == 'table' and a.get('class') in ('runs', 'results')] == ['runs', 'results']
    assert 'Published, not ours' in txt

@browser
def test_dom_escapes_data(dom):
    doc = Tags(); doc.feed(dom)
    assert not any(t == 'script' for t, _ in doc.tags), 'a <script> element made it into the page'
    assert not any(k.startswith('on') for _, a in doc.tags for k in a), 'an event-handler attribute made it into the page'
    assert '<script>alert' not in dom
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in dom
    assert 'http://' not in dom and 'https://' not in dom

@browser
def test_partial_store_in_browser(tmp_path):
    store = fake_store(tmp_path/'results', runs=('cnn-noaug', 'resnet18-aug'), batch=False)
    html = render_report(store, tmp_path/'partial.html')
    dom = chromium(tmp_path, '--dump-dom', html.as_uri()).stdout
    doc = Tags(); doc.feed(dom)
    assert [a.get('class') for t, a in doc.tags if t == 'tr'].count('missing') == 2 * 5
    assert 'not run' in dom and 'No batch picture in the results store' in dom
    assert sum(t == 'img' for t, _ in doc.tags) == 8 + 1 + 2  # 8 figures, the mistakes and 2 Grad-CAM

@browser
def test_print_keeps_figures_and_rows_whole(eight, tmp_path):
    "Printed by Chromium to A4: every figure and table row kept whole by the print CSS, and a PDF of a sane number of pages"
    pdf = tmp_path/'report.pdf'
    chromium(tmp_path, f'--print-to-pdf={pdf}', '--no-pdf-header-footer', eight['path'].as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b'%PDF') and 8 <= data.count(b'/Type /Page\n') + data.count(b'/Type /Page>>') + data.count(b'/Type /Page ') <= 60
    css = re.search(r'@media print \{(.*?)\n\}', eight['html'], re.S)[1]
    for rule in ('tr, figure, pre, li', 'break-inside: avoid', 'thead { display: table-header-group; }', 'h2 { break-before: page'):
        assert rule in css, rule

def test_multi_label_diagnoses_name_the_weakest_label(tmp_path):
    "A multi-label report's diagnoses table has no confusion to give: its column is each run's weakest label, with misses and false alarms"
    store = fake_store(tmp_path/'results', classes=('effusion', 'mass', 'nodule'), task='multi-label, binary-class')
    html = render_report(store, tmp_path/'r.html').read_text()
    diag = section(html, 'discussion')
    assert '<th>Weakest label</th>' in diag and 'Most frequent error' not in diag
    cap = text(re.search(r'<table class="diagnoses">.*?</table>', diag, re.S)[0])
    assert 'the label with the lowest F1, with the test images it missed and those it flagged wrongly.' in cap and 'largest confusion' not in cap
    assert re.search(r'F1 [0-9.]+, found in \d+ of [\d,]+ images that have it, flagged in \d+ of [\d,]+ that do not', text(diag))
