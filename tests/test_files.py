"""The one writer (rfbjax.base.files.atomic_write_bytes): whole files or none, never through a link."""

from __future__ import annotations

import os

import numpy as np
import pytest

from rfbjax.base.files import atomic_write_bytes


def test_writes_and_replaces_whole_files(tmp_path):
    p = tmp_path / "sub" / "out.bin"
    atomic_write_bytes(str(p), b"first")
    atomic_write_bytes(str(p), b"second")
    assert p.read_bytes() == b"second"
    assert sorted(os.listdir(p.parent)) == ["out.bin"]          # no temporary file left
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(p).st_mode & 0o777 == 0o666 & ~mask


def test_refuses_a_link_at_the_target(tmp_path):
    victim = tmp_path / "poster.png"
    victim.write_bytes(b"the user's")
    link = tmp_path / "figure.png"
    link.symlink_to(victim)
    with pytest.raises(OSError, match="symbolic link") as err:
        atomic_write_bytes(str(link), b"ours")
    assert err.value.filename == str(link)
    assert victim.read_bytes() == b"the user's" and link.is_symlink()
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OSError, match="symbolic link"):
        atomic_write_bytes(str(dangling), b"ours")
    assert not (tmp_path / "nowhere").exists()
    assert sorted(os.listdir(tmp_path)) == ["dangling.json", "figure.png", "poster.png"]


def test_a_folder_is_refused_and_nothing_is_left(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError, match="directory"):
        atomic_write_bytes(str(tmp_path / "d"), b"x")
    assert os.listdir(tmp_path / "d") == [] and os.listdir(tmp_path) == ["d"]


def test_figures_and_audio_go_through_it(tmp_path):
    from rfbjax.errors import InputError
    from rfbjax.report.audio import write_wav
    from rfbjax.report.plots.common import pyplot, save_figure

    plt = pyplot()
    (tmp_path / "elsewhere.png").write_bytes(b"keep")
    (tmp_path / ".f.tmp.png").symlink_to(tmp_path / "elsewhere.png")   # the old fixed temp name
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    [path] = save_figure(fig, str(tmp_path), "f")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "elsewhere.png").read_bytes() == b"keep"
    (tmp_path / "a.wav").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(InputError, match="symbolic link"):
        write_wav(str(tmp_path / "a.wav"), np.ones(16), 8000)
    assert (tmp_path / "elsewhere.png").read_bytes() == b"keep"
