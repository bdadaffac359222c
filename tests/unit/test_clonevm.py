"""ctys-cloneVM: the conf rewrite (label/UUID/MAC/disk lines replaced, every other line
kept), its option parsing, the qemu-img argv it runs, and clones of stopped VM folders made
with the real qemu-img (refusals leave nothing behind)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctys.errors import ConfError, CtysError, UsageError
from ctys.inventory.store import Inventory
from ctys.plugins.qemu.clone import cli
from ctys.plugins.qemu.clone.clonevm import CloneMode, CloneRequest, clone_vm
from ctys.plugins.qemu.clone.imgargv import full_argv, info_argv, linked_argv
from ctys.plugins.qemu.clone.rewrite import NewIdentity, rewrite_conf
from ctys.plugins.qemu.confs.mapping import load_vm_config

UUID_OLD = "5a2b7c1e-93d4-4c0e-9f6a-0b1c2d3e4f50"
UUID_NEW = "0b6f2f8e-4d7c-4a5e-9a8e-3c1f0e2d7b11"
CONF = f"""\
#!/bin/sh
#@#MAGICID-QEMU
#@#LABEL = src
#@#UUID = {UUID_OLD}
#@#MAC0 = 52:54:00:11:22:33
#@#MAC1=52:54:00:11:22:34
#@#UNKNOWNKEY = keep me
# a comment naming src and 52:54:00:11:22:33
MEMSIZE=256
  export HDDBOOTIMAGE="${{CTYSWRAPPERPATH}}/src.qcow2"
OTHER=x; MORE=y
"""
NEW = NewIdentity(
    "dst",
    UUID_NEW,
    {"MAC0": "52:54:00:aa:bb:01", "MAC1": "52:54:00:aa:bb:02"},
    {"HDDBOOTIMAGE": "dst.qcow2"},
)


def test_rewrite_replaces_identity_and_keeps_every_other_line() -> None:
    old = CONF.split("\n")
    new = rewrite_conf(CONF, Path("/vms/src/src.conf"), NEW).split("\n")
    assert len(new) == len(old)
    changed = {i: line for i, (line, was) in enumerate(zip(new, old, strict=True)) if line != was}
    assert changed == {
        2: "#@#LABEL = dst",
        3: f"#@#UUID = {UUID_NEW}",
        4: "#@#MAC0 = 52:54:00:aa:bb:01",
        5: "#@#MAC1 = 52:54:00:aa:bb:02",
        9: "  export HDDBOOTIMAGE=dst.qcow2",
    }


def test_rewrite_changes_variables_and_keys_that_say_the_same() -> None:
    text = "#@#LABEL = a\nLABEL=a\nMAC=52:54:00:00:00:01\nUUID='" + UUID_OLD + "'\n"
    new = NewIdentity("b", UUID_NEW, {"MAC": "52:54:00:00:00:09"}, {})
    assert rewrite_conf(text, Path("/v/a/a.conf"), new) == (
        f"#@#LABEL = b\nLABEL=b\nMAC=52:54:00:00:00:09\nUUID={UUID_NEW}\n"
    )


def test_rewrite_keeps_the_shell_code_of_a_0111_ctys_file() -> None:
    text = '#@#LABEL = a\nif [ -n "$X" ]; then\n  echo hi\nfi\n#@#UUID = ' + UUID_OLD + "\n"
    new = NewIdentity("b", UUID_NEW, {}, {})
    out = rewrite_conf(text, Path("/v/a/a.ctys"), new)
    assert out == text.replace("LABEL = a", "LABEL = b").replace(UUID_OLD, UUID_NEW)


def test_rewrite_refuses_an_assignment_sharing_its_line() -> None:
    text = "#@#LABEL = a\nX=1 HDDBOOTIMAGE=a.qcow2\n"
    with pytest.raises(ConfError, match="HDDBOOTIMAGE"):
        rewrite_conf(
            text, Path("/v/a/a.conf"), NewIdentity("b", UUID_NEW, {}, {"HDDBOOTIMAGE": "b"})
        )


def test_rewrite_quotes_what_it_writes() -> None:
    new = NewIdentity("b", UUID_NEW, {}, {"HDDBOOTIMAGE": "my disk $x.qcow2"})
    out = rewrite_conf("HDDBOOTIMAGE=a.qcow2\n", Path("/v/a/a.conf"), new)
    assert out == "HDDBOOTIMAGE='my disk $x.qcow2'\n"


_OTHER_LINE = st.one_of(
    st.from_regex(r"# [a-z0-9 :=]{0,20}", fullmatch=True),
    st.from_regex(r"[A-Z][A-Z0-9_]{0,8}=[a-z0-9./]{0,10}", fullmatch=True).filter(
        lambda s: (
            s.split("=")[0] not in {"LABEL", "UUID", "MAC", "HDDBOOTIMAGE"}
            and not s.startswith("MAC")
            and not s.startswith("HDD")
        )
    ),
    st.just(""),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_OTHER_LINE, max_size=8), st.lists(_OTHER_LINE, max_size=8))
def test_rewrite_keeps_any_other_lines(before: list[str], after: list[str]) -> None:
    text = "\n".join([*before, "#@#LABEL = a", f"#@#UUID = {UUID_OLD}", *after]) + "\n"
    out = rewrite_conf(text, Path("/v/a/a.conf"), NewIdentity("b", UUID_NEW, {}, {}))
    assert out.split("\n") == [
        *before, "#@#LABEL = b", f"#@#UUID = {UUID_NEW}", *after, ""
    ]  # fmt: skip


def test_qemu_img_argv() -> None:
    src, dst = Path("/v/a/a.qcow2"), Path("/v/b/b.qcow2")
    assert linked_argv(src, "qcow2", dst) == [
        "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "/v/a/a.qcow2", "--", "/v/b/b.qcow2"
    ]  # fmt: skip
    assert full_argv(src, "raw", dst, "qcow2", None) == [
        "convert", "-q", "-f", "raw", "-O", "qcow2", "--", "/v/a/a.qcow2", "/v/b/b.qcow2"
    ]  # fmt: skip
    assert full_argv(src, "qcow2", dst, "qcow2", "s1")[6:9] == ["-U", "-l", "snapshot.name=s1"]
    assert info_argv(src, force_share=False) == ["info", "--output=json", "--", "/v/a/a.qcow2"]
    assert "-U" in info_argv(src, force_share=True)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A stopped VM folder vms/src with a qcow2 disk."""
    folder = tmp_path / "vms" / "src"
    folder.mkdir(parents=True)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", str(folder / "src.qcow2"), "1M"], check=True
    )
    (folder / "src.conf").write_text(CONF)
    return folder / "src.conf"


def test_options_default_to_a_full_copy_beside_the_source(source: Path) -> None:
    req, as_json, version = cli.request_from_args([str(source.parent), "--label", "dst"])
    assert req == CloneRequest(
        source=source,
        label="dst",
        directory=source.parent.parent / "dst",
        mode=CloneMode.FULL,
        inventory=req.inventory,
    )
    assert req.inventory is not None and not as_json and not version
    req, as_json, _ = cli.request_from_args(
        [str(source), "--label=d", "--linked", "--dir", "/x/y", "--no-inventory", "--json",
         "--uuid", UUID_NEW.upper(), "--mac", "52:54:00:AA:00:01", "-t", "qemu"]
    )  # fmt: skip
    assert (req.mode, req.directory, req.inventory, as_json) == (
        CloneMode.LINKED, Path("/x/y"), None, True
    )  # fmt: skip
    assert (req.uuid, req.mac) == (UUID_NEW, "52:54:00:aa:00:01")
    # The original's --directory is the base the clone's LABEL folder goes in.
    req, _, _ = cli.request_from_args([str(source), "--label=d", "--directory=/base"])
    assert req.directory == Path("/base/d")


def test_label_old_is_found_in_the_current_folder_first(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTYS_VMPATH", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(source.parent)
    req, _, _ = cli.request_from_args(["--label-old=src", "--label=d"])
    assert req.source == source.parent / "src.conf"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CtysError, match="--label-old=src: no VM with this label"):
        cli.request_from_args(["--label-old=src", "--label=d"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["SRC"], "--label=NEW is required"),
        (["--label", "d"], "name the source VM"),
        (["SRC", "--label-old", "x", "--label", "d"], "name the source VM"),
        (["SRC", "--label", "d", "--linked", "--snapshot", "s"], "needs --full"),
        (["SRC", "--label", "d", "--linked", "--full"], "not allowed with"),
        (["SRC", "--label", "d", "-t", "XEN"], "QEMU VMs only"),
        (["SRC", "--label", "d", "--mac", "01:00:00:00:00:01"], "multicast"),
        (["SRC", "--label", "../d"], "--label"),
        (["SRC", "--label", "d", "-f"], "-f: never replaces an existing folder"),
        (["SRC", "--label", "d", "--ip=10.0.0.2"], "--ip: the clone's IP"),
        (["SRC", "--label", "d", "--no-create-image"], "--no-create-image: a clone without"),
        (["SRC", "--label", "d", "--dir", "/a", "--directory=/b"], "not allowed with"),
    ],
)
def test_bad_options_are_one_usage_error(source: Path, argv: list[str], message: str) -> None:
    argv = [str(source) if word == "SRC" else word for word in argv]
    with pytest.raises(UsageError, match=message):
        cli.request_from_args(argv)


def test_full_and_linked_clones_of_a_stopped_vm(source: Path, tmp_path: Path) -> None:
    inv = tmp_path / "inv.sqlite"
    full = clone_vm(CloneRequest(source, "full1", tmp_path / "vms" / "full1", inventory=inv))
    linked = clone_vm(
        CloneRequest(source, "lnk1", tmp_path / "vms" / "lnk1", CloneMode.LINKED, inventory=inv)
    )
    for made in (full, linked):
        vm = load_vm_config(made.conf)
        assert (vm.label, vm.uuid) == (made.label, made.uuid) != ("src", UUID_OLD)
        assert vm.hdd == made.disks == (made.directory / f"{made.label}.qcow2",)
        assert set(made.macs) == {"MAC0", "MAC1"} and "52:54:00:11:22:33" not in made.macs.values()
        assert all(mac.startswith("52:54:00:") for mac in made.macs.values())
        assert sorted(p.name for p in made.directory.iterdir()) == sorted(
            [made.conf.name, made.disks[0].name]
        )
    info = json.loads(
        subprocess.run(["qemu-img", "info", "--output=json", str(linked.disks[0])],
                       capture_output=True, text=True, check=True).stdout
    )  # fmt: skip
    assert info["backing-filename"] == str(source.parent / "src.qcow2")
    assert linked.backing == (source.parent / "src.qcow2",) and full.backing == ()
    with Inventory.open(inv) as db:
        assert {r.label for r in db.all()} == {"full1", "lnk1"}
    assert sorted(p.name for p in (tmp_path / "vms").iterdir()) == ["full1", "lnk1", "src"]


def test_the_0111_layout_gets_a_new_wrapper(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "old.ctys").write_text(f"#@#MAGICID-QEMU\n#@#LABEL = old\n#@#UUID = {UUID_OLD}\n")
    (folder / "old.sh").write_text("#!/bin/sh\n")
    made = clone_vm(CloneRequest(folder / "old.ctys", "new", tmp_path / "new"))
    assert sorted(p.name for p in made.directory.iterdir()) == ["new.ctys", "new.sh"]
    assert 'conf="$CTYSWRAPPERPATH/new.ctys"' in (made.directory / "new.sh").read_text()


def test_refusals_leave_nothing_behind(source: Path, tmp_path: Path) -> None:
    vms = tmp_path / "vms"
    (vms / "taken").mkdir()
    with pytest.raises(CtysError, match="exists already"):
        clone_vm(CloneRequest(source, "taken", vms / "taken"))
    with pytest.raises(CtysError, match="no internal snapshot 'nosuch'"):
        clone_vm(CloneRequest(source, "d", vms / "d", snapshot="nosuch"))
    (source.parent / "src.qcow2").unlink()
    with pytest.raises(CtysError, match="cannot read disk"):
        clone_vm(CloneRequest(source, "d", vms / "d"))
    with pytest.raises(CtysError, match="cannot read"):
        clone_vm(CloneRequest(vms / "nosuch.conf", "d", vms / "d"))
    assert sorted(p.name for p in vms.iterdir()) == ["src", "taken"]


def test_cli_refuses_a_label_in_the_inventory(source: Path, tmp_path: Path) -> None:
    inv = tmp_path / "inv.sqlite"
    out, err = io.StringIO(), io.StringIO()
    argv = [str(source), "--label", "c1", "--inventory", str(inv), "--dir", str(tmp_path / "c1")]
    assert cli.run(argv, out, err) == 0
    assert out.getvalue() == f"{tmp_path / 'c1' / 'c1.conf'}\n"
    argv[-1] = str(tmp_path / "c2")
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(argv, out, err) == 1
    assert err.getvalue() == "ctys-cloneVM: label c1 is in the inventory already\n"
    assert not (tmp_path / "c2").exists()
