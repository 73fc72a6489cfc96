"The rendered report, checked in a real browser: Debian's headless chromium screenshots it and dumps its DOM."
import shutil, subprocess
from html.parser import HTMLParser
from pathlib import Path
import pytest
from PIL import Image
from pathfast.report import RUNS, fake_store, render_report

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason='needs chromium (apt-get install chromium)')

TITLE = 'Browser check <script>alert(1)</script> "onerror=alert(1)'
CLASSES = ['adipose', 'background', '<script>alert(1)</script>', '"onerror=alert(1)', 'mucus']

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

@pytest.fixture(scope='module')
def report(tmp_path_factory)->Path:
    tmp = tmp_path_factory.mktemp('report')
    store = fake_store(tmp/'results', classes=CLASSES, flag='pathmnist', size=28,
                       n_samples=dict(train=9000, val=1000, test=720))
    return render_report(store, tmp/'report.html', title=TITLE)

@pytest.fixture(scope='module')
def dom(report)->str:
    return chromium(report.parent, '--dump-dom', report.as_uri()).stdout

def test_screenshot_is_not_blank(report):
    png = report.parent/'shot.png'
    chromium(report.parent, f'--screenshot={png}', '--window-size=1280,2000', report.as_uri())
    assert png.exists() and png.stat().st_size > 10_000
    img = Image.open(png).convert('RGB')
    assert img.size == (1280, 2000)
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200, 'the page looks blank'
    top = img.crop((0, 0, 1280, 400))
    assert top.convert('L').getextrema()[0] < 80, 'no dark text near the top of the page'

def test_dom_title_sections_figures(dom):
    doc = Tags(); doc.feed(dom)
    text = ''.join(doc.text)
    assert 'Browser check <script>alert(1)</script> "onerror=alert(1)' in text  # shown as text, in the title and the h1
    assert [t for t, _ in doc.tags].count('h2') == 3
    for name in ('Methods', 'Results', 'Discussion'): assert f'<h2>{name}</h2>' in dom
    imgs = [a['src'] for t, a in doc.tags if t == 'img']
    assert len(imgs) >= 6 and all(s.startswith('data:image/png;base64,') for s in imgs)
    for r in RUNS: assert r in text
    assert 'Published, not ours' in text

def test_dom_escapes_data(dom):
    doc = Tags(); doc.feed(dom)
    assert not any(t == 'script' for t, _ in doc.tags), 'a <script> element made it into the page'
    assert not any(k.startswith('on') for _, a in doc.tags for k in a), 'an event-handler attribute made it into the page'
    assert '<script>alert' not in dom
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in dom
    assert 'http://' not in dom and 'https://' not in dom

def test_partial_store_in_browser(tmp_path):
    store = fake_store(tmp_path/'results', runs=('cnn-noaug', 'resnet-aug'), batch=False)
    html = render_report(store, tmp_path/'partial.html')
    dom = chromium(tmp_path, '--dump-dom', html.as_uri()).stdout
    doc = Tags(); doc.feed(dom)
    assert [a.get('class') for t, a in doc.tags if t == 'tr'].count('missing') == 4
    assert 'not run' in dom and 'No batch picture in the results store' in dom
    assert sum(t == 'img' for t, _ in doc.tags) == 6
