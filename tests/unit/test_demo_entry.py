"""ctys-demo goes through the same entry-point guard as the other commands: an error is
one escaped line (a CtysError or a plain OSError), Ctrl-C exit 130, no traceback."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from ctys.errors import CtysError
from ctys.plugins.qemu.demo import cli as demo


def _raising(exc: BaseException) -> object:
    def build() -> object:
        raise exc

    return build


def test_ctys_error_is_one_escaped_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "build_guest", _raising(CtysError("no \x1b[2J kernel")))
    assert demo.main([]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "ctys-demo: no \\x1b[2J kernel\n"


def test_os_error_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/cache/guest")
    monkeypatch.setattr(demo, "build_guest", _raising(full))
    assert demo.main([]) == 1
    assert capsys.readouterr().err == "ctys-demo: /cache/guest: No space left on device\n"


def test_ctrl_c_is_exit_130(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "build_guest", _raising(KeyboardInterrupt()))
    assert demo.main([]) == 130


def test_success_lines_go_through_the_escaping_writer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "de\x1bmo"
    monkeypatch.setattr(demo, "build_guest", lambda: object())
    monkeypatch.setattr(demo, "default_demo_dir", lambda: folder)
    monkeypatch.setattr(demo, "write_demo_conf", lambda directory, guest: directory / "demo.conf")
    assert demo.main([]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert f"demo VM conf: {tmp_path}/de\\x1bmo/demo.conf\n" in out
    assert f"BASEPATH:{tmp_path}/de\\x1bmo,CONSOLE:CLI\n" in out


def test_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--bogus"]) == 2
    assert demo.main(["--real", "x"]) == 2
    assert demo.main(["--help"]) == 0
    assert capsys.readouterr().err.splitlines() == [demo.USAGE] * 3


def test_real_demo_boots_the_real_guest_and_prints_the_ssh_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from ctys.plugins.qemu.demo import realdemo
    from ctys.plugins.qemu.images.realsystem import RealGuestImage

    image = RealGuestImage(tmp_path / "disk.qcow2", tmp_path / "id_ed25519")
    ran: list[list[str]] = []
    monkeypatch.setattr(demo, "default_demo_dir", lambda: tmp_path / "demo")
    monkeypatch.setattr(realdemo, "build_real_guest", lambda log: image)
    monkeypatch.setattr(realdemo, "free_port", lambda preferred: 2299)

    def fake_conf(folder: Path, img: RealGuestImage, label: str, *, ssh_port: int) -> Path:
        folder.mkdir(parents=True)
        conf = folder / f"{label}.conf"
        conf.write_text(f"#@#HOSTFWD = tcp:127.0.0.1:{ssh_port}-:22\n")
        return conf

    monkeypatch.setattr(realdemo, "write_real_conf", fake_conf)
    monkeypatch.setattr(
        realdemo, "run_command", lambda argv, timeout: ran.append(argv) or "real: started\n"
    )
    assert demo.main(["--real"]) == 0
    out = capsys.readouterr().out
    [argv] = ran
    assert argv[-4:-2] == ["-a", f"CREATE=l:real,BASEPATH:{tmp_path}/demo/real,BOOTMODE:HDD,"
                           "CONSOLE:CLI,WAIT:ctys-real login:%600"]  # fmt: skip
    assert "real: started\n" in out
    assert f"ssh -i {tmp_path}/id_ed25519 -p 2299 " in out
    assert out.rstrip().endswith(f"CANCEL=l:real,BASEPATH:{tmp_path}/demo/real")
    # Again: the conf's forward is kept (the ssh command printed before still works).
    monkeypatch.setattr(realdemo, "free_port", lambda preferred: 4000)
    monkeypatch.setattr(realdemo, "write_real_conf", lambda folder, img, label, *, ssh_port: None)
    assert demo.main(["--real"]) == 0
    assert "-p 2299 " in capsys.readouterr().out
