"""Nothing ctys prints can drive the terminal: escape sequences, BEL, CSI, C1 controls and
line breaks from conf files, file names, foreign qemu names or inventory rows are shown
escaped in every output path (table, terse, JSON, per-VM lines, error lines, progress), and
rich markup in a label is shown literally."""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from ctys.cli.main import main
from ctys.errors import CtysError
from ctys.invocation import ActionCall, OutputFormat
from ctys.plugins.base import MergedAction, Placement, Plugin, RunContext
from ctys.plugins.qemu.actions import list as list_action
from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline
from ctys.plugins.qemu.vm.processes import QemuProcess
from ctys.safestream import SafeWriter, raw_stream, safe_stream
from ctys.tables import render
from ctys.textescape import printable

# OSC set-title (ESC ] 0 ; X BEL), CSI clear screen (ESC [ 2 J), one-byte C1 CSI, DEL,
# a line break, a bidi override, and rich markup.
HOSTILE = "evil\x1b]0;X\x07\x1b[2J\x9b31m\x7f\nnext\u202e[red]x[/red]"
# What must never reach the terminal from data: any C0 but newline/tab, DEL, C1, bidi.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def assert_inert(text: str) -> None:
    assert RAW_CONTROL.search(text) is None, repr(text)


# -- the pieces -----------------------------------------------------------------------


def test_printable_escapes_controls_and_keeps_the_rest() -> None:
    assert printable("plain [red] é ü 日本") == "plain [red] é ü 日本"
    assert printable("a\x1b]0;X\x07") == "a\\x1b]0;X\\x07"
    assert printable("a\nb\tc\x9b") == "a\\nb\\tc\\x9b"
    assert printable("a\nb\tc", keep="\n\t") == "a\nb\tc"
    assert printable("\u202eabc") == "\\u202eabc"


def test_safe_writer_escapes_every_write_but_keeps_lines() -> None:
    raw = io.StringIO()
    out = safe_stream(raw)
    print(f"vm: {HOSTILE}", file=out)
    out.write("two\nlines\n")
    assert_inert(raw.getvalue())
    assert raw.getvalue().endswith("[/red]\ntwo\\nlines\n")  # only the final break ends a line
    out.writelines(["three\n", "four\n\n"])
    assert raw.getvalue().endswith("\nthree\nfour\n\n")
    assert "\\x1b]0;X\\x07" in raw.getvalue()
    assert safe_stream(out) is out
    assert raw_stream(out) is raw
    assert raw_stream(raw) is raw
    assert isinstance(out, SafeWriter) and not out.isatty()
    assert safe_stream(FakeTty()).isatty()


ROWS: list[Mapping[str, object]] = [
    {"LABEL": HOSTILE, "CONF": Path(f"/vms/{HOSTILE}/x.conf"), "PID": 3}
]


@pytest.mark.parametrize("fmt", list(OutputFormat))
@pytest.mark.parametrize("tty", [False, True])
def test_render_escapes_cells_in_every_format(fmt: OutputFormat, tty: bool) -> None:
    raw: io.StringIO = FakeTty() if tty else io.StringIO()
    render(ROWS, ["LABEL", "CONF", "PID"], fmt, safe_stream(raw))
    text = raw.getvalue()
    if tty and fmt is OutputFormat.TABLE:
        # rich styles the header itself (SGR sequences); the data must add no other.
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert_inert(text)
    if fmt is OutputFormat.JSON:
        assert json.loads(text)[0]["LABEL"] == HOSTILE  # JSON escapes, the value survives
    else:
        assert "[red]x[/red]" in text  # markup is data, shown literally
        assert "evil\\x1b]0" in text and "\\x9b31m" in text
        if not tty:  # (a tty table folds long cells at its width)
            assert len(text.strip().splitlines()) == 2  # header + one row: \n is escaped


def test_terse_escaping_stays_unambiguous() -> None:
    raw = io.StringIO()
    render([{"A": "\\x1b", "B": "\x1b"}], ["A", "B"], OutputFormat.TERSE, raw, title=False)
    assert raw.getvalue() == "\\\\x1b;\\x1b\n"  # a literal backslash is doubled


def test_progress_spinner_escapes_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctys.plugins.qemu.boot import instmode

    tty = FakeTty()
    monkeypatch.setattr(sys, "stderr", tty)
    with instmode.progress(f"copying {HOSTILE}"):
        pass
    text = tty.getvalue()
    assert "\x1b]0;X" not in text and "\x07" not in text and "\x9b" not in text
    assert "\u202e" not in text and "\x7f" not in text


# -- through the entry point: every action's lines and the error line -------------------


class LoudPlugin:
    """A plugin whose action prints data-derived text the way CREATE/CANCEL/ENUMERATE do."""

    name = "QEMU"

    def actions(self) -> dict[str, str]:
        return {"CANCEL": "", "CREATE": ""}

    def help(self, action: str | None) -> str:
        return ""

    def run(self, call: ActionCall, ctx: RunContext) -> int:
        print(f"{HOSTILE}: stopped (ACPI)", file=ctx.out)
        print(f"{HOSTILE}: VNC not answering", file=ctx.err)
        if call.name == "CREATE":
            raise CtysError(f"conf {HOSTILE}: broken")
        return 0

    def merged(self, action: str) -> MergedAction | None:
        return None  # several targets: plain lines

    def placement(self, action: str) -> Placement | None:
        return None

    def forwarding(self, action: str) -> None:
        return None  # -L CF: no client of its own

    def attaches_terminal(self, call: ActionCall, *, background: bool) -> bool:
        return False


@pytest.fixture
def loud(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctys.plugins import registry

    plugin: Plugin = LoudPlugin()
    monkeypatch.setattr(registry, "load_plugin", lambda name: plugin)
    monkeypatch.setattr(registry, "resolve_types", lambda types: ("QEMU",))


@pytest.mark.parametrize("action", ["CANCEL=l:x", "CREATE=l:x"])
def test_action_lines_and_error_lines_are_escaped(
    loud: None, action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["-a", action])
    out, err = capsys.readouterr()
    assert_inert(out + err)
    assert "evil\\x1b]0;X\\x07" in out and "[red]x[/red]" in out
    if action.startswith("CREATE"):
        assert err.count("\n") == 2  # the warning line, then one error line
        assert err.splitlines()[-1].startswith("ctys: conf evil\\x1b]0;X")


def _foreign(name: str) -> QemuProcess:
    argv = ["qemu-system-x86_64", "-name", name, "-m", "64"]
    return QemuProcess(4242, "alice", 1.0, parse_qemu_cmdline(argv))


@pytest.mark.parametrize("fmt", ["", "TERSE", "MACHINE", "JSON"])
def test_list_shows_a_foreign_qemu_name_escaped(
    ctys_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    monkeypatch.setattr(list_action, "scan_qemu_processes", lambda: [_foreign(HOSTILE)])
    assert main(["-t", "QEMU", "-a", f"LIST={fmt}" if fmt else "LIST"]) == 0
    out, err = capsys.readouterr()
    assert_inert(out + err)
    if fmt == "JSON":
        assert json.loads(out)[0]["LABEL"] == HOSTILE
    else:
        assert "evil\\x1b]0" in out and "\\x07" in out and "[red]x[/red]" in out


def test_enumerate_shows_hostile_file_names_and_markup_escaped(
    ctys_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    vms = Path(ctys_env["CTYS_VMPATH"])
    good = vms / f"d{HOSTILE.replace('/', '')}" / "good.conf"
    good.parent.mkdir()
    good.write_text("#@#MAGICID-QEMU\n#@#LABEL = [red]x[/red]\n")
    bad = vms / "bad" / "bad.conf"
    bad.parent.mkdir()
    bad.write_bytes(b"#@#MAGICID-QEMU\n#@#LABEL = evil\x1b]0;X\x07\n")
    for fmt in ("", "=TERSE", "=JSON"):
        main(["-t", "QEMU", "-a", f"ENUMERATE{fmt}", "-o", "label,pname"])
        out, err = capsys.readouterr()
        assert_inert(out + err)
        assert "[red]x[/red]" in out
        assert "bad.conf:2: control character U+001B" in err  # refused, with file:line
        assert "bad.conf" not in out  # (the good conf's folder name is shown escaped)


def test_multi_line_output_of_the_entry_points_keeps_its_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ctys.plugins.qemu.newconf import cli as createconf

    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"k")
    argv = ["ctys-createConfVM", "--dir", str(tmp_path / "vms"), "--label", "j1"]
    argv += ["--kernel", str(kernel), "--disk-format", "raw", "--disk-size", "1M", "--json"]
    monkeypatch.setattr(sys, "argv", argv)
    assert createconf.main() == 0
    out = capsys.readouterr().out
    assert json.loads(out)["label"] == "j1" and out.count("\n") > 3  # indented, real lines
    assert main(["-h"]) == 0
    help_text = capsys.readouterr().out
    assert "\\n" not in help_text and help_text.count("\n") > 5


def test_inventory_rows_from_a_cachedb_import_are_shown_escaped_and_export_exactly(
    ctys_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ctys.cli import vhost
    from ctys.inventory.cachedb import export_cachedb
    from ctys.inventory.record import InventoryRecord

    record = InventoryRecord(host="h1", label=HOSTILE, pname="/v/x.conf", os="[bold]Linux")
    source = io.StringIO()
    export_cachedb([record], source)
    db = Path(ctys_env["CTYS_INVENTORY"]).with_name("in.cachedb")
    db.write_text(source.getvalue())
    assert vhost.main(["--import", str(db)]) == 0
    capsys.readouterr()
    for extra in ([], ["-t"], ["-j"]):
        assert vhost.main([*extra, "-o", "label,os", "h1"]) == 0
        out, err = capsys.readouterr()
        assert_inert(out + err)
        assert "[bold]Linux" in out
    assert main(["-t", "QEMU", "-a", "ENUMERATE", "-C", "list", "-o", "label,os"]) == 0
    out, err = capsys.readouterr()
    assert_inert(out + err)
    assert "[bold]Linux" in out and "evil\\x1b]0" in out
    # An export to stdout (the escaping writer) reads back to the very same record.
    assert vhost.main(["--export", "-", "--format", "ctys"]) == 0
    exported = capsys.readouterr().out
    assert_inert(exported)
    from ctys.inventory.cachedb import import_cachedb

    assert import_cachedb(exported, "stdout") == [record]


def test_console_attach_hint_shows_the_label_escaped(short_tmp: Path) -> None:
    import os
    import socket
    import threading

    from ctys.consoles.serial import attach_serial

    path = short_tmp / "c.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        conn.close()  # the guest side ends at once: only the hint is printed

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    master, slave = os.openpty()  # a terminal on stdin: the hint is printed
    out_r, out_w = os.pipe()
    try:
        attach_serial(path, stdin_fd=slave, stdout_fd=out_w, label=HOSTILE, linger=0)
        os.close(out_w)
        output = os.read(out_r, 65536).decode()
    finally:
        for fd in (master, slave, out_r):
            os.close(fd)
        listener.close()
    assert output.startswith("[ctys] attached to evil\\x1b]0;X\\x07")
    assert_inert(output.replace("\r\n", "\n"))
