"""The papermill runner and the book builder, on two tiny throwaway notebooks (one fails)."""

import json

import nbformat
import pytest

from vadkit.cli import main
from vadkit.errors import ConfigError
from vadkit.pipeline.book import build_book, results_markdown
from vadkit.pipeline.notebooks import parameter_names, resolve, run_notebook


def _notebook(path, body: str, params: str = 'profile = "smoke"\nscale = None'):
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Demo"), p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def chapters(tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _notebook(nbdir / "00_ok.ipynb", "from vadkit import registry\n"
              "run = registry.Run('00_ok', {'profile': profile, 'scale': scale})\n"
              "run.log_metric('answer', 42 * (scale or 1))\nrun.log_table('t', {'columns': ['a'], 'rows': [[1]]})\n"
              "run.finish()\nprint('profile', profile)")
    _notebook(nbdir / "01_broken.ipynb", "raise ValueError('chapter exploded')")
    return nbdir


def test_parameters_are_injected(chapters, tmp_path, vadkit_home):
    out = tmp_path / "out.ipynb"
    res = run_notebook(chapters / "00_ok.ipynb", out, profile="full", parameters={"scale": 2})
    assert res.ok, res.error
    text = out.read_text()
    assert "profile full" in text
    from vadkit import registry

    assert registry.load("00_ok", "full")["metrics"]["answer"] == 84


def test_unknown_parameter_is_refused(chapters, tmp_path):
    with pytest.raises(ConfigError, match="unknown parameter"):
        run_notebook(chapters / "00_ok.ipynb", tmp_path / "o.ipynb", parameters={"sclae": 2})
    assert parameter_names(chapters / "00_ok.ipynb") == ["profile", "scale"]


def test_resolve_by_prefix(chapters):
    assert resolve("01", chapters).name == "01_broken.ipynb"
    assert resolve("00_ok", chapters).name == "00_ok.ipynb"
    with pytest.raises(ConfigError, match="no chapter notebook matches"):
        resolve("77", chapters)


def test_failing_chapter_is_reported_and_the_book_still_builds(chapters, tmp_path, vadkit_home):
    book = tmp_path / "book"
    book.mkdir()
    (book / "intro.md").write_text("# Test book\n")
    (book / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: 'off'\n")
    report = build_book("smoke", notebooks_root=chapters, book_root=book, echo=lambda m: None)
    status = {c.name: c.ok for c in report.chapters}
    assert status == {"00_ok": True, "01_broken": False}
    broken = next(c for c in report.chapters if not c.ok)
    assert "chapter exploded" in broken.error
    assert report.build_ok, report.build_log[-2000:]
    html = report.html_dir
    assert (html / "00_ok.html").exists() and (html / "01_broken.html").exists()
    assert "failed" in (html / "01_broken.html").read_text()
    assert "answer" in (html / "results.html").read_text()
    assert "FAILED" in report.format()
    times = json.loads((vadkit_home / "results" / "_book" / "smoke.json").read_text())
    assert set(times["chapters"]) == {"00_ok", "01_broken"}


def test_results_markdown_renders_registry(vadkit_home):
    from vadkit import registry

    run = registry.Run("05_x", {"profile": "smoke", "seed": 3}, data="SynthVAD", models="none")
    run.log_table("tab", {"columns": ["m", "v"], "rows": [["a", 0.5]]})
    run.finish()
    md = results_markdown("smoke")
    assert "## 05_x" in md and "| a | 0.5 |" in md and "SynthVAD" in md


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("run", "book", "results"):
        assert cmd in out


# ------------------------------------------------------------------------------------ network guard (issue 10)
GUARD_PROBE = '''
import json, socket, subprocess
results = {}
def attempt(name, fn):
    try:
        fn()
        results[name] = "allowed"
    except Exception as err:
        results[name] = f"{type(err).__name__}: {err}"
attempt("tcp", lambda: socket.create_connection(("192.0.2.1", 80), timeout=2))       # TEST-NET-1
attempt("tcp6", lambda: socket.socket(socket.AF_INET6).connect(("2001:db8::1", 80)))  # documentation range
attempt("dns", lambda: socket.getaddrinfo("example.invalid", 443))
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53)))
attempt("apt", lambda: subprocess.run(["apt-get", "download", "opencv-doc"], capture_output=True))
attempt("pip", lambda: subprocess.run(["python", "-m", "pip", "download", "x"], capture_output=True))
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
attempt("loopback", lambda: socket.create_connection(srv.getsockname(), timeout=2).close())
attempt("local-subprocess", lambda: subprocess.run(["true"], check=True))
print("GUARD", json.dumps(results))
'''


def _guard_results(out_path):
    nb = json.loads(out_path.read_text())
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))
    line = next(ln for ln in text.splitlines() if ln.startswith("GUARD "))
    return json.loads(line[len("GUARD "):])


def test_kernel_refuses_non_loopback_network(tmp_path, vadkit_home):
    """While a chapter runs, the kernel refuses every non-loopback socket, DNS lookup and network tool before
    a packet is sent; papermill's loopback ZMQ and local sockets keep working, and the chapter fails naming
    what it tried."""
    last = "\nsocket.create_connection(('192.0.2.1', 80), timeout=2)\n"
    nb = _notebook(tmp_path / "00_net.ipynb", GUARD_PROBE + last)
    res = run_notebook(nb, tmp_path / "out.ipynb", profile="smoke")
    assert not res.ok and "NetworkBlockedError" in res.error and "192.0.2.1" in res.error
    r = _guard_results(tmp_path / "out.ipynb")
    for k in ("tcp", "tcp6", "dns", "udp", "apt", "pip"):
        assert r[k].startswith("NetworkBlockedError: "), (k, r[k])
    assert "only loopback is allowed" in r["tcp"] and "apt-get" in r["apt"]
    assert r["loopback"] == "allowed" and r["local-subprocess"] == "allowed"


def test_guard_is_on_for_every_notebook_run_in_tests(tmp_path, vadkit_home):
    """conftest sets VADKIT_NO_NETWORK=1, so even a full-profile run asking for network is guarded in tests."""
    import os

    assert os.environ.get("VADKIT_NO_NETWORK") == "1"
    nb = _notebook(tmp_path / "00_net.ipynb", "import socket\nsocket.getaddrinfo('huggingface.co', 443)\n")
    res = run_notebook(nb, tmp_path / "out.ipynb", profile="full", network=True)
    assert not res.ok and "NetworkBlockedError" in res.error


def test_guard_in_process_refuses_before_connecting(monkeypatch):
    import socket

    from vadkit.pipeline import netguard

    calls = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: calls.append(addr))
    netguard.install()
    try:
        s = socket.socket()
        with pytest.raises(netguard.NetworkBlockedError, match="192.0.2.1"):
            s.connect(("192.0.2.1", 80))
        s.connect(("127.0.0.1", 9))                            # loopback reaches the (fake) original
        s.close()
        with pytest.raises(netguard.NetworkBlockedError):
            socket.getaddrinfo("example.invalid", 80)
        assert socket.getaddrinfo("localhost", 80)
    finally:
        netguard.uninstall()
    assert calls == [("127.0.0.1", 9)]                        # the refused address never reached connect
